import DLServing
import DLServe
import DLServeTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

/// `/v1/models` management and the bearer token, in process.
final class ManagementRouteTests: XCTestCase {
    func testListAndShowModels() async throws {
        let backend = FakeBackend(models: [
            .init(name: "fashion", versions: [1: "ready", 2: "ready"], serving: 2),
            .init(name: "digits", versions: [3: "failed"], serving: nil, error: "weights truncated"),
        ])
        try await makeTestApplication(backend: backend).test(.router) { client in
            try await client.execute(uri: "/v1/models", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                let list = try TestJSON.decode([String: [ModelStatus]].self, response.body)
                let models = try XCTUnwrap(list["models"])
                XCTAssertEqual(models.map(\.name), ["digits", "fashion"])
                XCTAssertEqual(models[0].state, "failed")
                XCTAssertEqual(models[0].lastError, "weights truncated")
                XCTAssertEqual(models[0].versions, [VersionStatus(version: 3, state: .failed("weights truncated"), lastError: "weights truncated")])
                XCTAssertEqual(models[1].defaultVersion, 2)
            }
            try await client.execute(uri: "/v1/models/fashion", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                let object = try TestJSON.object(response.body)
                XCTAssertEqual(object["serving_version"] as? Int, 2)
                XCTAssertEqual(object["state"] as? String, "ready")
            }
            try await client.execute(uri: "/v1/models/nope", method: .get) { try assertError($0, .notFound, "unknown_model") }
        }
    }

    func testLoadAndUnloadWithoutTokenConfigured() async throws {
        let backend = FakeBackend()
        try await makeTestApplication(backend: backend).test(.router) { client in
            try await client.execute(uri: "/v1/models/fashion/unload", method: .post) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(try TestJSON.decode(ModelStatus.self, response.body).state, "unloaded")
            }
            try await client.execute(uri: "/v1/models/fashion/classify", method: .post, headers: TestJSON.headers, body: TestJSON.body(["pixels": uniformPixels(0.3)])) {
                try assertError($0, .serviceUnavailable, "model_not_ready")
            }
            try await client.execute(uri: "/v1/models/fashion/load", method: .post) { response in
                XCTAssertEqual(response.status, .ok)
                let status = try TestJSON.decode(ModelStatus.self, response.body)
                XCTAssertEqual(status.state, "ready")
                XCTAssertEqual(status.defaultVersion, 2)
            }
            try await client.execute(uri: "/v1/models/nope/load", method: .post) { try assertError($0, .notFound, "unknown_model") }
        }
    }

    func testStateChangingEndpointsNeedTheToken() async throws {
        let backend = FakeBackend()
        let settings = HTTPSettings(bearerToken: "s3cret")
        try await makeTestApplication(backend: backend, settings: settings).test(.router) { client in
            for path in ["/v1/models/fashion/load", "/v1/models/fashion/unload"] {
                try await client.execute(uri: path, method: .post) { response in
                    try assertError(response, .unauthorized, "unauthorized")
                    XCTAssertEqual(response.headers[.wwwAuthenticate], "Bearer realm=\"dlserve\"")
                }
                try await client.execute(uri: path, method: .post, headers: [.authorization: "Bearer wrong"]) {
                    try assertError($0, .unauthorized, "unauthorized")
                }
                try await client.execute(uri: path, method: .post, headers: [.authorization: "Basic czNjcmV0"]) {
                    try assertError($0, .unauthorized, "unauthorized")
                }
            }
            try await client.execute(uri: "/v1/models/fashion/unload", method: .post, headers: [.authorization: "Bearer s3cret"]) {
                XCTAssertEqual($0.status, .ok)
            }
            // Reads stay open.
            try await client.execute(uri: "/v1/models", method: .get) { XCTAssertEqual($0.status, .ok) }
            try await client.execute(
                uri: "/v1/models/fashion/versions/1/classify", method: .post, headers: TestJSON.headers,
                body: TestJSON.body(["pixels": uniformPixels(0.3)])
            ) { try assertError($0, .serviceUnavailable, "model_not_ready") }
        }
    }

    func testCorruptVersionLoadIs422AndOldKeepsServing() async throws {
        let backend = FakeBackend(models: [.init(name: "fashion", versions: [1: "ready", 2: "failed"], serving: 1)])
        try await makeTestApplication(backend: backend).test(.router) { client in
            try await client.execute(uri: "/v1/models/fashion/load", method: .post) { try assertError($0, .unprocessableContent, "load_failed") }
            try await client.execute(uri: "/v1/models/fashion", method: .get) { response in
                let status = try TestJSON.decode(ModelStatus.self, response.body)
                XCTAssertEqual(status.defaultVersion, 1)
                XCTAssertEqual(status.state, "ready")
                XCTAssertEqual(status.lastError, "version 2 is corrupt")
            }
            try await client.execute(uri: "/v1/models/fashion/classify", method: .post, headers: TestJSON.headers, body: TestJSON.body(["pixels": uniformPixels(0.3)])) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(try TestJSON.decode(ClassifyAnswer.self, response.body).version, 1)
            }
        }
    }
}
