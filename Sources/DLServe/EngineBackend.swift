import DLServing
import DLTensor
import Foundation
import Logging

/// `ServingBackend` over the serving core (`DLServing.ServingEngine`): turns
/// the HTTP layer's value types into engine calls and back. The engine's
/// own poller is off (`pollInterval = nil`): the daemon polls from its
/// `ModelPollerService` so that polling is a service of the ServiceGroup.
public final class EngineBackend: ServingBackend {
    public let engine: ServingEngine
    let requestTimeout: Duration
    let drainTimeout: Duration

    public init(engine: ServingEngine, requestTimeout: Duration, drainTimeout: Duration) {
        self.engine = engine
        self.requestTimeout = requestTimeout
        self.drainTimeout = drainTimeout
    }

    /// An engine over the repository at `settings.models`, reporting its
    /// metrics to `metrics`' Prometheus registry.
    public convenience init(settings: ServeSettings, metrics: ServeMetrics, logger: Logger) {
        var options = ServingOptions()
        var engineLogger = logger
        engineLogger[metadataKey: "component"] = "engine"
        options.logger = engineLogger
        if let workers = settings.workers { options.workers = workers }
        options.pollInterval = nil
        options.defaultTimeout = .milliseconds(Int64(settings.requestTimeout * 1000))
        options.metricsFactory = metrics.factory
        let engine = ServingEngine(repository: URL(fileURLWithPath: settings.models), options: options)
        self.init(
            engine: engine, requestTimeout: options.defaultTimeout,
            drainTimeout: .milliseconds(Int64(settings.drainTimeout * 1000)))
    }

    public func start() async throws { try await engine.start() }
    public func isReady() async -> Bool { engine.isReady }
    public func poll() async { await engine.poll() }
    public func shutdown() async { await engine.shutdown(timeout: drainTimeout) }

    public func models() async -> [ModelStatus] { engine.models().map(Self.status) }

    public func model(_ name: String) async throws -> ModelStatus {
        Self.status(try engine.status(model: name))
    }

    public func metadata(_ name: String, version: Int?) async throws -> ModelMetadata {
        let m = try engine.metadata(model: name, version: version)
        return ModelMetadata(
            name: m.name, versions: m.versions, platform: m.platform,
            inputs: m.inputs.map { TensorMetadata(name: $0.name, datatype: $0.datatype, shape: $0.shape) },
            outputs: m.outputs.map { TensorMetadata(name: $0.name, datatype: $0.datatype, shape: $0.shape) })
    }

    public func isModelReady(_ name: String, version: Int?) async throws -> Bool {
        let status = try engine.status(model: name)  // throws unknownModel
        if let version, !status.versions.contains(where: { $0.version == version }) {
            throw ServingError.versionNotFound(model: name, version: version)
        }
        return engine.isReady(model: name, version: version)
    }

    public func perform<T: ServingTask>(_ task: T, model: String, version: Int?, request: T.Request, requestID: String) async throws -> T.Response {
        try await engine.perform(task, model: model, version: version, request: request, deadline: .now + requestTimeout, requestID: requestID)
    }

    public func classify(_ request: ClassifyRequest) async throws -> ClassifyResult {
        let input: DLServing.ClassifyInput
        switch request.input {
        case .encodedImage(let bytes, let mediaType):
            input = .encoded(Data(bytes), mediaType: mediaType)
        case .pixels(let values, let shape):
            input = .pixels(values, shape: shape)
        }
        let r = try await engine.classify(
            model: request.model, version: request.version, input: input, topK: request.topK,
            deadline: .now + requestTimeout, requestID: request.requestID)
        return ClassifyResult(
            model: r.model, version: r.version,
            predictions: r.predictions.map { LabelScore(label: $0.label, index: $0.index, probability: $0.probability) },
            queueSeconds: r.queueTime.seconds, inferenceSeconds: r.computeTime.seconds, batchSize: r.batchSize)
    }

    public func infer(_ request: TensorInferRequest) async throws -> TensorInferResult {
        guard request.inputs.count == 1, let input = request.inputs.first else {
            throw ServeFailure.badRequest("model '\(request.model)' takes one input tensor, got \(request.inputs.count)")
        }
        if let unknown = request.outputs.first(where: { $0 != "output" }) {
            throw ServeFailure.badRequest("model '\(request.model)' has no output '\(unknown)' (its output is 'output')")
        }
        let r = try await engine.infer(
            model: request.model, version: request.version, input: Tensor(shape: input.shape, data: input.data),
            deadline: .now + requestTimeout, requestID: request.requestID)
        return TensorInferResult(
            model: r.model, version: r.version, outputs: [NamedTensor(name: "output", shape: r.output.shape, data: r.output.data)])
    }

    public func load(_ name: String) async throws -> ModelStatus {
        Self.status(try await engine.load(model: name))
    }

    public func unload(_ name: String) async throws -> ModelStatus {
        Self.status(try engine.unload(model: name))
    }

    static func status(_ s: DLServing.ModelStatus) -> ModelStatus {
        ModelStatus(
            name: s.name, task: s.task ?? "unknown", servingVersion: s.defaultVersion, state: s.state,
            versions: s.versions.map { v in
                var error = v.lastError
                if case .failed(let message) = v.state, error == nil { error = message }
                return VersionStatus(version: v.version, state: v.state.name, error: error, serving: v.isServing)
            },
            error: s.lastError, queueDepth: s.queueDepth)
    }
}
