import DLKernels
import DLNN
@testable import DLServing
import DLTensor
import DLTesting
import DLVision
import Foundation
import XCTest

/// Real models in a real repository on disk: GraphModel + safetensors written
/// with `ModelRepository.publish`, served from files.
final class RepositoryServingTests: XCTestCase {
    static let classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("dlserve-serving-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    var repository: ModelRepository { ModelRepository(root: root) }

    /// A small MLP classifier for 1x28x28 images.
    static func spec(hidden: Int = 32) -> ModelSpec {
        ModelSpec(inputShape: [1, 28, 28], layers: [
            LayerSpec(name: "flat", type: "flatten", inputs: ["input"]),
            LayerSpec(name: "fc1", type: "dense", inputs: ["flat"], attrs: ["units": .number(Double(hidden))]),
            LayerSpec(name: "act", type: "relu", inputs: ["fc1"]),
            LayerSpec(name: "fc2", type: "dense", inputs: ["act"], attrs: ["units": 10]),
        ])
    }

    func makeModel(name: String = "fmnist", maxBatchSize: Int = 8, delayMs: Double = 5) throws {
        try repository.writeConfig(ModelConfig(
            name: name, labels: Self.classes,
            input: .init(shape: [1, 28, 28], preprocessing: .init(mean: [0.2860], std: [0.3530])),
            serving: .init(maxBatchSize: maxBatchSize, maxQueueDelayMs: delayMs)))
    }

    @discardableResult
    func publish(name: String = "fmnist", seed: UInt64, hidden: Int = 32) throws -> Int {
        try repository.publish(name: name) { dir in try GraphModel(spec: Self.spec(hidden: hidden), seed: seed).save(to: dir) }
    }

    func engine(workers: Int = 2) async throws -> ServingEngine {
        let e = ServingEngine(repository: root, options: .testing(workers: workers))
        try await e.start()
        return e
    }

    static func input(_ i: Int) -> Tensor {
        var g = SeededGenerator(seed: UInt64(1000 + i))
        return Tensor.uniform([1, 1, 28, 28], low: 0, high: 1, rng: &g)
    }

    func testBatchedOutputsEqualUnbatchedInferenceOfTheSameFiles() async throws {
        try makeModel(maxBatchSize: 8, delayMs: 20)
        try publish(seed: 1)
        let reference = try GraphModel.load(from: repository.directory(of: "fmnist", version: 1))
        let e = try await engine()
        let results = await concurrently(16) { i in try await e.infer(model: "fmnist", input: Self.input(i)) }
        await e.shutdown()
        var batchSizes: [Int] = []
        for (i, r) in results.enumerated() {
            let out = try r.get()
            batchSizes.append(out.batchSize)
            assertClose(out.output, reference.infer(Self.input(i)), rtol: 1e-5, atol: 1e-5, "request \(i)")
        }
        XCTAssertGreaterThan(batchSizes.max()!, 1, "requests were batched: \(batchSizes)")
        XCTAssertLessThanOrEqual(batchSizes.max()!, 8)
    }

    func testClassifyPNGAndJPEGFiles() async throws {
        try makeModel()
        try publish(seed: 2)
        let model = try GraphModel.load(from: repository.directory(of: "fmnist", version: 1))
        let e = try await engine()
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../DLVisionTests/Fixtures").standardized
        for (file, type) in [("fmnist-0.png", "image/png"), ("fmnist-0.jpg", "image/jpeg")] {
            let data = try Data(contentsOf: fixtures.appendingPathComponent(file))
            let r = try await e.classify(model: "fmnist", input: .encoded(data, mediaType: type), topK: 3, requestID: "req-1")
            XCTAssertEqual(r.version, 1)
            XCTAssertEqual(r.requestID, "req-1")
            XCTAssertEqual(r.predictions.count, 3)
            // Reference: decode + preprocess + infer + softmax by hand.
            let x = try ImagePreprocessing(channels: 1, height: 28, width: 28, mean: [0.2860], std: [0.3530])
                .tensor(from: ImageDecoder().decode(data))
            let logits = model.infer(x).data
            let m = logits.max()!
            let z = logits.map { exp($0 - m) }.reduce(0, +)
            let probs = logits.map { exp($0 - m) / z }
            let order = probs.indices.sorted { probs[$0] > probs[$1] }
            XCTAssertEqual(r.predictions.map(\.index), Array(order.prefix(3)), file)
            XCTAssertEqual(r.predictions.map(\.label), order.prefix(3).map { Self.classes[$0] })
            assertClose(r.predictions.map(\.probability), order.prefix(3).map { probs[$0] }, rtol: 1e-5, atol: 1e-6)
        }
        // Bad images are typed client errors.
        await assertThrows(.unsupportedMediaType("the data is neither PNG nor JPEG")) {
            try await e.classify(model: "fmnist", input: .encoded(Data("hello".utf8), mediaType: nil))
        }
        let bomb = try Data(contentsOf: fixtures.appendingPathComponent("bomb-100000x100000.png"))
        await assertThrows(.imageTooLarge(width: 100000, height: 100000, maxPixels: 4096 * 4096)) {
            try await e.classify(model: "fmnist", input: .encoded(bomb, mediaType: "image/png"))
        }
        let truncated = try Data(contentsOf: fixtures.appendingPathComponent("corrupt-truncated.png"))
        do {
            _ = try await e.classify(model: "fmnist", input: .encoded(truncated, mediaType: "image/png"))
            XCTFail("expected invalid input")
        } catch ServingError.invalidInput(let m) {
            XCTAssertTrue(m.contains("corrupt PNG"), m)
        }
        // Raw pixels (a JSON pixel array) and a ready tensor give the same answer as the file.
        let image = try ImageDecoder().decode(Data(contentsOf: fixtures.appendingPathComponent("fmnist-0.png")))
        let viaPixels = try await e.classify(model: "fmnist", input: .image(image), topK: 10)
        XCTAssertEqual(viaPixels.predictions.count, 10)
        XCTAssertEqual(viaPixels.predictions.map(\.probability).reduce(0, +), 1, accuracy: 1e-5)
        let viaArray = try await e.classify(model: "fmnist", input: .pixels(image.pixels.map(Float.init), shape: [28, 28]), topK: 10)
        XCTAssertEqual(viaArray.predictions.map(\.index), viaPixels.predictions.map(\.index))
        assertClose(viaArray.predictions.map(\.probability), viaPixels.predictions.map(\.probability), rtol: 1e-5, atol: 1e-7)
        await assertThrows(.invalidInput("invalid pixel array: value 300.0 at index 0 is not in 0...255")) {
            try await e.classify(model: "fmnist", input: .pixels([300] + [Float](repeating: 0, count: 783), shape: [28, 28]))
        }
        let status = try e.status(model: "fmnist")
        XCTAssertEqual(status.task, "classification")
        XCTAssertEqual(status.state, "ready")
        XCTAssertEqual(status.signature?.labels, Self.classes)
        XCTAssertEqual(status.signature?.preprocessing?.image?.mean, [0.2860])
        XCTAssertEqual(status.signature?.outputs.map(\.name), ["output", "probabilities"])
        XCTAssertEqual(status.signature?.inputs.map(\.datatype), ["FP32", "UINT8"])
        await e.shutdown()
    }

    func testHotReloadToAPublishedVersionWhileRequestsRun() async throws {
        try makeModel()
        try publish(seed: 1)
        let e = try await engine()
        let stop = Locked(false)
        let traffic = Task {
            await concurrently(3) { i in
                var versions: [Int] = []
                while !stop.current {
                    versions.append(try await e.infer(model: "fmnist", input: Self.input(i)).version)
                }
                return versions
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        XCTAssertEqual(try publish(seed: 2), 2)
        await e.poll()
        try await Task.sleep(for: .milliseconds(100))
        stop.withLock { $0 = true }
        var seen: [Int] = []
        for r in await traffic.value { seen += try r.get() }   // no failures
        XCTAssertTrue(seen.contains(1) && seen.contains(2), "\(Set(seen))")
        let v2 = try GraphModel.load(from: repository.directory(of: "fmnist", version: 2))
        let r = try await e.infer(model: "fmnist", input: Self.input(0))
        XCTAssertEqual(r.version, 2)
        assertClose(r.output, v2.infer(Self.input(0)), rtol: 1e-5, atol: 1e-5)
        await e.shutdown()
    }

    func testACorruptNewVersionOnDiskLeavesTheOldOneServing() async throws {
        try makeModel()
        try publish(seed: 1)
        let e = try await engine()
        // A version copied by hand with a truncated weights file.
        let good = try repository.directory(of: "fmnist", version: 1)
        let bad = try repository.directory(of: "fmnist", version: 2)
        try FileManager.default.createDirectory(at: bad, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: good.appendingPathComponent("model.json"), to: bad.appendingPathComponent("model.json"))
        let weights = try Data(contentsOf: good.appendingPathComponent("weights.safetensors"))
        try weights.prefix(weights.count / 2).write(to: bad.appendingPathComponent("weights.safetensors"))
        await e.poll()
        let status = try e.status(model: "fmnist")
        XCTAssertEqual(status.defaultVersion, 1)
        let v2 = try XCTUnwrap(status.versions.first { $0.version == 2 })
        guard case .failed(let message) = v2.state else { return XCTFail("\(v2.state)") }
        XCTAssertTrue(message.contains("version 2"), message)
        let got1 = try await e.infer(model: "fmnist", input: Self.input(0)).version
        XCTAssertEqual(got1, 1)
        XCTAssertTrue(e.isReady)
        // Fixing the files (a new fingerprint) brings version 2 in at the next poll.
        try weights.write(to: bad.appendingPathComponent("weights.safetensors"))
        await e.poll()
        XCTAssertEqual(try e.status(model: "fmnist").defaultVersion, 2)
        await e.shutdown()
    }

    func testABadConfigKeepsWhatServesAndSaysWhy() async throws {
        try makeModel()
        try publish(seed: 1)
        let e = try await engine()
        try Data(#"{"name": "fmnist", "task": "classification", "input": {"shape": [1, 28, 28]}, "serving": {"max_batchsize": 4}}"#.utf8)
            .write(to: repository.directory(of: "fmnist").appendingPathComponent("config.json"))
        await e.poll()   // the config's fingerprint changed: version 1 reloads, fails, keeps serving
        let v1 = try XCTUnwrap(try e.status(model: "fmnist").versions.first)
        XCTAssertEqual(v1.state, .ready)
        XCTAssertTrue(v1.lastError?.contains("max_batchsize") == true, v1.lastError ?? "no error")
        let got2 = try await e.infer(model: "fmnist", input: Self.input(0)).version
        XCTAssertEqual(got2, 1)
        await e.shutdown()
    }

    func testAMissingRepositoryFailsStartUpAndRecoversWhenItAppears() async throws {
        let missing = root.appendingPathComponent("not-yet")
        let e = ServingEngine(repository: missing, options: .testing())
        do {
            try await e.start()
            XCTFail("expected repositoryUnavailable")
        } catch ServingError.repositoryUnavailable(let m) {
            XCTAssertTrue(m.contains("not-yet"), m)
        }
        XCTAssertFalse(e.isReady)
        XCTAssertTrue(e.isLive)
        let repo = ModelRepository(root: missing)
        try repo.writeConfig(ModelConfig(name: "fmnist", labels: Self.classes, input: .init(shape: [1, 28, 28])))
        try repo.publish(name: "fmnist") { try GraphModel(spec: Self.spec(), seed: 3).save(to: $0) }
        await e.poll()
        XCTAssertTrue(e.isReady)
        let got = try await e.infer(model: "fmnist", input: Self.input(0))
        XCTAssertEqual(got.version, 1)
        await e.shutdown()
    }

    /// Resident set size from /proc/self/statm (pages -> bytes).
    static func rss() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = s.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    func testMemoryDoesNotGrowAcrossFiftyReloads() async throws {
        // ~0.8 MB of weights per instance: 50 leaked instances would be 40 MB.
        try makeModel()
        try publish(seed: 1, hidden: 256)
        let e = try await engine()
        let stop = Locked(false)
        let traffic = Task {
            await concurrently(2) { i in
                var n = 0
                while !stop.current {
                    _ = try await e.infer(model: "fmnist", input: Self.input(i))
                    n += 1
                }
                return n
            }
        }
        for _ in 0..<5 { try await e.load(model: "fmnist") }   // warm the allocator
        try await Task.sleep(for: .milliseconds(50))
        let before = Self.rss()
        for _ in 0..<50 { try await e.load(model: "fmnist") }
        stop.withLock { $0 = true }
        for r in await traffic.value { XCTAssertGreaterThan(try r.get(), 0) }
        try await Task.sleep(for: .milliseconds(100))
        let after = Self.rss()
        let status = try e.status(model: "fmnist")
        XCTAssertEqual(status.versions.map(\.state), [.ready])
        print("RSS across 50 reloads: \(before >> 10) KiB -> \(after >> 10) KiB")
        XCTAssertLessThan(after - before, 16 << 20, "RSS grew from \(before >> 20) MB to \(after >> 20) MB across 50 reloads")
        await e.shutdown()
    }

    /// The version is unloading until its last references (an inference's,
    /// a worker's) go, later in a busy full test run: waits up to 3 s for
    /// "unloaded" and `done`, then returns the RSS.
    private static func untilUnloaded(_ e: ServingEngine, and done: () -> Bool) async throws -> Int {
        for _ in 0..<30 {
            try await Task.sleep(for: .milliseconds(100))
            if try e.status(model: "fmnist").versions.map(\.state) == [.unloaded] && done() { break }
        }
        try await Task.sleep(for: .milliseconds(100))
        return rss()
    }

    func testUnloadFreesTheMemory() async throws {
        try makeModel()
        try publish(seed: 1, hidden: 4_000)
        // As after an in-process `dlserve train` earlier in a test run (which
        // failed this test in CI): the engine must set its own allocator mode.
        Kernels.keepFreedMemoryForReuse()
        let e = try await engine()
        // One load, inference and unload first: what the first inference of a
        // process allocates once and keeps (BLAS buffers, worker threads and
        // their heaps; in a full test run that was 60 MB) is not the model's.
        _ = try await e.infer(model: "fmnist", input: Self.input(0))
        try e.unload(model: "fmnist")
        _ = try await Self.untilUnloaded(e, and: { true })
        // RSS with the ~12.5 MB model unloaded. Its weights are mapped (not
        // carved from heap memory freed earlier), so loading shows in RSS, and
        // after the unload the process must be back near this level (a kept
        // model would stay 12.5 MB above it).
        let base = Self.rss()
        try await e.load(model: "fmnist")
        _ = try await e.infer(model: "fmnist", input: Self.input(0))
        let loaded = Self.rss()
        try e.unload(model: "fmnist")
        let unloaded = try await Self.untilUnloaded(e, and: { Self.rss() - base < 8 << 20 })
        XCTAssertEqual(try e.status(model: "fmnist").versions.map(\.state), [.unloaded])
        XCTAssertGreaterThan(loaded - base, 10 << 20, "loading a 12.5 MB model raised RSS by \((loaded - base) >> 10) KiB")
        print("RSS base \(base >> 10) KiB, loaded \(loaded >> 10) KiB, unloaded \(unloaded >> 10) KiB")
        XCTAssertLessThan(unloaded - base, 8 << 20, "RSS \(base >> 20) MB before, \(loaded >> 20) MB loaded, \(unloaded >> 20) MB unloaded")
        await e.shutdown()
    }
}
