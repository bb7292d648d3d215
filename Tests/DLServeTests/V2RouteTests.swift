import DLServing
import DLServe
import DLServeTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

/// Open Inference Protocol (KServe V2) REST, in process.
final class V2RouteTests: XCTestCase {
    func run(_ backend: FakeBackend = FakeBackend(), _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await makeTestApplication(backend: backend).test(.router, body)
    }

    func testServerMetadata() async throws {
        try await run { client in
            try await client.execute(uri: "/v2", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                let object = try TestJSON.object(response.body)
                XCTAssertEqual(object["name"] as? String, "dlserve")
                XCTAssertEqual(object["version"] as? String, DLServeVersion.current)
                XCTAssertEqual(object["extensions"] as? [String], ["binary_tensor_data"])
            }
        }
    }

    func testModelMetadataAndReady() async throws {
        try await run { client in
            for uri in ["/v2/models/fashion", "/v2/models/fashion/versions/1"] {
                try await client.execute(uri: uri, method: .get) { response in
                    XCTAssertEqual(response.status, .ok)
                    let object = try TestJSON.object(response.body)
                    XCTAssertEqual(object["name"] as? String, "fashion")
                    XCTAssertEqual(object["versions"] as? [String], ["1", "2"])
                    XCTAssertEqual(object["platform"] as? String, "dlserve")
                    let inputs = try XCTUnwrap(object["inputs"] as? [[String: Any]])
                    XCTAssertEqual(inputs.first?["datatype"] as? String, "FP32")
                    XCTAssertEqual(inputs.first?["shape"] as? [Int], [-1, 1, 28, 28])
                    let outputs = try XCTUnwrap(object["outputs"] as? [[String: Any]])
                    XCTAssertEqual(outputs.map { $0["name"] as? String }, ["output", "probabilities"])
                    XCTAssertEqual(inputs.map { $0["name"] as? String }, ["input", "image"])
                    XCTAssertEqual(inputs.last?["datatype"] as? String, "UINT8")
                    XCTAssertEqual(object["labels"] as? [String], FakeBackend.labels)
                    let image = try XCTUnwrap((object["preprocessing"] as? [String: Any])?["image"] as? [String: Any])
                    XCTAssertEqual(image["height"] as? Int, 28)
                    XCTAssertEqual(image["color"] as? String, "grayscale")
                }
            }
            try await client.execute(uri: "/v2/models/fashion/ready", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                let object = try TestJSON.object(response.body)
                XCTAssertEqual(object["name"] as? String, "fashion")
                XCTAssertEqual(object["ready"] as? Bool, true)
            }
            try await client.execute(uri: "/v2/models/fashion/versions/2/ready", method: .get) { XCTAssertEqual($0.status, .ok) }
            try await client.execute(uri: "/v2/models/nope", method: .get) { try assertError($0, .notFound, "unknown_model") }
            try await client.execute(uri: "/v2/models/nope/ready", method: .get) { try assertError($0, .notFound, "unknown_model") }
            try await client.execute(uri: "/v2/models/fashion/versions/7", method: .get) { try assertError($0, .notFound, "version_not_found") }
            try await client.execute(uri: "/v2/models/fashion/versions/7/ready", method: .get) { try assertError($0, .notFound, "version_not_found") }
        }
    }

    func testModelNotReadyIs503() async throws {
        let backend = FakeBackend(models: [.init(name: "fashion", versions: [1: "loading"], serving: nil)])
        try await run(backend) { client in
            try await client.execute(uri: "/v2/models/fashion/ready", method: .get) { try assertError($0, .serviceUnavailable, "model_not_ready") }
        }
    }

    func testInferJSONRoundTripEchoesID() async throws {
        let row1 = [Float](repeating: 0.3, count: 784)
        let row2 = [Float](repeating: 0.7, count: 784)
        let request: [String: Any] = [
            "id": "req-42",
            "inputs": [["name": "input", "shape": [2, 1, 28, 28], "datatype": "FP32", "data": row1 + row2]],
            "outputs": [["name": "probabilities"]],
        ]
        try await run { client in
            try await client.execute(uri: "/v2/models/fashion/infer", method: .post, headers: TestJSON.headers, body: TestJSON.body(request)) { response in
                XCTAssertEqual(response.status, .ok, String(buffer: response.body))
                let object = try TestJSON.object(response.body)
                XCTAssertEqual(object["model_name"] as? String, "fashion")
                XCTAssertEqual(object["model_version"] as? String, "2")
                XCTAssertEqual(object["id"] as? String, "req-42")
                let outputs = try XCTUnwrap(object["outputs"] as? [[String: Any]])
                XCTAssertEqual(outputs.count, 1)
                XCTAssertEqual(outputs[0]["name"] as? String, "probabilities")
                XCTAssertEqual(outputs[0]["datatype"] as? String, "FP32")
                XCTAssertEqual(outputs[0]["shape"] as? [Int], [2, 10])
                let data = try XCTUnwrap(outputs[0]["data"] as? [Double]).map(Float.init)
                let expected = FakeBackend.probabilities(row1) + FakeBackend.probabilities(row2)
                XCTAssertEqual(data.count, 20)
                for (a, e) in zip(data, expected) { XCTAssertEqual(a, e, accuracy: 1e-6) }
            }
        }
    }

    func testInferNestedDataAndPinnedVersionWithoutID() async throws {
        let nested = [uniformPixels(0.3)]  // [1, 28, 28] nested
        let request: [String: Any] = ["inputs": [["name": "input", "shape": [1, 1, 28, 28], "datatype": "FP32", "data": [nested]]]]
        try await run { client in
            try await client.execute(
                uri: "/v2/models/fashion/versions/1/infer", method: .post, headers: [.contentType: "application/json", .init("X-Request-ID")!: "abc"],
                body: TestJSON.body(request)
            ) { response in
                XCTAssertEqual(response.status, .ok, String(buffer: response.body))
                let object = try TestJSON.object(response.body)
                XCTAssertEqual(object["model_version"] as? String, "1")
                XCTAssertEqual(object["id"] as? String, "abc")  // no id given: the request id
            }
        }
    }

    func testBinaryTensorExtension() async throws {
        let values = [Float](repeating: 0.3, count: 784)
        let header: [String: Any] = [
            "inputs": [["name": "input", "shape": [1, 1, 28, 28], "datatype": "FP32", "parameters": ["binary_data_size": 784 * 4]]],
            "outputs": [["name": "probabilities", "parameters": ["binary_data": true]]],
        ]
        var buffer = TestJSON.body(header)
        let headerLength = buffer.readableBytes
        for v in values { buffer.writeInteger(v.bitPattern, endianness: .little) }
        let body = buffer
        try await run { client in
            try await client.execute(
                uri: "/v2/models/fashion/infer", method: .post,
                headers: [.contentType: "application/octet-stream", .init("Inference-Header-Content-Length")!: String(headerLength)], body: body
            ) { response in
                XCTAssertEqual(response.status, .ok, String(buffer: response.body))
                let jsonLength = try XCTUnwrap(response.headers[.init("Inference-Header-Content-Length")!].flatMap(Int.init))
                var buffer = response.body
                let json = buffer.readSlice(length: jsonLength)!
                let object = try TestJSON.object(json)
                let outputs = try XCTUnwrap(object["outputs"] as? [[String: Any]])
                XCTAssertNil(outputs[0]["data"])
                XCTAssertEqual((outputs[0]["parameters"] as? [String: Any])?["binary_data_size"] as? Int, 40)
                XCTAssertEqual(buffer.readableBytes, 40)
                var floats: [Float] = []
                while let bits = buffer.readInteger(endianness: .little, as: UInt32.self) { floats.append(Float(bitPattern: bits)) }
                let expected = FakeBackend.probabilities(values)
                for (a, e) in zip(floats, expected) { XCTAssertEqual(a, e, accuracy: 1e-6) }
            }
            // A header length past the body.
            try await client.execute(
                uri: "/v2/models/fashion/infer", method: .post,
                headers: [.init("Inference-Header-Content-Length")!: "999999"], body: body
            ) { try assertError($0, .badRequest, "bad_request") }
            // binary_data_size that disagrees with the shape.
            var wrongBuffer = TestJSON.body(["inputs": [["name": "input", "shape": [1, 1, 28, 28], "datatype": "FP32", "parameters": ["binary_data_size": 8]]]])
            let wrongLength = wrongBuffer.readableBytes
            wrongBuffer.writeInteger(UInt64(0))
            let wrong = wrongBuffer
            try await client.execute(
                uri: "/v2/models/fashion/infer", method: .post,
                headers: [.init("Inference-Header-Content-Length")!: String(wrongLength)], body: wrong
            ) { try assertError($0, .badRequest, "bad_request") }
        }
    }

    func testInferErrors() async throws {
        @Sendable func input(_ shape: [Int], _ datatype: String = "FP32", data: Any) -> ByteBuffer {
            TestJSON.body(["inputs": [["name": "input", "shape": shape, "datatype": datatype, "data": data]]])
        }
        try await run { client in
            let uri = "/v2/models/fashion/infer"
            // shape and data disagree
            try await client.execute(uri: uri, method: .post, headers: TestJSON.headers, body: input([1, 784], data: [1, 2, 3])) {
                try assertError($0, .badRequest, "bad_request")
            }
            // BYTES for an image model's input
            try await client.execute(uri: uri, method: .post, headers: TestJSON.headers, body: input([1], "BYTES", data: ["a"])) {
                try assertError($0, .badRequest, "bad_request")
            }
            // numbers declared as BYTES, strings declared as FP32
            try await client.execute(uri: uri, method: .post, headers: TestJSON.headers, body: input([1], "BYTES", data: [1])) {
                try assertError($0, .badRequest, "bad_request")
            }
            try await client.execute(uri: uri, method: .post, headers: TestJSON.headers, body: input([1], "FP32", data: ["a"])) {
                try assertError($0, .badRequest, "bad_request")
            }
            // UINT8 values out of range or not whole
            try await client.execute(uri: uri, method: .post, headers: TestJSON.headers, body: input([1], "UINT8", data: [256])) {
                try assertError($0, .badRequest, "bad_request")
            }
            try await client.execute(uri: uri, method: .post, headers: TestJSON.headers, body: input([1], "INT64", data: [1.5])) {
                try assertError($0, .badRequest, "bad_request")
            }
            try await client.execute(uri: uri, method: .post, headers: TestJSON.headers, body: input([1], "BOOL", data: [1])) {
                try assertError($0, .badRequest, "bad_request")
            }
            // negative dimension
            try await client.execute(uri: uri, method: .post, headers: TestJSON.headers, body: input([-1, 784], data: [1])) {
                try assertError($0, .badRequest, "bad_request")
            }
            // the model refuses the shape
            try await client.execute(uri: uri, method: .post, headers: TestJSON.headers, body: input([1, 3], data: [1, 2, 3])) {
                try assertError($0, .badRequest, "bad_request")
            }
            // missing inputs
            try await client.execute(uri: uri, method: .post, headers: TestJSON.headers, body: TestJSON.body(["id": "x"])) {
                try assertError($0, .badRequest, "invalid_json")
            }
            try await client.execute(uri: uri, method: .post, headers: TestJSON.headers, body: TestJSON.body(["inputs": [Any]()])) {
                try assertError($0, .badRequest, "bad_request")
            }
            // not JSON
            try await client.execute(uri: uri, method: .post, headers: [.contentType: "text/plain"], body: ByteBuffer(string: "x")) {
                try assertError($0, .unsupportedMediaType, "unsupported_media_type")
            }
            try await client.execute(uri: "/v2/models/nope/infer", method: .post, headers: TestJSON.headers, body: input([1, 784], data: [Float](repeating: 0, count: 784))) {
                try assertError($0, .notFound, "unknown_model")
            }
        }
    }
}
