import DLServing
/// What the HTTP layer needs from the serving engine. The HTTP layer is thin:
/// it decodes a request into one of these value types, calls the backend, and
/// encodes what comes back. Every method may throw a `ServingError` (or the
/// engine's own error type, mapped in `APIError.init(mapping:)`).
///
/// The daemon satisfies it with the engine of target DLServing; tests use a
/// fake (DLServeTesting).
public protocol ServingBackend: TaskPerformer {
    /// Loads, validates and warms every model of the repository. Returns when
    /// the start-up set is loaded (models that fail to load are reported in
    /// their status, not thrown).
    func start() async throws
    /// True once `start` has finished and the backend is not shutting down.
    func isReady() async -> Bool
    /// Scans the repository for new or removed versions (hot reload).
    func poll() async
    /// Stops accepting work, finishes queued work, frees models.
    func shutdown() async

    /// Every model, its versions and their states.
    func models() async -> [ModelStatus]
    /// One model; throws `ServingError.modelNotFound` if unknown.
    func model(_ name: String) async throws -> ModelStatus
    /// V2 metadata of a model (a pinned version or the serving one).
    func metadata(_ name: String, version: Int?) async throws -> ModelMetadata
    /// True when that model (version) can answer inference now.
    func isModelReady(_ name: String, version: Int?) async throws -> Bool

    /// Raw tensor inference (V2 protocol).
    func infer(_ request: TensorInferRequest) async throws -> TensorInferResult
    /// Runs a served task's request on one pinned version of a model.
    func perform<T: ServingTask>(_ task: T, model: String, version: Int?, request: T.Request, requestID: String) async throws -> T.Response

    /// Loads (or reloads) a model's newest version beside the serving one and swaps.
    func load(_ name: String) async throws -> ModelStatus
    /// Stops serving a model and frees its memory.
    func unload(_ name: String) async throws -> ModelStatus
}

// MARK: - Raw tensors

public struct TensorInferRequest: Sendable {
    public var model: String
    public var version: Int?
    /// Inputs with the batch dimension first.
    public var inputs: [NamedTensor]
    /// Requested output names; empty means all.
    public var outputs: [String]
    public var requestID: String

    public init(model: String, version: Int?, inputs: [NamedTensor], outputs: [String], requestID: String) {
        self.model = model
        self.version = version
        self.inputs = inputs
        self.outputs = outputs
        self.requestID = requestID
    }
}

public struct TensorInferResult: Sendable, Equatable {
    public var model: String
    public var version: Int
    public var outputs: [NamedTensor]

    public init(model: String, version: Int, outputs: [NamedTensor]) {
        self.model = model
        self.version = version
        self.outputs = outputs
    }
}
