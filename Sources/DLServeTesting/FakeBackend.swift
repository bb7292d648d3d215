import protocol DLServing.ServingTask
import enum DLServing.ServingError
import DLServe
import Foundation

/// A backend with no engine behind it, for testing the HTTP layer: models
/// and versions are plain values, inference is a formula, and the test
/// controls readiness, delays and the queue bound.
///
/// The "model" takes pixels of shape [28, 28] (or [1, 28, 28], or 784 values)
/// with values in 0...1, and scores class k with logit `-|k - 10 * mean|`;
/// so a uniform image of value v is classified as `round(10 * v)` clamped to
/// 0...9. V2 infer returns the softmax probabilities as output "probabilities"
/// of shape [batch, 10].
public actor FakeBackend: ServingBackend {
    public static let labels = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    public struct FakeModel: Sendable {
        public var name: String
        public var versions: [Int: String]  // version -> state
        public var serving: Int?
        public var error: String?

        public init(name: String, versions: [Int: String], serving: Int?, error: String? = nil) {
            self.name = name
            self.versions = versions
            self.serving = serving
            self.error = error
        }
    }

    public var models: [String: FakeModel]
    public var ready: Bool
    /// Time each inference takes.
    public var inferenceDelay: Duration
    /// At most this many requests in flight per backend; more answer queueFull.
    public var maxInFlight: Int
    public private(set) var inFlight = 0
    public private(set) var completed = 0
    public private(set) var cancelled = 0
    public private(set) var polls = 0
    public private(set) var started = false
    public private(set) var stopped = false
    /// How long `start` takes (to test shutdown during loading).
    public var startDelay: Duration

    public init(
        models: [FakeModel] = [FakeModel(name: "fashion", versions: [1: "ready", 2: "ready"], serving: 2)],
        ready: Bool = true, inferenceDelay: Duration = .zero, maxInFlight: Int = 1000, startDelay: Duration = .zero
    ) {
        self.models = Dictionary(uniqueKeysWithValues: models.map { ($0.name, $0) })
        self.ready = ready
        self.inferenceDelay = inferenceDelay
        self.maxInFlight = maxInFlight
        self.startDelay = startDelay
    }

    public func set(ready: Bool) { self.ready = ready }
    public func set(inferenceDelay: Duration) { self.inferenceDelay = inferenceDelay }
    public func set(maxInFlight: Int) { self.maxInFlight = maxInFlight }
    public func set(model: FakeModel) { models[model.name] = model }

    // MARK: ServingBackend

    public func start() async throws {
        if startDelay > .zero { try await Task.sleep(for: startDelay) }
        started = true
    }

    public func isReady() async -> Bool { ready && started && !stopped }
    public func poll() async { polls += 1 }
    public func shutdown() async { stopped = true }

    public func models() async -> [ModelStatus] {
        models.values.sorted { $0.name < $1.name }.map(Self.status)
    }

    public func model(_ name: String) async throws -> ModelStatus {
        Self.status(try find(name))
    }

    public func metadata(_ name: String, version: Int?) async throws -> ModelMetadata {
        let model = try find(name)
        if let version, model.versions[version] == nil { throw ServeFailure.versionNotFound(model: name, version: version) }
        return ModelMetadata(
            name: name, versions: model.versions.keys.sorted().map(String.init), platform: "dlserve",
            inputs: [TensorMetadata(name: "input", shape: [-1, 1, 28, 28])],
            outputs: [TensorMetadata(name: "probabilities", shape: [-1, 10])])
    }

    public func isModelReady(_ name: String, version: Int?) async throws -> Bool {
        let model = try find(name)
        guard let version = version ?? model.serving else { return false }
        guard let state = model.versions[version] else { throw ServeFailure.versionNotFound(model: name, version: version) }
        return state == "ready"
    }

    public func classify(_ request: ClassifyRequest) async throws -> ClassifyResult {
        let version = try resolve(request.model, request.version)
        let pixels: [Float]
        switch request.input {
        case .encodedImage(let bytes, _):
            // No decoder here: the image's mean byte stands in for its pixels.
            let mean = bytes.isEmpty ? 0 : Float(bytes.reduce(0) { $0 + Int($1) }) / Float(bytes.count) / 255
            pixels = [Float](repeating: mean, count: 784)
        case .pixels(let data, let shape):
            guard data.count == 784, [[28, 28], [1, 28, 28], [784], [1, 784]].contains(shape) else {
                throw ServeFailure.badRequest("expected 28x28 pixels, got shape \(shape)")
            }
            pixels = data
        }
        let (queueSeconds, inferenceSeconds) = try await runSlot()
        let probabilities = Self.probabilities(pixels)
        let top = probabilities.enumerated().sorted { $0.element > $1.element }.prefix(request.topK)
        return ClassifyResult(
            model: request.model, version: version,
            predictions: top.map { LabelScore(label: Self.labels[$0.offset], index: $0.offset, probability: $0.element) },
            queueSeconds: queueSeconds, inferenceSeconds: inferenceSeconds, batchSize: 1)
    }

    /// The fake serves classification only: any task route finds the model
    /// (or answers unknown_model) and then refuses it as the engine refuses a
    /// model of another task.
    public func perform<T: ServingTask>(_ task: T, model: String, version: Int?, request: T.Request, requestID: String) async throws -> T.Response {
        _ = try resolve(model, version)
        throw ServingError.unsupportedTask(model: model, task: "classification", operation: T.route)
    }

    public func infer(_ request: TensorInferRequest) async throws -> TensorInferResult {
        let version = try resolve(request.model, request.version)
        guard request.inputs.count == 1, let input = request.inputs.first else {
            throw ServeFailure.badRequest("expected one input, got \(request.inputs.count)")
        }
        guard input.shape.count >= 2, input.shape.dropFirst().reduce(1, *) == 784 else {
            throw ServeFailure.badRequest("input '\(input.name)': expected shape [N, 1, 28, 28], got \(input.shape)")
        }
        if let unknown = request.outputs.first(where: { $0 != "probabilities" }) {
            throw ServeFailure.badRequest("unknown output '\(unknown)'")
        }
        _ = try await runSlot()
        let batch = input.shape[0]
        var out: [Float] = []
        for b in 0..<batch {
            out += Self.probabilities(Array(input.data[(b * 784)..<((b + 1) * 784)]))
        }
        return TensorInferResult(model: request.model, version: version, outputs: [NamedTensor(name: "probabilities", shape: [batch, 10], data: out)])
    }

    public func load(_ name: String) async throws -> ModelStatus {
        var model = try find(name)
        guard let newest = model.versions.keys.max() else { throw ServeFailure.loadFailed(model: name, reason: "no versions") }
        if model.versions[newest] == "failed" {
            model.error = "version \(newest) is corrupt"
            models[name] = model
            throw ServeFailure.loadFailed(model: name, reason: "version \(newest) is corrupt")
        }
        model.versions[newest] = "ready"
        model.serving = newest
        model.error = nil
        models[name] = model
        return Self.status(model)
    }

    public func unload(_ name: String) async throws -> ModelStatus {
        var model = try find(name)
        for key in model.versions.keys { model.versions[key] = "unloaded" }
        model.serving = nil
        models[name] = model
        return Self.status(model)
    }

    // MARK: helpers

    func find(_ name: String) throws -> FakeModel {
        guard let model = models[name] else { throw ServeFailure.modelNotFound(name) }
        return model
    }

    func resolve(_ name: String, _ version: Int?) throws -> Int {
        if stopped { throw ServeFailure.shuttingDown }
        let model = try find(name)
        if let version {
            guard let state = model.versions[version] else { throw ServeFailure.versionNotFound(model: name, version: version) }
            guard state == "ready" else { throw ServeFailure.modelUnavailable(model: name, reason: "version \(version) is \(state)") }
            return version
        }
        guard let serving = model.serving, model.versions[serving] == "ready" else {
            throw ServeFailure.modelUnavailable(model: name, reason: "no version is loaded")
        }
        return serving
    }

    /// Takes a slot in the bounded "queue", waits the inference delay.
    func runSlot() async throws -> (Double, Double) {
        guard inFlight < maxInFlight else { throw ServeFailure.queueFull(model: "fake", retryAfterSeconds: 1) }
        inFlight += 1
        defer { inFlight -= 1 }
        let start = ContinuousClock.now
        do {
            if inferenceDelay > .zero { try await Task.sleep(for: inferenceDelay) }
        } catch {
            cancelled += 1
            throw error
        }
        completed += 1
        let elapsed = ContinuousClock.now - start
        return (0, Double(elapsed.components.attoseconds) * 1e-18 + Double(elapsed.components.seconds))
    }

    static func status(_ model: FakeModel) -> ModelStatus {
        let state: String
        if let serving = model.serving, model.versions[serving] == "ready" {
            state = "ready"
        } else if model.versions.values.contains("loading") {
            state = "loading"
        } else {
            state = model.versions.values.allSatisfy { $0 == "unloaded" } ? "unloaded" : "unavailable"
        }
        return ModelStatus(
            name: model.name, task: "classification", servingVersion: model.serving, state: state,
            versions: model.versions.keys.sorted().map { VersionStatus(version: $0, state: model.versions[$0]!) },
            error: model.error)
    }

    /// Softmax of logits `-|k - 10 * mean|`, k = 0...9.
    public static func probabilities(_ pixels: [Float]) -> [Float] {
        let mean = pixels.reduce(0, +) / Float(max(pixels.count, 1))
        let logits = (0..<10).map { -abs(Float($0) - 10 * mean) }
        let m = logits.max()!
        let e = logits.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}
