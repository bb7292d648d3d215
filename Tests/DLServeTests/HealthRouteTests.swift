import DLServe
import DLServeTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

/// Health, request ids, unknown routes, metrics and the OpenAPI document, in process.
final class HealthRouteTests: XCTestCase {
    func started(_ backend: FakeBackend = FakeBackend()) async throws -> FakeBackend {
        try await backend.start()
        return backend
    }

    func testLiveAndReady() async throws {
        let backend = try await started()
        let state = ServeLifecycleState()
        try await makeTestApplication(backend: backend, state: state).test(.router) { client in
            try await client.execute(uri: "/v2/health/live", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(try TestJSON.object(response.body)["live"] as? Bool, true)
            }
            try await client.execute(uri: "/v2/health/ready", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(try TestJSON.object(response.body)["ready"] as? Bool, true)
            }
            await backend.set(ready: false)
            try await client.execute(uri: "/v2/health/ready", method: .get) { try assertError($0, .serviceUnavailable, "not_ready") }
            try await client.execute(uri: "/readyz", method: .get) { try assertError($0, .serviceUnavailable, "not_ready") }
            await backend.set(ready: true)
            state.beginDraining()
            try await client.execute(uri: "/v2/health/ready", method: .get) { try assertError($0, .serviceUnavailable, "shutting_down") }
            // Still live while draining.
            try await client.execute(uri: "/healthz", method: .get) { XCTAssertEqual($0.status, .ok) }
        }
    }

    func testRequestIDIsEchoedOrGenerated() async throws {
        try await makeTestApplication(backend: try await started()).test(.router) { client in
            try await client.execute(uri: "/v2/health/live", method: .get, headers: [.init("X-Request-ID")!: "client-id-1"]) { response in
                XCTAssertEqual(response.headers[.init("X-Request-ID")!], "client-id-1")
            }
            try await client.execute(uri: "/v2/health/live", method: .get) { response in
                let id = try XCTUnwrap(response.headers[.init("X-Request-ID")!])
                XCTAssertNotNil(UUID(uuidString: id), id)
            }
            // A request id that is not printable ASCII is replaced.
            try await client.execute(uri: "/v2/health/live", method: .get, headers: [.init("X-Request-ID")!: "bad id"]) { response in
                XCTAssertNotEqual(response.headers[.init("X-Request-ID")!], "bad id")
            }
            // Errors carry it too.
            try await client.execute(uri: "/nowhere", method: .get, headers: [.init("X-Request-ID")!: "r2"]) { response in
                XCTAssertEqual(response.headers[.init("X-Request-ID")!], "r2")
            }
        }
    }

    func testUnknownRoutesAnswerJSON404() async throws {
        try await makeTestApplication(backend: try await started()).test(.router) { client in
            try await client.execute(uri: "/nowhere", method: .get) { try assertError($0, .notFound, "not_found") }
            try await client.execute(uri: "/v1/models/fashion/classify", method: .get) { try assertError($0, .notFound, "not_found") }
            try await client.execute(uri: "/v2/models/fashion/infer", method: .delete) { try assertError($0, .notFound, "not_found") }
        }
    }

    func testDeclaredContentLengthOverLimitIs413BeforeReading() async throws {
        let settings = HTTPSettings(maxBodyBytes: 1024)
        try await makeTestApplication(backend: try await started(), settings: settings).test(.router) { client in
            try await client.execute(
                uri: "/v2/models/fashion/infer", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(repeating: UInt8(ascii: " "), count: 5000)
            ) { try assertError($0, .contentTooLarge, "payload_too_large") }
        }
    }

    func testMetricsExposition() async throws {
        let metrics = ServeMetrics()
        try await makeTestApplication(backend: try await started(), metrics: metrics).test(.router) { client in
            try await client.execute(uri: "/v1/models/fashion/classify", method: .post, headers: TestJSON.headers, body: TestJSON.body(["pixels": uniformPixels(0.3)])) {
                XCTAssertEqual($0.status, .ok)
            }
            try await client.execute(uri: "/v1/models/nope/classify", method: .post, headers: TestJSON.headers, body: TestJSON.body(["pixels": uniformPixels(0.3)])) {
                XCTAssertEqual($0.status, .notFound)
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(response.headers[.contentType], "text/plain; version=0.0.4; charset=utf-8")
                let text = String(buffer: response.body)
                XCTAssertTrue(text.contains(#"dlserve_model_requests_total{model="fashion",status="200"} 1"#), text)
                XCTAssertTrue(text.contains(#"dlserve_model_requests_total{model="nope",status="404"} 1"#), text)
                XCTAssertTrue(text.contains(#"dlserve_http_requests_total{route="/v1/models/{name}/classify",method="POST",status="200"} 1"#), text)
                XCTAssertTrue(text.contains("dlserve_model_request_duration_seconds_bucket{model=\"fashion\""), text)
                XCTAssertTrue(text.contains(#"dlserve_model_state{model="fashion",state="ready"} 1.0"#), text)
                XCTAssertTrue(text.contains(#"dlserve_model_state{model="fashion",state="loading"} 0.0"#), text)
                let rss = text.split(separator: "\n").first { $0.hasPrefix("dlserve_process_resident_memory_bytes ") }
                let bytes = try XCTUnwrap(rss.flatMap { Double($0.split(separator: " ")[1]) })
                XCTAssertGreaterThan(bytes, 1_000_000)
            }
            // The series are cached after the first request: a second one counts in the same series.
            try await client.execute(uri: "/v1/models/fashion/classify", method: .post, headers: TestJSON.headers, body: TestJSON.body(["pixels": uniformPixels(0.3)])) {
                XCTAssertEqual($0.status, .ok)
            }
            var cpu: [Double] = []
            for _ in 0..<2 {
                try await client.execute(uri: "/metrics", method: .get) { response in
                    let text = String(buffer: response.body)
                    XCTAssertTrue(text.contains(#"dlserve_model_requests_total{model="fashion",status="200"} 2"#), text)
                    XCTAssertTrue(text.contains(#"dlserve_http_requests_total{route="/v1/models/{name}/classify",method="POST",status="200"} 2"#), text)
                    let line = text.split(separator: "\n").first { $0.hasPrefix("dlserve_process_cpu_seconds_total ") }
                    cpu.append(try XCTUnwrap(line.flatMap { Double($0.split(separator: " ")[1]) }, text))
                }
                // Burn a little CPU so the counter moves between the scrapes.
                var x = 0.0
                for i in 0..<2_000_000 { x += Double(i).squareRoot() }
                XCTAssertGreaterThan(x, 0)
            }
            XCTAssertGreaterThan(cpu[0], 0)
            XCTAssertGreaterThan(cpu[1], cpu[0])
        }
    }

    func testOpenAPIDocumentIsServedAndMatchesTheRepositoryFile() async throws {
        let repoFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("openapi.yaml")
        let onDisk = try String(contentsOf: repoFile, encoding: .utf8)
        XCTAssertEqual(OpenAPIDocument.yaml, onDisk, "openapi.yaml changed: run scripts/embed-openapi.sh")
        try await makeTestApplication(backend: try await started()).test(.router) { client in
            try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(response.headers[.contentType], "application/yaml; charset=utf-8")
                XCTAssertEqual(String(buffer: response.body), onDisk)
            }
        }
    }
}
