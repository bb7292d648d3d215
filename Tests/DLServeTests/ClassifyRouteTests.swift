import DLServe
import DLServeTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

/// `POST /v1/models/{name}[/versions/{v}]/classify`, in process against the router.
final class ClassifyRouteTests: XCTestCase {
    func classify(
        _ backend: FakeBackend = FakeBackend(), settings: HTTPSettings = HTTPSettings(),
        uri: String = "/v1/models/fashion/classify", headers: HTTPFields = TestJSON.headers, body: ByteBuffer,
        check: @escaping @Sendable (TestResponse) async throws -> Void
    ) async throws {
        let app = makeTestApplication(backend: backend, settings: settings)
        try await app.test(.router) { client in
            try await client.execute(uri: uri, method: .post, headers: headers, body: body) { response in
                try await check(response)
            }
        }
    }

    func testPixelsJSONIsClassified() async throws {
        // Uniform 0.3: the fake scores class 10 * 0.3 = 3 highest.
        try await classify(body: TestJSON.body(["pixels": uniformPixels(0.3)])) { response in
            XCTAssertEqual(response.status, .ok)
            let answer = try TestJSON.decode(ClassifyAnswer.self, response.body)
            XCTAssertEqual(answer.model, "fashion")
            XCTAssertEqual(answer.version, 2)
            XCTAssertEqual(answer.predictions.count, 5)
            XCTAssertEqual(answer.predictions[0].label, "Dress")
            XCTAssertEqual(answer.predictions[0].index, 3)
            // softmax of -|k - 3| over k = 0...9 at k = 3: 1 / (1 + 2e^-1 + 2e^-2 + 2e^-3 + e^-4 + ... + e^-6).
            let e = { (x: Double) -> Double in Foundation.exp(x) }
            let expected = 1 / (1 + 2 * e(-1) + 2 * e(-2) + 2 * e(-3) + e(-4) + e(-5) + e(-6))
            XCTAssertEqual(Double(answer.predictions[0].probability), expected, accuracy: 1e-5)
            XCTAssertFalse(answer.request_id.isEmpty)
            XCTAssertGreaterThanOrEqual(answer.timing.total_ms, answer.timing.inference_ms)
        }
    }

    func testInputsFlatArrayAndTopK() async throws {
        let flat = [Float](repeating: 0.5, count: 784)
        try await classify(uri: "/v1/models/fashion/classify?top_k=3", body: TestJSON.body(["inputs": flat])) { response in
            XCTAssertEqual(response.status, .ok)
            let answer = try TestJSON.decode(ClassifyAnswer.self, response.body)
            XCTAssertEqual(answer.predictions[0].index, 5)
            XCTAssertEqual(Set(answer.predictions.dropFirst().map(\.index)), [4, 6])  // tied at -1
            XCTAssertEqual(answer.predictions.count, 3)
            XCTAssertEqual(answer.predictions[0].label, "Sandal")
        }
    }

    func testPinnedVersion() async throws {
        try await classify(uri: "/v1/models/fashion/versions/1/classify", body: TestJSON.body(["pixels": uniformPixels(0.1)])) { response in
            XCTAssertEqual(response.status, .ok)
            let answer = try TestJSON.decode(ClassifyAnswer.self, response.body)
            XCTAssertEqual(answer.version, 1)
            XCTAssertEqual(answer.predictions[0].label, "Trouser")
        }
    }

    func testRawPNGAndSniffedOctetStream() async throws {
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0, count: 64)
        try await classify(headers: [.contentType: "image/png"], body: ByteBuffer(bytes: png)) { response in
            XCTAssertEqual(response.status, .ok)
        }
        // curl --data-binary without -H sends application/x-www-form-urlencoded.
        try await classify(headers: [.contentType: "application/x-www-form-urlencoded"], body: ByteBuffer(bytes: png)) { response in
            XCTAssertEqual(response.status, .ok)
        }
        let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + [UInt8](repeating: 1, count: 64)
        try await classify(headers: [.contentType: "application/octet-stream"], body: ByteBuffer(bytes: jpeg)) { response in
            XCTAssertEqual(response.status, .ok)
        }
    }

    func testBase64Image() async throws {
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3]
        try await classify(body: TestJSON.body(["image": Data(png).base64EncodedString()])) { response in
            XCTAssertEqual(response.status, .ok)
        }
        try await classify(body: TestJSON.body(["image": "%%%"])) { response in
            try assertError(response, .badRequest, "bad_request")
        }
        try await classify(body: TestJSON.body(["image": Data("GIF89a".utf8).base64EncodedString()])) { response in
            try assertError(response, .unsupportedMediaType, "unsupported_media_type")
        }
    }

    func testErrorsOfTheRequest() async throws {
        let pixels = TestJSON.body(["pixels": uniformPixels(0.3)])
        try await classify(uri: "/v1/models/nope/classify", body: pixels) { try assertError($0, .notFound, "unknown_model") }
        try await classify(uri: "/v1/models/fashion/versions/9/classify", body: pixels) { try assertError($0, .notFound, "version_not_found") }
        try await classify(uri: "/v1/models/fashion/versions/abc/classify", body: pixels) { try assertError($0, .badRequest, "bad_request") }
        try await classify(uri: "/v1/models/fashion/classify?top_k=0", body: pixels) { try assertError($0, .badRequest, "bad_request") }
        try await classify(uri: "/v1/models/fashion/classify?top_k=x", body: pixels) { try assertError($0, .badRequest, "bad_request") }
        try await classify(body: ByteBuffer(string: "{\"pixels\": [1, 2")) { try assertError($0, .badRequest, "invalid_json") }
        try await classify(body: ByteBuffer()) { try assertError($0, .badRequest, "invalid_json") }
        try await classify(body: ByteBuffer(string: "{\"pixels\": [[1, 2], [3]]}")) { try assertError($0, .badRequest, "invalid_json") }
        try await classify(body: ByteBuffer(string: "{\"pixels\": \"no\"}")) { try assertError($0, .badRequest, "invalid_json") }
        try await classify(body: TestJSON.body(["pixels": [[0.5, 0.5]]])) { try assertError($0, .badRequest, "invalid_input") }
        try await classify(body: TestJSON.body(["pixels": uniformPixels(0.3), "inputs": [1]])) { try assertError($0, .badRequest, "bad_request") }
        try await classify(body: TestJSON.body([String: Any]())) { try assertError($0, .badRequest, "bad_request") }
        try await classify(headers: [.contentType: "text/plain"], body: ByteBuffer(string: "hello")) {
            try assertError($0, .unsupportedMediaType, "unsupported_media_type")
        }
        try await classify(headers: [.contentType: "application/octet-stream"], body: ByteBuffer(string: "hello")) {
            try assertError($0, .unsupportedMediaType, "unsupported_media_type")
        }
    }

    func testBodyOverTheLimitIs413() async throws {
        let settings = HTTPSettings(maxBodyBytes: 2048)
        try await classify(settings: settings, body: TestJSON.body(["pixels": uniformPixels(0.3)])) { response in
            try assertError(response, .contentTooLarge, "payload_too_large")
        }
    }

    func testFullQueueAnswers429WithRetryAfter() async throws {
        let backend = FakeBackend(maxInFlight: 0)
        try await classify(backend, body: TestJSON.body(["pixels": uniformPixels(0.3)])) { response in
            try assertError(response, .tooManyRequests, "queue_full")
            XCTAssertEqual(response.headers[.retryAfter], "1")
        }
    }

    func testSlowInferenceTimesOutWith504AndIsCancelled() async throws {
        let backend = FakeBackend(inferenceDelay: .seconds(5))
        let settings = HTTPSettings(requestTimeout: .milliseconds(100))
        let start = ContinuousClock.now
        try await classify(backend, settings: settings, body: TestJSON.body(["pixels": uniformPixels(0.3)])) { response in
            try assertError(response, .gatewayTimeout, "timeout")
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(3))
        let cancelled = await backend.cancelled
        XCTAssertEqual(cancelled, 1)
    }

    func testUnloadedModelAnswers503() async throws {
        let backend = FakeBackend(models: [.init(name: "fashion", versions: [1: "unloaded"], serving: nil)])
        try await classify(backend, body: TestJSON.body(["pixels": uniformPixels(0.3)])) { response in
            try assertError(response, .serviceUnavailable, "model_not_ready")
        }
    }
}

/// Every error of every endpoint has the one shape {"error": "...", "code": "..."}.
func assertError(_ response: TestResponse, _ status: HTTPResponse.Status, _ code: String, file: StaticString = #filePath, line: UInt = #line) throws {
    XCTAssertEqual(response.status, status, String(buffer: response.body), file: file, line: line)
    XCTAssertEqual(response.headers[.contentType], "application/json; charset=utf-8", file: file, line: line)
    let object = try TestJSON.object(response.body)
    XCTAssertEqual(Set(object.keys), ["error", "code"], file: file, line: line)
    XCTAssertEqual(object["code"] as? String, code, file: file, line: line)
    XCTAssertFalse((object["error"] as? String ?? "").isEmpty, file: file, line: line)
}
