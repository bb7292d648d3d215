import DLServing
import DLServe
import DLServeTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

/// The daemon over the real serving engine and a real repository on disk,
/// with real sockets on 127.0.0.1.
final class EngineLiveTests: XCTestCase {
    struct Fixture: Decodable {
        var index: Int
        var label: Int
        var name: String
        var png: String
        var jpeg: String
        var pixels: [[Float]]

        var flat: [Float] { pixels.flatMap { $0 } }
    }

    static let fixtures: [Fixture] = {
        let url = Bundle.module.url(forResource: "fashion-images", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode([Fixture].self, from: Data(contentsOf: url))
    }()

    static func bytes(_ file: String) throws -> ByteBuffer {
        let url = try XCTUnwrap(Bundle.module.url(forResource: file, withExtension: nil, subdirectory: "Fixtures"))
        return ByteBuffer(bytes: try Data(contentsOf: url))
    }

    var repo: TestRepository!

    override func setUpWithError() throws {
        repo = try TestRepository()
    }

    override func tearDownWithError() throws {
        repo.remove()
    }

    /// "fashion": the shipped trained model when the repository has one, else
    /// the prototype classifier of the fixtures. Returns whether it is the shipped one.
    @discardableResult
    func makeFashionModel(maxBatchSize: Int = 16) throws -> Bool {
        if let shipped = TestRepository.shippedModel() {
            try repo.copyModel(from: shipped, as: "fashion")
            return true
        }
        try repo.writeConfig(name: "fashion", maxBatchSize: maxBatchSize)
        try repo.publishPrototype(name: "fashion", examples: Self.fixtures.map { ($0.label, $0.flat) })
        return false
    }

    func classify(_ live: LiveDaemon, _ body: ByteBuffer, contentType: String, uri: String = "/v1/models/fashion/classify") async throws -> ClassifyAnswer {
        let response = try await live.request(uri, method: .post, headers: [.contentType: contentType], body: body)
        XCTAssertEqual(response.status, .ok, String(buffer: response.body ?? ByteBuffer()))
        return try TestJSON.decode(ClassifyAnswer.self, try XCTUnwrap(response.body))
    }

    func testClassifyRealPNGAndJPEGOfFashionMNISTGetsTheRightLabel() async throws {
        let shipped = try makeFashionModel()
        let live = try await LiveDaemon.startEngine(models: repo.root)
        try await live.waitUntilReady()
        // The trained model is held to the easy images; the prototype to all of them.
        let strict = shipped ? Array(Self.fixtures.prefix(3)) : Self.fixtures
        var right = 0
        for fixture in Self.fixtures {
            let png = try await classify(live, try Self.bytes(fixture.png), contentType: "image/png")
            let jpeg = try await classify(live, try Self.bytes(fixture.jpeg), contentType: "image/jpeg")
            // curl --data-binary @file.png without -H
            let sniffed = try await classify(live, try Self.bytes(fixture.png), contentType: "application/x-www-form-urlencoded")
            let base64 = try await classify(
                live, TestJSON.body(["image": Data(try Self.bytes(fixture.jpeg).readableBytesView).base64EncodedString()]),
                contentType: "application/json")
            let pixels = try await classify(live, TestJSON.body(["pixels": fixture.pixels]), contentType: "application/json")
            for answer in [png, jpeg, sniffed, base64, pixels] {
                XCTAssertEqual(answer.model, "fashion")
                XCTAssertEqual(answer.version, 1)
                XCTAssertEqual(answer.predictions.count, 5)
                XCTAssertEqual(answer.predictions.map(\.probability).sorted(by: >), answer.predictions.map(\.probability))
                XCTAssertGreaterThan(answer.batch_size, 0)
            }
            if strict.contains(where: { $0.index == fixture.index }) {
                XCTAssertEqual(png.predictions[0].label, fixture.name, "PNG of test image \(fixture.index)")
                XCTAssertEqual(jpeg.predictions[0].label, fixture.name, "JPEG of test image \(fixture.index)")
                XCTAssertEqual(pixels.predictions[0].label, fixture.name, "pixels of test image \(fixture.index)")
            }
            // PNG is lossless: the pixel array and the PNG give the same probabilities.
            XCTAssertEqual(png.predictions[0].probability, pixels.predictions[0].probability, accuracy: 1e-5)
            right += png.predictions[0].label == fixture.name ? 1 : 0
        }
        print("classify over loopback: \(right)/\(Self.fixtures.count) fixtures right with the \(shipped ? "shipped trained" : "prototype") model")
        try await live.stop()
    }

    func testV2InferRoundTripJSONAndBinary() async throws {
        try makeFashionModel()
        let live = try await LiveDaemon.startEngine(models: repo.root)
        try await live.waitUntilReady()
        let metadata = try await live.request("/v2/models/fashion")
        XCTAssertEqual(metadata.status, .ok)
        let object = try TestJSON.object(try XCTUnwrap(metadata.body))
        XCTAssertEqual((object["inputs"] as? [[String: Any]])?.first?["shape"] as? [Int], [-1, 1, 28, 28])
        XCTAssertEqual((object["outputs"] as? [[String: Any]])?.first?["shape"] as? [Int], [-1, 10])
        XCTAssertEqual(object["versions"] as? [String], ["1"])

        // Two preprocessed images in one request: [2, 1, 28, 28].
        let two = Array(Self.fixtures.prefix(2))
        let input = two.flatMap { $0.flat.map { ($0 / 255 - TestRepository.mean) / TestRepository.std } }
        let request: [String: Any] = [
            "id": "v2-round-trip",
            "inputs": [["name": "input", "shape": [2, 1, 28, 28], "datatype": "FP32", "data": input]],
        ]
        let response = try await live.request("/v2/models/fashion/infer", method: .post, headers: TestJSON.headers, body: TestJSON.body(request))
        XCTAssertEqual(response.status, .ok, String(buffer: response.body ?? ByteBuffer()))
        let answer = try TestJSON.object(try XCTUnwrap(response.body))
        XCTAssertEqual(answer["id"] as? String, "v2-round-trip")
        XCTAssertEqual(answer["model_name"] as? String, "fashion")
        XCTAssertEqual(answer["model_version"] as? String, "1")
        let output = try XCTUnwrap((answer["outputs"] as? [[String: Any]])?.first)
        XCTAssertEqual(output["name"] as? String, "output")
        XCTAssertEqual(output["shape"] as? [Int], [2, 10])
        let logits = try XCTUnwrap(output["data"] as? [Double]).map(Float.init)
        for (row, fixture) in two.enumerated() {
            let rowLogits = Array(logits[(row * 10)..<(row * 10 + 10)])
            XCTAssertEqual(rowLogits.firstIndex(of: rowLogits.max()!), fixture.label)
        }

        // The same images as raw UINT8 pixels: the server preprocesses them
        // as metadata says, (x * scale - mean) / std, so the logits equal those
        // of FP32 input preprocessed by hand with the advertised numbers.
        let imageInput = try XCTUnwrap((object["inputs"] as? [[String: Any]])?.last)
        XCTAssertEqual(imageInput["name"] as? String, "image")
        XCTAssertEqual(imageInput["datatype"] as? String, "UINT8")
        let preprocessing = try XCTUnwrap((object["preprocessing"] as? [String: Any])?["image"] as? [String: Any])
        let mean = Float(try XCTUnwrap((preprocessing["mean"] as? [Double])?.first))
        let std = Float(try XCTUnwrap((preprocessing["std"] as? [Double])?.first))
        let scale = Float(try XCTUnwrap(preprocessing["scale"] as? Double))
        XCTAssertEqual(mean, TestRepository.mean, accuracy: 1e-3)
        XCTAssertEqual(std, TestRepository.std, accuracy: 1e-3)
        func logitsOf(_ body: [String: Any]) async throws -> [Float] {
            let r = try await live.request("/v2/models/fashion/infer", method: .post, headers: TestJSON.headers, body: TestJSON.body(body))
            XCTAssertEqual(r.status, .ok, String(buffer: r.body ?? ByteBuffer()))
            let outputs = try XCTUnwrap(TestJSON.object(try XCTUnwrap(r.body))["outputs"] as? [[String: Any]])
            XCTAssertEqual(outputs.map { $0["name"] as? String }, ["output"])
            return try XCTUnwrap(outputs[0]["data"] as? [Double]).map(Float.init)
        }
        let byHand = try await logitsOf([
            "inputs": [["name": "input", "shape": [2, 1, 28, 28], "datatype": "FP32",
                        "data": two.flatMap { $0.flat.map { ($0 * scale - mean) / std } }]],
            "outputs": [["name": "output"]],
        ])
        let byServer = try await logitsOf([
            "inputs": [["name": "image", "shape": [2, 28, 28], "datatype": "UINT8", "data": two.flatMap { $0.flat.map(Int.init) }]],
            "outputs": [["name": "output"]],
        ])
        for (a, b) in zip(byServer, byHand) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b))) }

        // The same through the binary tensor extension, binary output too.
        var body = TestJSON.body([
            "inputs": [["name": "input", "shape": [2, 1, 28, 28], "datatype": "FP32", "parameters": ["binary_data_size": input.count * 4]]],
            "parameters": ["binary_data_output": true],
        ])
        let headerLength = body.readableBytes
        for v in input { body.writeInteger(v.bitPattern, endianness: .little) }
        let binary = try await live.request(
            "/v2/models/fashion/infer", method: .post,
            headers: [.contentType: "application/octet-stream", .init("Inference-Header-Content-Length")!: String(headerLength)], body: body)
        XCTAssertEqual(binary.status, .ok)
        var raw = try XCTUnwrap(binary.body)
        let jsonLength = try XCTUnwrap(binary.headers[.init("Inference-Header-Content-Length")!].flatMap(Int.init))
        _ = raw.readSlice(length: jsonLength)
        var binaryLogits: [Float] = []
        while let bits = raw.readInteger(endianness: .little, as: UInt32.self) { binaryLogits.append(Float(bitPattern: bits)) }
        // Every declared output, in order: "output" (the logits), then "probabilities".
        XCTAssertEqual(binaryLogits.count, 40)
        for (a, b) in zip(binaryLogits.prefix(20), logits) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b))) }
        for row in 0..<2 {
            let p = Array(binaryLogits[(20 + row * 10)..<(30 + row * 10)])
            let l = Array(logits[(row * 10)..<(row * 10 + 10)])
            let m = l.max()!
            let z = l.map { exp($0 - m) }.reduce(0, +)
            for (a, b) in zip(p, l) { XCTAssertEqual(a, exp(b - m) / z, accuracy: 1e-5) }
        }

        // A shape the model does not take.
        let bad = try await live.request(
            "/v2/models/fashion/infer", method: .post, headers: TestJSON.headers,
            body: TestJSON.body(["inputs": [["name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]]]]))
        XCTAssertEqual(bad.status, .badRequest)
        XCTAssertEqual(try TestJSON.object(try XCTUnwrap(bad.body))["code"] as? String, "invalid_input")
        try await live.stop()
    }

    func testBurstThatOverfillsTheQueueGets429sAndNoCrash() async throws {
        try repo.writeConfig(name: "slow", maxBatchSize: 1, maxQueueDelayMs: 0, queueCapacity: 2)
        try repo.publishSlow(name: "slow", hidden: 1024)
        var settings = LiveDaemon.settings()
        settings.workers = 1
        let live = try await LiveDaemon.startEngine(models: repo.root, settings: settings)
        try await live.waitUntilReady()
        let body = TestJSON.body(["pixels": Self.fixtures[0].pixels])
        let statuses = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?).self) { group in
            for _ in 0..<48 {
                group.addTask {
                    let r = try await live.request("/v1/models/slow/classify", method: .post, headers: TestJSON.headers, body: body)
                    return (r.status, r.headers[.retryAfter])
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let ok = statuses.filter { $0.0 == .ok }.count
        let refused = statuses.filter { $0.0 == .tooManyRequests }
        XCTAssertEqual(ok + refused.count, 48, "\(statuses.map(\.0.code))")
        XCTAssertGreaterThan(ok, 0)
        XCTAssertGreaterThan(refused.count, 0)
        XCTAssertTrue(refused.allSatisfy { ($0.1.flatMap(Int.init) ?? 0) >= 1 })
        print("burst of 48 on a queue of 2: \(ok) answered, \(refused.count) refused with 429")
        // Alive and serving after the burst.
        let after = try await live.request("/v1/models/slow/classify", method: .post, headers: TestJSON.headers, body: body)
        XCTAssertEqual(after.status, .ok)
        let metricsResponse = try await live.request("/metrics")
        let metrics = String(buffer: try XCTUnwrap(metricsResponse.body))
        XCTAssertTrue(metrics.contains(#"dlserve_model_requests_total{model="slow",status="429"}"#), metrics)
        XCTAssertTrue(metrics.contains("dlserve_queue_time_seconds_bucket"), metrics)
        XCTAssertTrue(metrics.contains("dlserve_batch_size_bucket"), metrics)
        XCTAssertTrue(metrics.contains("dlserve_queue_depth"), metrics)
        try await live.stop()
    }

    func testHotReloadToANewVersionWhileRequestsRun() async throws {
        try makeFashionModel()
        let live = try await LiveDaemon.startEngine(models: repo.root, settings: LiveDaemon.settings(pollInterval: 0.1))
        try await live.waitUntilReady()
        let body = TestJSON.body(["pixels": Self.fixtures[0].pixels])
        let expected = Self.fixtures[0].name
        let end = ContinuousClock.now + .milliseconds(1500)
        let traffic = Task {
            try await withThrowingTaskGroup(of: [(HTTPResponse.Status, Int, String)].self, returning: [[(HTTPResponse.Status, Int, String)]].self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await TestClient.withClient(host: "127.0.0.1", port: live.port) { client in
                            var seen: [(HTTPResponse.Status, Int, String)] = []
                            while ContinuousClock.now < end {
                                let r = try await client.execute(.init("/v1/models/fashion/classify", method: .post, headers: TestJSON.headers, body: body))
                                let answer = r.status == .ok ? try TestJSON.decode(ClassifyAnswer.self, r.body!) : nil
                                seen.append((r.status, answer?.version ?? 0, answer?.predictions[0].label ?? ""))
                            }
                            return seen
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        try await Task.sleep(for: .milliseconds(400))
        XCTAssertEqual(try repo.publishPrototype(name: "fashion", examples: Self.fixtures.map { ($0.label, $0.flat) }), 2)
        let perClient = try await traffic.value
        let seen = perClient.flatMap { $0 }
        XCTAssertGreaterThan(seen.count, 20)
        XCTAssertTrue(seen.allSatisfy { $0.0 == .ok }, "\(Set(seen.map(\.0.code)))")
        XCTAssertTrue(seen.allSatisfy { $0.2 == expected })
        for client in perClient {
            XCTAssertEqual(client.first?.1, 1)
            XCTAssertEqual(client.last?.1, 2)
            // On each connection, versions only move forward.
            XCTAssertEqual(client.map(\.1), client.map(\.1).sorted())
        }
        print("hot reload under traffic: \(seen.count) requests, \(seen.filter { $0.1 == 1 }.count) on version 1, \(seen.filter { $0.1 == 2 }.count) on version 2, none failed")
        let statusResponse = try await live.request("/v1/models/fashion")
        let status = try TestJSON.decode(ModelStatus.self, try XCTUnwrap(statusResponse.body))
        XCTAssertEqual(status.defaultVersion, 2)
        try await live.stop()
    }

    func testACorruptNewVersionLeavesTheOldOneServing() async throws {
        try makeFashionModel()
        let live = try await LiveDaemon.startEngine(models: repo.root, settings: LiveDaemon.settings(pollInterval: 0.1))
        try await live.waitUntilReady()
        XCTAssertEqual(try repo.publishCorruptCopy(name: "fashion", of: 1), 2)
        // Wait for the poller to try it.
        var status: ModelStatus?
        for _ in 0..<100 {
            let response = try await live.request("/v1/models/fashion")
            status = try TestJSON.decode(ModelStatus.self, try XCTUnwrap(response.body))
            if status?.versions.first(where: { $0.version == 2 })?.state.name == "failed" { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let model = try XCTUnwrap(status)
        XCTAssertEqual(model.defaultVersion, 1)
        XCTAssertEqual(model.state, "ready")
        let v2 = try XCTUnwrap(model.versions.first { $0.version == 2 })
        XCTAssertEqual(v2.state.name, "failed")
        XCTAssertNotNil(v2.lastError)
        XCTAssertNotNil(model.lastError)
        let answer = try await classify(live, try Self.bytes(Self.fixtures[0].png), contentType: "image/png")
        XCTAssertEqual(answer.version, 1)
        // An explicit load says so, and version 1 still serves.
        let load = try await live.request("/v1/models/fashion/load", method: .post)
        XCTAssertEqual(load.status, .unprocessableContent, String(buffer: load.body ?? ByteBuffer()))
        XCTAssertEqual(try TestJSON.object(try XCTUnwrap(load.body))["code"] as? String, "load_failed")
        let again = try await classify(live, try Self.bytes(Self.fixtures[0].png), contentType: "image/png")
        XCTAssertEqual(again.version, 1)
        let ready = try await live.request("/v2/health/ready")
        XCTAssertEqual(ready.status, .ok)
        try await live.stop()
    }

    func testUnloadThenLoadAndImageErrors() async throws {
        try makeFashionModel()
        let live = try await LiveDaemon.startEngine(models: repo.root)
        try await live.waitUntilReady()
        // A truncated PNG, a GIF, and an image bomb header are refused with 4xx.
        var truncated = try Self.bytes(Self.fixtures[0].png)
        truncated = truncated.getSlice(at: 0, length: 40)!
        let corrupt = try await live.request("/v1/models/fashion/classify", method: .post, headers: [.contentType: "image/png"], body: truncated)
        XCTAssertEqual(corrupt.status, .badRequest, String(buffer: corrupt.body ?? ByteBuffer()))
        let gif = try await live.request("/v1/models/fashion/classify", method: .post, headers: [.contentType: "image/png"], body: ByteBuffer(string: "GIF89a...."))
        XCTAssertTrue([HTTPResponse.Status.badRequest, .unsupportedMediaType].contains(gif.status), "\(gif.status)")
        let bomb = try await live.request("/v1/models/fashion/classify", method: .post, headers: [.contentType: "image/png"], body: ByteBuffer(bytes: Self.pngBomb()))
        XCTAssertEqual(bomb.status, .contentTooLarge, String(buffer: bomb.body ?? ByteBuffer()))
        XCTAssertEqual(try TestJSON.object(try XCTUnwrap(bomb.body))["code"] as? String, "image_too_large")

        let unload = try await live.request("/v1/models/fashion/unload", method: .post)
        XCTAssertEqual(unload.status, .ok)
        XCTAssertEqual(try TestJSON.decode(ModelStatus.self, try XCTUnwrap(unload.body)).state, "unloaded")
        let refused = try await live.request("/v1/models/fashion/classify", method: .post, headers: [.contentType: "image/png"], body: try Self.bytes(Self.fixtures[0].png))
        XCTAssertEqual(refused.status, .serviceUnavailable)
        XCTAssertEqual(try TestJSON.object(try XCTUnwrap(refused.body))["code"] as? String, "model_not_ready")
        let load = try await live.request("/v1/models/fashion/load", method: .post)
        XCTAssertEqual(load.status, .ok, String(buffer: load.body ?? ByteBuffer()))
        let reloaded = try await classify(live, try Self.bytes(Self.fixtures[0].png), contentType: "image/png")
        XCTAssertEqual(reloaded.version, 1)
        try await live.stop()
    }

    func testAMissingRepositoryIsUnreadyUntilItAppears() async throws {
        let missing = repo.root.appendingPathComponent("later")
        let live = try await LiveDaemon.startEngine(models: missing, settings: LiveDaemon.settings(pollInterval: 0.1))
        try await Task.sleep(for: .milliseconds(300))
        let early = try await live.request("/v2/health/ready")
        XCTAssertEqual(early.status, .serviceUnavailable)
        let liveness = try await live.request("/v2/health/live")
        XCTAssertEqual(liveness.status, .ok)
        // The operator creates it: the poller brings the model in.
        let later = TestRepository(root: missing)
        // The version first, then config.json, so that the poller never sees a
        // model with a config and no version (the order an operator's copy has).
        try later.publishPrototype(name: "fashion", examples: Self.fixtures.map { ($0.label, $0.flat) })
        try later.writeConfig(name: "fashion")
        try await live.waitUntilReady(timeout: .seconds(20))
        let answer = try await classify(live, try Self.bytes(Self.fixtures[1].png), contentType: "image/png")
        XCTAssertEqual(answer.predictions[0].label, Self.fixtures[1].name)
        try await live.stop()
    }

    /// A valid PNG signature and IHDR declaring 100000 x 100000 pixels, no data.
    static func pngBomb() -> [UInt8] {
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var ihdr: [UInt8] = Array("IHDR".utf8)
        for v in [UInt32(100_000), UInt32(100_000)] { ihdr += withUnsafeBytes(of: v.bigEndian, Array.init) }
        ihdr += [8, 0, 0, 0, 0]  // 8-bit grayscale
        bytes += withUnsafeBytes(of: UInt32(13).bigEndian, Array.init) + ihdr
        bytes += withUnsafeBytes(of: crc32(ihdr).bigEndian, Array.init)
        // One IDAT with a tiny zlib stream, so that the header is read before the data runs out.
        let idat: [UInt8] = Array("IDAT".utf8) + [0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]
        bytes += withUnsafeBytes(of: UInt32(idat.count - 4).bigEndian, Array.init) + idat
        bytes += withUnsafeBytes(of: crc32(idat).bigEndian, Array.init)
        let iend: [UInt8] = Array("IEND".utf8)
        bytes += [0, 0, 0, 0] + iend + withUnsafeBytes(of: crc32(iend).bigEndian, Array.init)
        return bytes
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
        }
        return ~crc
    }
}
