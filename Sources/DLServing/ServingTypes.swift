import DLTensor
import DLVision
import DLNN
import Foundation

/// The life of one model version. Transitions (see `ModelLifecycle`):
/// unloaded -> loading -> ready | failed; ready -> loading (reload, the old
/// instance keeps serving) -> ready; ready -> unloading (retired; requests in
/// flight still hold it) -> unloaded (its memory is free).
public enum VersionState: Sendable, Equatable, CustomStringConvertible {
    case unloaded
    case loading
    case ready
    /// The last load failed with this message; nothing of this version serves.
    case failed(String)
    case unloading

    /// "unloaded", "loading", "ready", "failed", "unloading" (V2 and metrics use these).
    public var name: String {
        switch self {
        case .unloaded: return "unloaded"
        case .loading: return "loading"
        case .ready: return "ready"
        case .failed: return "failed"
        case .unloading: return "unloading"
        }
    }

    public var description: String {
        if case .failed(let m) = self { return "failed: \(m)" }
        return name
    }

    public static let allNames = ["unloaded", "loading", "ready", "failed", "unloading"]
}

/// One version in a model's status. JSON: `{"version", "state", "error",
/// "serving", "default", "since"}`.
public struct VersionStatus: Codable, Sendable, Equatable {
    public var version: Int
    public var state: VersionState
    /// True when unpinned requests go to this version.
    public var isDefault: Bool
    /// True when an instance of this version is in the routing table (it can be pinned).
    /// A version can be `loading` and serving at once: a reload runs beside the old instance.
    public var isServing: Bool
    /// When the state last changed.
    public var since: Date
    /// The last load error, also kept when a failed reload left the old instance serving.
    public var lastError: String?

    public init(version: Int, state: VersionState, isDefault: Bool = false, isServing: Bool = false,
                since: Date = Date(timeIntervalSince1970: 0), lastError: String? = nil) {
        self.version = version
        self.state = state
        self.isDefault = isDefault
        self.isServing = isServing
        self.since = since
        self.lastError = lastError
    }

    enum CodingKeys: String, CodingKey {
        case version, state, error, serving, since
        case isDefault = "default"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(state.name, forKey: .state)
        var error = lastError
        if case .failed(let message) = state, error == nil { error = message }
        try c.encodeIfPresent(error, forKey: .error)
        try c.encode(isServing, forKey: .serving)
        try c.encode(isDefault, forKey: .isDefault)
        try c.encode(since.timeIntervalSince1970, forKey: .since)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(Int.self, forKey: .version)
        lastError = try c.decodeIfPresent(String.self, forKey: .error)
        let name = try c.decode(String.self, forKey: .state)
        switch name {
        case "failed": state = .failed(lastError ?? "")
        case "loading": state = .loading
        case "ready": state = .ready
        case "unloading": state = .unloading
        default: state = .unloaded
        }
        isServing = try c.decodeIfPresent(Bool.self, forKey: .serving) ?? false
        isDefault = try c.decodeIfPresent(Bool.self, forKey: .isDefault) ?? false
        since = Date(timeIntervalSince1970: try c.decodeIfPresent(Double.self, forKey: .since) ?? 0)
    }
}

/// A model's status: its versions, which one serves, and its settings.
/// JSON (`GET /v1/models[/{name}]`): `{"name", "task", "serving_version",
/// "state", "versions", "error", "queue_depth", "signature"}`.
public struct ModelStatus: Codable, Sendable, Equatable {
    public var name: String
    /// Highest ready version (what unpinned requests get), or nil.
    public var defaultVersion: Int?
    /// Every known version, ascending.
    public var versions: [VersionStatus]
    /// True when an unpinned request would be served.
    public var isReady: Bool { defaultVersion != nil }
    /// False after an explicit `unload` until the next `load`.
    public var isEnabled: Bool
    public var versionPolicy: VersionPolicy
    /// Requests queued now (all versions).
    public var queueDepth: Int
    /// The task ("classification", ...) of the last version that loaded, if any did.
    public var task: String?
    /// What the default version takes and returns (inputs, outputs, labels, preprocessing).
    public var signature: ModelSignature?

    public init(name: String, defaultVersion: Int?, versions: [VersionStatus], isEnabled: Bool = true,
                versionPolicy: VersionPolicy = .latest, queueDepth: Int = 0, task: String?, signature: ModelSignature? = nil) {
        self.name = name
        self.defaultVersion = defaultVersion
        self.versions = versions
        self.isEnabled = isEnabled
        self.versionPolicy = versionPolicy
        self.queueDepth = queueDepth
        self.task = task
        self.signature = signature
    }

    /// One word for the whole model: "ready" (unpinned requests are served),
    /// "loading", "unloaded" (explicitly), "failed" (versions failed and none
    /// serves), or "unavailable" (no versions).
    public var state: String {
        if isReady { return "ready" }
        if !isEnabled { return "unloaded" }
        if versions.contains(where: { $0.state == .loading }) { return "loading" }
        if versions.contains(where: { if case .failed = $0.state { return true } else { return false } }) { return "failed" }
        return "unavailable"
    }

    /// The most recent load error of any version (highest version first), if any.
    public var lastError: String? {
        versions.reversed().lazy.compactMap { v in
            if let e = v.lastError { return e }
            if case .failed(let m) = v.state { return m }
            return nil
        }.first
    }

    enum CodingKeys: String, CodingKey {
        case name, task, state, versions, error, signature
        case servingVersion = "serving_version"
        case queueDepth = "queue_depth"
        case versionPolicy = "version_policy"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(task ?? "unknown", forKey: .task)
        try c.encodeIfPresent(defaultVersion, forKey: .servingVersion)
        try c.encode(state, forKey: .state)
        try c.encode(versions, forKey: .versions)
        try c.encodeIfPresent(lastError, forKey: .error)
        try c.encode(queueDepth, forKey: .queueDepth)
        try c.encode(versionPolicy, forKey: .versionPolicy)
        try c.encodeIfPresent(signature, forKey: .signature)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        task = try c.decodeIfPresent(String.self, forKey: .task)
        defaultVersion = try c.decodeIfPresent(Int.self, forKey: .servingVersion)
        versions = try c.decode([VersionStatus].self, forKey: .versions)
        isEnabled = try c.decode(String.self, forKey: .state) != "unloaded"
        queueDepth = try c.decodeIfPresent(Int.self, forKey: .queueDepth) ?? 0
        versionPolicy = try c.decodeIfPresent(VersionPolicy.self, forKey: .versionPolicy) ?? .latest
        signature = try c.decodeIfPresent(ModelSignature.self, forKey: .signature)
    }
}

/// Metadata for the Open Inference Protocol (`GET /v2/models/{name}[/versions/{v}]`):
/// V2's name, versions, platform, inputs and outputs, plus (ignored by V2
/// clients) the task, the labels and the input preprocessing.
public struct ModelMetadata: Codable, Sendable, Equatable {
    public var name: String
    /// Loaded versions as strings, as V2 wants them.
    public var versions: [String]
    /// "dlserve".
    public var platform: String
    public var inputs: [TensorMetadata]
    public var outputs: [TensorMetadata]
    public var task: String?
    public var labels: [String]?
    public var preprocessing: InputPreprocessing?

    public init(name: String, versions: [String], platform: String = "dlserve", inputs: [TensorMetadata],
                outputs: [TensorMetadata], task: String? = nil, labels: [String]? = nil, preprocessing: InputPreprocessing? = nil) {
        self.name = name
        self.versions = versions
        self.platform = platform
        self.inputs = inputs
        self.outputs = outputs
        self.task = task
        self.labels = labels
        self.preprocessing = preprocessing
    }
}

/// The outcome of one `infer` call.
public struct InferenceResult: Sendable {
    public var model: String
    /// The version that computed it (the one the request started on).
    public var version: Int
    /// [N, ...outputShape], N = the request's rows.
    public var output: Tensor
    /// From submission to the start of the batch's computation.
    public var queueTime: Duration
    /// The batch's computation time (shared by the batch's requests).
    public var computeTime: Duration
    /// Rows in the batch this request ran in (>= its own rows).
    public var batchSize: Int
    public var requestID: String?
}

/// An image input (classify, V2's "image" input, the image tasks).
public enum ImageInput: Sendable {
    /// PNG or JPEG bytes; `mediaType` is the request's Content-Type (nil: sniff the bytes).
    case encoded(Data, mediaType: String?)
    /// Decoded 8-bit pixels, preprocessed like a decoded file.
    case image(DLVision.Image)
    /// A client's pixel array (for example from JSON): `shape` is [H, W] or
    /// [C, H, W] (C = 1 or 3), values row-major in 0...255; resized and
    /// normalized like an image (`ImagePreprocessing.tensor(fromPixels:shape:)`).
    case pixels([Float], shape: [Int])
    /// The model's input as is: [C, H, W] or [1, C, H, W], already preprocessed.
    case tensor(Tensor)
}
