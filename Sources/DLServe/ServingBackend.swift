import DLServing
/// What the HTTP layer needs from the serving engine. The HTTP layer is thin:
/// it decodes a request into one of these value types, calls the backend, and
/// encodes what comes back. Every method may throw a `ServeFailure` (or the
/// engine's own error type, mapped in `APIError.init(mapping:)`).
///
/// The daemon satisfies it with the engine of target DLServing; tests use a
/// fake (DLServeTesting).
public protocol ServingBackend: Sendable {
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
    /// One model; throws `ServeFailure.modelNotFound` if unknown.
    func model(_ name: String) async throws -> ModelStatus
    /// V2 metadata of a model (a pinned version or the serving one).
    func metadata(_ name: String, version: Int?) async throws -> ModelMetadata
    /// True when that model (version) can answer inference now.
    func isModelReady(_ name: String, version: Int?) async throws -> Bool

    /// Classification of one image or pixel array.
    func classify(_ request: ClassifyRequest) async throws -> ClassifyResult
    /// Raw tensor inference (V2 protocol).
    func infer(_ request: TensorInferRequest) async throws -> TensorInferResult
    /// Runs a served task's request on one pinned version of a model.
    func perform<T: ServingTask>(_ task: T, model: String, version: Int?, request: T.Request, requestID: String) async throws -> T.Response

    /// Loads (or reloads) a model's newest version beside the serving one and swaps.
    func load(_ name: String) async throws -> ModelStatus
    /// Stops serving a model and frees its memory.
    func unload(_ name: String) async throws -> ModelStatus
}

// MARK: - Status and metadata

public struct ModelStatus: Codable, Sendable, Equatable {
    public var name: String
    public var task: String
    /// The version answering unpinned requests, if any.
    public var servingVersion: Int?
    /// One of: loading, ready, unavailable, failed, unloaded.
    public var state: String
    public var versions: [VersionStatus]
    /// The most recent load error, if any.
    public var error: String?
    /// Requests waiting in the model's queue.
    public var queueDepth: Int?

    public init(
        name: String, task: String, servingVersion: Int?, state: String, versions: [VersionStatus], error: String? = nil,
        queueDepth: Int? = nil
    ) {
        self.name = name
        self.task = task
        self.servingVersion = servingVersion
        self.state = state
        self.versions = versions
        self.error = error
        self.queueDepth = queueDepth
    }

    enum CodingKeys: String, CodingKey {
        case name, task, state, versions, error
        case servingVersion = "serving_version"
        case queueDepth = "queue_depth"
    }
}

public struct VersionStatus: Codable, Sendable, Equatable {
    public var version: Int
    /// One of: unloaded, loading, ready, failed, unloading.
    public var state: String
    public var error: String?
    /// True when this version answers requests (the default one, or a pinned one the policy keeps).
    public var serving: Bool?

    public init(version: Int, state: String, error: String? = nil, serving: Bool? = nil) {
        self.version = version
        self.state = state
        self.error = error
        self.serving = serving
    }
}

/// Tensor metadata as the V2 protocol describes it (`-1` for a variable dimension).
public struct TensorMetadata: Codable, Sendable, Equatable {
    public var name: String
    public var datatype: String
    public var shape: [Int]

    public init(name: String, datatype: String = "FP32", shape: [Int]) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
    }
}

public struct ModelMetadata: Codable, Sendable, Equatable {
    public var name: String
    public var versions: [String]
    public var platform: String
    public var inputs: [TensorMetadata]
    public var outputs: [TensorMetadata]

    public init(name: String, versions: [String], platform: String = "dlserve", inputs: [TensorMetadata], outputs: [TensorMetadata]) {
        self.name = name
        self.versions = versions
        self.platform = platform
        self.inputs = inputs
        self.outputs = outputs
    }
}

// MARK: - Classification

public enum ClassifyInput: Sendable, Equatable {
    /// Encoded image bytes with their media type (image/png, image/jpeg).
    case encodedImage([UInt8], mediaType: String)
    /// Pixel values, row-major, with their shape without batch ([H, W] or [C, H, W]).
    case pixels([Float], shape: [Int])
}

public struct ClassifyRequest: Sendable {
    public var model: String
    public var version: Int?
    public var input: ClassifyInput
    public var topK: Int
    public var requestID: String

    public init(model: String, version: Int?, input: ClassifyInput, topK: Int, requestID: String) {
        self.model = model
        self.version = version
        self.input = input
        self.topK = topK
        self.requestID = requestID
    }
}

public struct LabelScore: Codable, Sendable, Equatable {
    public var label: String
    public var index: Int
    public var probability: Float

    public init(label: String, index: Int, probability: Float) {
        self.label = label
        self.index = index
        self.probability = probability
    }
}

public struct ClassifyResult: Sendable, Equatable {
    public var model: String
    public var version: Int
    /// Best first, at most top_k entries.
    public var predictions: [LabelScore]
    /// Seconds spent waiting in the queue and running the batch.
    public var queueSeconds: Double
    public var inferenceSeconds: Double
    public var batchSize: Int

    public init(model: String, version: Int, predictions: [LabelScore], queueSeconds: Double, inferenceSeconds: Double, batchSize: Int) {
        self.model = model
        self.version = version
        self.predictions = predictions
        self.queueSeconds = queueSeconds
        self.inferenceSeconds = inferenceSeconds
        self.batchSize = batchSize
    }
}

// MARK: - Raw tensors

public struct NamedTensor: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var data: [Float]

    public init(name: String, shape: [Int], data: [Float]) {
        self.name = name
        self.shape = shape
        self.data = data
    }
}

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
