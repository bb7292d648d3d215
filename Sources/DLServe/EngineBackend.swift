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

    public func models() async -> [ModelStatus] { engine.models() }

    public func model(_ name: String) async throws -> ModelStatus {
        try engine.status(model: name)
    }

    public func metadata(_ name: String, version: Int?) async throws -> ModelMetadata {
        try engine.metadata(model: name, version: version)
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

    public func infer(_ request: TensorInferRequest) async throws -> TensorInferResult {
        let r = try await engine.infer(
            model: request.model, version: request.version, inputs: request.inputs, outputs: request.outputs,
            deadline: .now + requestTimeout, requestID: request.requestID)
        return TensorInferResult(model: r.model, version: r.version, outputs: r.outputs)
    }

    public func load(_ name: String) async throws -> ModelStatus {
        try await engine.load(model: name)
    }

    public func unload(_ name: String) async throws -> ModelStatus {
        try engine.unload(model: name)
    }
}
