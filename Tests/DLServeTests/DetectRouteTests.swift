import DLNN
import DLServe
import DLServeTesting
import DLServing
import DLTasks
import DLTensor
import DLVision
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

/// `POST /v1/models/{name}/detect` over the real engine with a hand-set
/// detector: 32 x 32 input, stride 8 (a 4 x 4 grid), one 8 x 8 anchor, two
/// classes. Each cell's mean colour (an 8 x 8 average pool) goes through a
/// 1 x 1 convolution whose weights say: objectness 20 * (red + green) - 10,
/// box at the cell's centre with the anchor's size, class 0 for red and
/// class 1 for green. So an 8 x 8 red block on a cell is found exactly there.
final class DetectRouteTests: XCTestCase {
    var repo: TestRepository!

    override func setUpWithError() throws {
        repo = try TestRepository()
        let spec = ModelSpec(inputs: [InputSpec(name: "image", shape: [3, 32, 32])], layers: [
            LayerSpec(name: "pool", type: "avg_pool2d", inputs: ["image"], attrs: ["kernel_size": 8]),
            LayerSpec(name: "head", type: "conv2d", inputs: ["pool"], attrs: ["out_channels": 7, "kernel_size": 1]),
        ], outputs: ["head"])
        let model = try GraphModel(spec: spec, seed: 1)
        // Channels: t_x, t_y, t_w, t_h, t_o, class 0, class 1; inputs: red, green, blue.
        let w: [Float] = [0, 0, 0,  0, 0, 0,  0, 0, 0,  0, 0, 0,  20, 20, 0,  10, -10, 0,  -10, 10, 0]
        let b: [Float] = [0, 0, 0, 0, -10, 0, 0]
        try model.loadStateDict(["head.weight": Tensor(shape: [7, 3, 1, 1], data: w), "head.bias": Tensor(shape: [7], data: b)])
        try repo.repository.writeConfig(ModelConfig(name: "det", task: .detection, labels: ["red", "green"],
                                                    input: .init(shape: [3, 32, 32], color: .rgb)))
        let grid = YOLOGrid(inputWidth: 32, inputHeight: 32, stride: 8, anchors: [.init(width: 8, height: 8)], classes: 2)
        try repo.repository.publish(name: "det") { dir in
            try model.save(to: dir)
            try JSONEncoder().encode(grid).write(to: dir.appendingPathComponent("detection.json"))
        }
    }

    override func tearDownWithError() throws { repo.remove() }

    func withApp(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await withEngineApplication(repository: repo.root, tasks: [ObjectDetection()], body)
    }

    /// A 3 x H x W pixel array (CHW, 0...255), black with coloured blocks (x, y, size, channel).
    func pixels(width: Int = 32, height: Int = 32, blocks: [(Int, Int, Int, Int)]) -> String {
        var v = [[[Int]]](repeating: [[Int]](repeating: [Int](repeating: 0, count: width), count: height), count: 3)
        for (x0, y0, s, c) in blocks { for y in y0..<(y0 + s) { for x in x0..<(x0 + s) { v[c][y][x] = 255 } } }
        return String(decoding: try! JSONEncoder().encode(v), as: UTF8.self)
    }

    func post(_ client: any TestClientProtocol, _ body: String, query: String = "",
              contentType: String = "application/json") async throws -> (HTTPResponse.Status, String) {
        try await client.execute(uri: "/v1/models/det/detect\(query)", method: .post, headers: [.contentType: contentType],
                                 body: ByteBuffer(string: body)) { ($0.status, String(buffer: $0.body)) }
    }

    func testFindsTheBlocksWithTheirClassesInImagePixels() async throws {
        try await withApp { client in
            let (status, body) = try await self.post(client, #"{"pixels": \#(self.pixels(blocks: [(8, 16, 8, 0), (24, 0, 8, 1)]))}"#)
            XCTAssertEqual(status, .ok, body)
            let r = try JSONDecoder().decode(ObjectDetection.Response.self, from: Data(body.utf8))
            XCTAssertEqual(r.image, .init(width: 32, height: 32))
            let red = try XCTUnwrap(r.detections.first { $0.label == "red" })
            XCTAssertEqual(red.index, 0)
            XCTAssertEqual([red.box.x1, red.box.y1, red.box.x2, red.box.y2], [8, 16, 16, 24])
            XCTAssertGreaterThan(red.score, 0.99)
            let green = try XCTUnwrap(r.detections.first { $0.label == "green" })
            XCTAssertEqual([green.box.x1, green.box.y1, green.box.x2, green.box.y2], [24, 0, 32, 8])
            XCTAssertEqual(r.detections.count, 2)
            // Only one class; a cap of one.
            let (_, onlyGreen) = try await self.post(client, #"{"pixels": \#(self.pixels(blocks: [(8, 16, 8, 0), (24, 0, 8, 1)])), "classes": ["green"]}"#)
            XCTAssertEqual(try JSONDecoder().decode(ObjectDetection.Response.self, from: Data(onlyGreen.utf8)).detections.map(\.label), ["green"])
            let (_, one) = try await self.post(client, #"{"pixels": \#(self.pixels(blocks: [(8, 16, 8, 0), (24, 0, 8, 1)]))}"#, query: "?max_detections=1")
            XCTAssertEqual(try JSONDecoder().decode(ObjectDetection.Response.self, from: Data(one.utf8)).detections.count, 1)
        }
    }

    /// A 64 x 64 image is letterboxed to half size; its boxes come back doubled.
    func testBoxesAreMappedBackToTheSentImage() async throws {
        try await withApp { client in
            let (status, body) = try await self.post(client, #"{"pixels": \#(self.pixels(width: 64, height: 64, blocks: [(16, 32, 16, 0)]))}"#)
            XCTAssertEqual(status, .ok, body)
            let r = try JSONDecoder().decode(ObjectDetection.Response.self, from: Data(body.utf8))
            XCTAssertEqual(r.image, .init(width: 64, height: 64))
            XCTAssertEqual(r.detections.count, 1)
            let b = r.detections[0].box
            XCTAssertEqual([b.x1, b.y1, b.x2, b.y2], [16, 32, 32, 48])
        }
    }

    func testPNGBodiesAndBadInputs() async throws {
        let png = try Data(contentsOf: Bundle.module.url(forResource: "fashion-0", withExtension: "png", subdirectory: "Fixtures")!)
        try await withApp { client in
            let (status, body) = try await client.execute(uri: "/v1/models/det/detect", method: .post, headers: [.contentType: "image/png"],
                                                         body: ByteBuffer(bytes: png)) { ($0.status, String(buffer: $0.body)) }
            XCTAssertEqual(status, .ok, body)
            XCTAssertTrue(body.contains(#""image":{"#), body)
            for (query, problem) in [("?score_threshold=2", "score_threshold"), ("?iou_threshold=x", "iou_threshold"),
                                     ("?max_detections=0", "max_detections"), ("?classes=blue", "unknown classes")] {
                let (s, b) = try await self.post(client, #"{"pixels": \#(self.pixels(blocks: []))}"#, query: query)
                XCTAssertEqual(s, .badRequest, query)
                XCTAssertTrue(b.contains(problem), "\(query): \(b)")
            }
            let (s1, b1) = try await self.post(client, "not an image", contentType: "image/png")
            XCTAssertEqual(s1.code / 100, 4, b1)
            let (s2, b2) = try await self.post(client, #"{"pixels": [[1, 2], [3]]}"#)
            XCTAssertEqual(s2, .badRequest, b2)
            let (s3, b3) = try await self.post(client, #"{"image": "aGVsbG8=", "pixels": [[1]]}"#)
            XCTAssertEqual(s3, .badRequest, b3)
        }
    }

    /// `?format=png` or `Accept: image/png`: the sent image with the boxes drawn, as PNG.
    func testPNGAnswersDrawTheBoxesOnTheSentImage() async throws {
        try await withApp { client in
            let body = #"{"pixels": \#(self.pixels(width: 64, height: 48, blocks: [(16, 16, 16, 0)]))}"#
            for (query, accept) in [("?format=png", "application/json"), ("", "image/png"), ("", "text/html, image/png;q=0.9")] {
                let (status, type, bytes) = try await client.execute(
                    uri: "/v1/models/det/detect\(query)", method: .post, headers: [.contentType: "application/json", .accept: accept],
                    body: ByteBuffer(string: body)) { ($0.status, $0.headers[.contentType], Data(buffer: $0.body)) }
                XCTAssertEqual(status, .ok, "\(query) \(accept)")
                XCTAssertEqual(type, "image/png")
                let image = try ImageDecoder().decode(bytes)
                XCTAssertEqual([image.width, image.height, image.channels], [64, 48, 3])
                // The red block's box [16, 32) is outlined in class 0's colour; the block itself is unchanged.
                let c = BoxPainter.color(of: 0)
                XCTAssertEqual((0..<3).map { image[24, 16, $0] }, [c.0, c.1, c.2])
                XCTAssertEqual((0..<3).map { image[24, 24, $0] }, [255, 0, 0])
                XCTAssertEqual((0..<3).map { image[40, 50, $0] }, [0, 0, 0])
            }
            // JSON stays the default; an unknown format is a 400 naming the choices.
            let (json, _) = try await self.post(client, body, query: "?format=json")
            XCTAssertEqual(json, .ok)
            let (bad, message) = try await self.post(client, body, query: "?format=gif")
            XCTAssertEqual(bad, .badRequest)
            XCTAssertTrue(message.contains("png"), message)
        }
    }

    /// V2 infer serves the raw head for clients that decode themselves:
    /// [1, 7, 4, 4] with the hand-set weights' values at the red block's cell,
    /// as "output" only (no softmax "probabilities" of a head).
    func testV2InferServesTheRawHead() async throws {
        try await withApp { client in
            var x = [Float](repeating: 0, count: 3 * 32 * 32)
            for y in 16..<24 { for xx in 8..<16 { x[y * 32 + xx] = 1 } }   // red block, values / 255 already
            let body = TestJSON.body(["inputs": [["name": "input", "shape": [1, 3, 32, 32], "datatype": "FP32", "data": x.map(Double.init)] as [String: Any]]] as [String: Any])
            try await client.execute(uri: "/v2/models/det/infer", method: .post, headers: TestJSON.headers, body: body) { response in
                XCTAssertEqual(response.status, .ok, String(buffer: response.body))
                let outputs = try XCTUnwrap(try TestJSON.object(response.body)["outputs"] as? [[String: Any]])
                XCTAssertEqual(outputs.map { $0["name"] as? String }, ["output"])
                XCTAssertEqual(outputs[0]["shape"] as? [Int], [1, 7, 4, 4])
                let head = try XCTUnwrap(outputs[0]["data"] as? [Double])
                let cell = 2 * 4 + 1, other = 0
                XCTAssertEqual(head[4 * 16 + cell], 10, accuracy: 1e-4, "objectness logit 20 * red - 10")
                XCTAssertEqual(head[5 * 16 + cell], 10, accuracy: 1e-4, "class 0 logit 10 * red")
                XCTAssertEqual(head[4 * 16 + other], -10, accuracy: 1e-4)
            }
            try await client.execute(uri: "/v2/models/det", method: .get) { response in
                let metadata = try TestJSON.object(response.body)
                let outputs = try XCTUnwrap(metadata["outputs"] as? [[String: Any]])
                XCTAssertEqual(outputs.map { $0["name"] as? String }, ["output"])
            }
        }
    }
}
