import DLServe
import DLServing
import DLTasks
import Foundation

/// A backend with no engine behind it, for testing the HTTP layer: models
/// and versions are plain values, inference is a formula, and the test
/// controls readiness, delays and the queue bound.
///
/// The "model" takes pixels of shape [28, 28] (or [1, 28, 28], or 784 values)
/// with values in 0...1, and scores class k with logit `-|k - 10 * mean|`;
/// so a uniform image of value v is classified as `round(10 * v)` clamped to
/// 0...9. V2 infer returns the logits as "output" and their softmax as
/// "probabilities", [batch, 10] each, like a real classifier's signature.
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
        if let version, model.versions[version] == nil { throw ServingError.versionNotFound(model: name, version: version) }
        return ModelMetadata(
            name: name, versions: model.versions.keys.sorted().map(String.init), platform: "dlserve",
            inputs: Self.signature.inputs, outputs: Self.signature.outputs, task: Classification.modelTask,
            labels: Self.labels, preprocessing: Self.signature.preprocessing)
    }

    public func isModelReady(_ name: String, version: Int?) async throws -> Bool {
        let model = try find(name)
        guard let version = version ?? model.serving else { return false }
        guard let state = model.versions[version] else { throw ServingError.versionNotFound(model: name, version: version) }
        return state == "ready"
    }

    /// The fake serves classification only, through the real task's request
    /// and response types: any other task route finds the model (or answers
    /// unknown_model) and then refuses it as the engine refuses a model of
    /// another task.
    public func perform<T: ServingTask>(_ task: T, model: String, version: Int?, request: T.Request, requestID: String) async throws -> T.Response {
        let resolved = try resolve(model, version)
        guard let request = request as? Classification.Request else {
            throw ServingError.unsupportedTask(model: model, task: Classification.modelTask, operation: T.route)
        }
        let start = ContinuousClock.now
        let pixels: [Float]
        switch request.input {
        case .encoded(let bytes, _):
            // No decoder here: the image's mean byte stands in for its pixels.
            let mean = bytes.isEmpty ? 0 : Float(bytes.reduce(0) { $0 + Int($1) }) / Float(bytes.count) / 255
            pixels = [Float](repeating: mean, count: 784)
        case .pixels(let data, let shape):
            guard data.count == 784, [[28, 28], [1, 28, 28], [784], [1, 784]].contains(shape) else {
                throw ServingError.invalidInput("expected 28x28 pixels, got shape \(shape)")
            }
            pixels = data
        case .image, .tensor:
            throw ServingError.invalidInput("the fake takes encoded images or pixel arrays")
        }
        let (queueSeconds, inferenceSeconds) = try await runSlot()
        let top = Probabilities.topK(Self.probabilities(pixels), k: request.topK)
        let elapsed = ContinuousClock.now - start
        let response = Classification.Response(
            model: model, version: resolved,
            predictions: top.map { Classification.Prediction(label: Self.labels[$0.index], index: $0.index, probability: $0.value) },
            batchSize: 1,
            timing: .init(queueMs: queueSeconds * 1000, inferenceMs: inferenceSeconds * 1000,
                          totalMs: Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) * 1e-15),
            requestID: requestID)
        return response as! T.Response
    }

    /// V2 infer with the real signature's names: one input, "input" (FP32
    /// [N, 1, 28, 28] in 0...1) or "image" (UINT8 [N, 28, 28]); outputs
    /// "output" (the logits) and "probabilities", all or those asked for.
    public func infer(_ request: TensorInferRequest) async throws -> TensorInferResult {
        let version = try resolve(request.model, request.version)
        let inputNames = Self.signature.inputs.map(\.name)
        guard request.inputs.count == 1, let input = request.inputs.first else {
            throw ServingError.badRequest("model '\(request.model)' takes one of its inputs (\(inputNames.joined(separator: ", "))), got \(request.inputs.count)")
        }
        guard inputNames.contains(input.name) else {
            throw ServingError.badRequest("model '\(request.model)' has no input '\(input.name)' (its inputs: \(inputNames.joined(separator: ", ")))")
        }
        guard input.shape.count >= 2, input.shape.dropFirst().reduce(1, *) == 784 else {
            throw ServingError.badRequest("input '\(input.name)': expected shape [N, 1, 28, 28], got \(input.shape)")
        }
        let outputNames = Self.signature.outputs.map(\.name)
        if let unknown = request.outputs.first(where: { !outputNames.contains($0) }) {
            throw ServingError.badRequest("model '\(request.model)' has no output '\(unknown)' (its outputs: \(outputNames.joined(separator: ", ")))")
        }
        _ = try await runSlot()
        let batch = input.shape[0]
        let scale: Float = input.name == ModelSignature.imageInput ? 1.0 / 255 : 1
        var logits: [Float] = []
        for b in 0..<batch {
            logits += Self.logits(input.data[(b * 784)..<((b + 1) * 784)].map { $0 * scale })
        }
        let outputs = (request.outputs.isEmpty ? outputNames : request.outputs).map { name in
            NamedTensor(name: name, shape: [batch, 10],
                        data: name == ModelSignature.probabilitiesOutput ? Probabilities.softmaxRows(logits, width: 10) : logits)
        }
        return TensorInferResult(model: request.model, version: version, outputs: outputs)
    }

    public func load(_ name: String) async throws -> ModelStatus {
        var model = try find(name)
        guard let newest = model.versions.keys.max() else { throw ServingError.loadFailed(model: name, message: "no versions") }
        if model.versions[newest] == "failed" {
            model.error = "version \(newest) is corrupt"
            models[name] = model
            throw ServingError.loadFailed(model: name, message: "version \(newest) is corrupt")
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
        guard let model = models[name] else { throw ServingError.unknownModel(name) }
        return model
    }

    func resolve(_ name: String, _ version: Int?) throws -> Int {
        if stopped { throw ServingError.shuttingDown }
        let model = try find(name)
        if let version {
            guard let state = model.versions[version] else { throw ServingError.versionNotFound(model: name, version: version) }
            guard state == "ready" else { throw ServingError.modelNotReady(model: name, reason: "version \(version) is \(state)") }
            return version
        }
        guard let serving = model.serving, model.versions[serving] == "ready" else {
            throw ServingError.modelNotReady(model: name, reason: "no version is loaded")
        }
        return serving
    }

    /// Takes a slot in the bounded "queue", waits the inference delay.
    func runSlot() async throws -> (Double, Double) {
        guard inFlight < maxInFlight else { throw ServingError.queueFull(model: "fake", retryAfterSeconds: 1) }
        inFlight += 1
        defer { inFlight -= 1 }
        let start = ContinuousClock.now
        do {
            // Like the real schedulers, the wait ends when the task is
            // cancelled or the request's scope ends (client gone, deadline).
            if inferenceDelay > .zero {
                let delay = inferenceDelay
                let sleeper = Task { try await Task.sleep(for: delay) }
                try await withRequestCancellation { try await sleeper.value } onCancel: { sleeper.cancel() }
            }
        } catch {
            cancelled += 1
            throw error
        }
        completed += 1
        let elapsed = ContinuousClock.now - start
        return (0, Double(elapsed.components.attoseconds) * 1e-18 + Double(elapsed.components.seconds))
    }

    static func status(_ model: FakeModel) -> ModelStatus {
        let versions = model.versions.keys.sorted().map { v -> VersionStatus in
            let state: VersionState
            switch model.versions[v]! {
            case "ready": state = .ready
            case "loading": state = .loading
            case "unloading": state = .unloading
            case "failed": state = .failed(model.error ?? "failed")
            default: state = .unloaded
            }
            return VersionStatus(version: v, state: state, isDefault: v == model.serving, isServing: state == .ready)
        }
        let serving = model.serving.flatMap { model.versions[$0] == "ready" ? $0 : nil }
        var status = ModelStatus(
            name: model.name, defaultVersion: serving, versions: versions,
            isEnabled: !model.versions.values.allSatisfy { $0 == "unloaded" }, task: Classification.modelTask,
            signature: serving == nil ? nil : signature)
        if let error = model.error, status.lastError == nil, let last = status.versions.indices.last {
            status.versions[last].lastError = error
        }
        return status
    }

    /// What the fake model takes and returns: the same names, types and
    /// descriptions as a real 28x28 grayscale classifier.
    public static let signature = ModelSignature(
        inputs: [
            TensorMetadata(name: ModelSignature.modelInput, datatype: "FP32", shape: [-1, 1, 28, 28],
                           description: "preprocessed pixels: (pixel * scale - mean) / std, see preprocessing"),
            TensorMetadata(name: ModelSignature.imageInput, datatype: "UINT8", shape: [-1, 28, 28],
                           description: "raw 8-bit pixels, preprocessed by the server as classify does"),
        ],
        outputs: [
            TensorMetadata(name: ModelSignature.modelOutput, datatype: "FP32", shape: [-1, 10], description: "logits, one per label"),
            TensorMetadata(name: ModelSignature.probabilitiesOutput, datatype: "FP32", shape: [-1, 10],
                           description: "softmax of output over its last axis, one per label"),
        ],
        labels: labels,
        preprocessing: InputPreprocessing(image: .init(color: "grayscale", height: 28, width: 28, resize: "auto",
                                                       scale: 1.0 / 255, mean: [0], std: [1], invert: false)))

    /// Logits `-|k - 10 * mean|`, k = 0...9.
    public static func logits(_ pixels: [Float]) -> [Float] {
        let mean = pixels.reduce(0, +) / Float(max(pixels.count, 1))
        return (0..<10).map { -abs(Float($0) - 10 * mean) }
    }

    /// Their softmax.
    public static func probabilities(_ pixels: [Float]) -> [Float] {
        Probabilities.softmax(logits(pixels))
    }
}
