import DLNN
import DLTensor
import Foundation

/// A model repository in a temporary directory for tests of the real engine
/// behind HTTP.
///
/// Its Fashion-MNIST model is either the shipped trained model
/// (`models/fashion-mnist` of the repository, when present) or a
/// *prototype classifier* built here: flatten -> dense(10), whose weight row k
/// is the centred, unit-length mean of the example images of class k (after
/// the model's own preprocessing), and whose bias puts classes without
/// examples far below. It labels its own examples right by construction, so
/// a test checks the whole path (PNG/JPEG decoding, preprocessing, batching,
/// the engine, the label) without a training run.
public struct TestRepository: Sendable {
    public static let labels = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]
    public static let mean: Float = 0.2860
    public static let std: Float = 0.3530

    public let root: URL
    public var repository: ModelRepository { ModelRepository(root: root) }

    public init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("dlserve-http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    /// A repository at `root` (created when something is written).
    public init(root: URL) {
        self.root = root
    }

    public func remove() {
        try? FileManager.default.removeItem(at: root)
    }

    /// The trained model the repository ships, if it exists.
    public static func shippedModel(from file: StaticString = #filePath) -> URL? {
        var dir = URL(fileURLWithPath: "\(file)").deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("models/fashion-mnist")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("config.json").path) { return candidate }
            dir.deleteLastPathComponent()
        }
        return nil
    }

    /// Copies a model directory (config.json and versions) in under `name`.
    public func copyModel(from source: URL, as name: String) throws {
        let destination = root.appendingPathComponent(name)
        try FileManager.default.copyItem(at: source, to: destination)
        // The copy's directory name differs from the config's, so read the
        // file directly rather than through the (name-checking) repository.
        var config = try JSONFile.decode(ModelConfig.self, from: destination.appendingPathComponent("config.json"))
        config.name = name
        try repository.writeConfig(config)
    }

    /// Writes `name/config.json` for a 1x28x28 grayscale classifier.
    public func writeConfig(name: String, maxBatchSize: Int = 16, maxQueueDelayMs: Double = 2, queueCapacity: Int = 256, timeoutMs: Int = 5000) throws {
        try repository.writeConfig(
            ModelConfig(
                name: name, labels: Self.labels,
                input: .init(shape: [1, 28, 28], preprocessing: .init(mean: [Self.mean], std: [Self.std])),
                serving: .init(maxBatchSize: maxBatchSize, maxQueueDelayMs: maxQueueDelayMs, queueCapacity: queueCapacity, timeoutMs: timeoutMs)))
    }

    /// Publishes a prototype classifier of the examples (label, 784 pixels in
    /// 0...255) as the next version; returns the version.
    @discardableResult
    public func publishPrototype(name: String, examples: [(label: Int, pixels: [Float])]) throws -> Int {
        let spec = ModelSpec(
            inputShape: [1, 28, 28],
            layers: [
                LayerSpec(name: "flat", type: "flatten", inputs: ["input"]),
                LayerSpec(name: "fc", type: "dense", inputs: ["flat"], attrs: ["units": 10]),
            ])
        let model = try GraphModel(spec: spec, seed: 1)
        let (weight, bias) = Self.prototypeWeights(examples)
        try model.loadStateDict(["fc.weight": Tensor(shape: [10, 784], data: weight), "fc.bias": Tensor(shape: [10], data: bias)])
        return try repository.publish(name: name) { dir in try model.save(to: dir) }
    }

    /// Publishes a randomly initialised MLP 784 -> hidden -> hidden -> 10: slow
    /// enough (two hidden x hidden products) to fill a queue in a burst test.
    @discardableResult
    public func publishSlow(name: String, hidden: Int = 2048) throws -> Int {
        let spec = ModelSpec(
            inputShape: [1, 28, 28],
            layers: [
                LayerSpec(name: "flat", type: "flatten", inputs: ["input"]),
                LayerSpec(name: "fc1", type: "dense", inputs: ["flat"], attrs: ["units": .number(Double(hidden))]),
                LayerSpec(name: "act1", type: "relu", inputs: ["fc1"]),
                LayerSpec(name: "fc2", type: "dense", inputs: ["act1"], attrs: ["units": .number(Double(hidden))]),
                LayerSpec(name: "act2", type: "relu", inputs: ["fc2"]),
                LayerSpec(name: "fc3", type: "dense", inputs: ["act2"], attrs: ["units": 10]),
            ])
        let model = try GraphModel(spec: spec, seed: 7)
        return try repository.publish(name: name) { dir in try model.save(to: dir) }
    }

    /// Copies version `from` as a new version with its weights cut in half: a corrupt version.
    @discardableResult
    public func publishCorruptCopy(name: String, of version: Int) throws -> Int {
        let next = (try repository.versions(of: name).max() ?? 0) + 1
        let good = try repository.directory(of: name, version: version)
        let bad = root.appendingPathComponent(name).appendingPathComponent(String(next))
        // Written beside and renamed, as an operator's copy would land.
        let staging = root.appendingPathComponent(".staging-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: good.appendingPathComponent("model.json"), to: staging.appendingPathComponent("model.json"))
        let weights = try Data(contentsOf: good.appendingPathComponent("weights.safetensors"))
        try weights.prefix(weights.count / 2).write(to: staging.appendingPathComponent("weights.safetensors"))
        try FileManager.default.moveItem(at: staging, to: bad)
        return next
    }

    /// Row k: centred, unit-length class mean of the preprocessed examples.
    static func prototypeWeights(_ examples: [(label: Int, pixels: [Float])]) -> (weight: [Float], bias: [Float]) {
        let n = 784
        var sums = [[Float]](repeating: [Float](repeating: 0, count: n), count: 10)
        var counts = [Int](repeating: 0, count: 10)
        for example in examples {
            precondition(example.pixels.count == n, "prototype: an example has \(example.pixels.count) pixels, expected 784")
            counts[example.label] += 1
            for i in 0..<n { sums[example.label][i] += (example.pixels[i] / 255 - mean) / std }
        }
        let present = (0..<10).filter { counts[$0] > 0 }
        var templates = sums
        for k in present { templates[k] = sums[k].map { $0 / Float(counts[k]) } }
        var centre = [Float](repeating: 0, count: n)
        for k in present { for i in 0..<n { centre[i] += templates[k][i] / Float(present.count) } }
        var weight = [Float](repeating: 0, count: 10 * n)
        var bias = [Float](repeating: -1000, count: 10)
        for k in present {
            var row = (0..<n).map { templates[k][$0] - centre[$0] }
            let norm = max(row.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-6)
            row = row.map { $0 / norm }
            weight.replaceSubrange((k * n)..<((k + 1) * n), with: row)
            bias[k] = -zip(row, centre).reduce(0) { $0 + $1.0 * $1.1 }
        }
        return (weight, bias)
    }
}
