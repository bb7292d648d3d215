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

/// One version in a model's status.
public struct VersionStatus: Sendable, Equatable {
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
}

/// A model's status: its versions, which one serves, and its settings.
public struct ModelStatus: Sendable, Equatable {
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
    /// The serving settings of the default version's instance, if any.
    public var config: ServingConfig?
    /// Requests queued now (all versions).
    public var queueDepth: Int
    /// The task ("classification", ...) of the last version that loaded, if any did.
    public var task: String?

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
        versions.reversed().lazy.compactMap(\.lastError).first
    }
}

/// Metadata for the Open Inference Protocol (`GET /v2/models/{name}[/versions/{v}]`).
public struct ModelMetadata: Sendable, Equatable {
    public struct TensorInfo: Sendable, Equatable {
        public var name: String
        /// V2 datatype: always "FP32" for this engine.
        public var datatype: String
        /// With the batch dimension first, as -1.
        public var shape: [Int]
    }
    public var name: String
    /// Loaded versions as strings, as V2 wants them.
    public var versions: [String]
    /// "dlserve".
    public var platform: String
    public var task: String
    public var inputs: [TensorInfo]
    public var outputs: [TensorInfo]
    public var labels: [String]
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

/// One class with its probability.
public struct ClassScore: Sendable, Equatable {
    public var index: Int
    public var label: String
    public var probability: Float
}

/// The outcome of `classify`.
public struct ClassificationResult: Sendable {
    public var model: String
    public var version: Int
    /// The top-k classes, most probable first (softmax over the logits).
    public var predictions: [ClassScore]
    /// Image decoding and preprocessing, before queueing.
    public var preprocessTime: Duration
    public var queueTime: Duration
    public var computeTime: Duration
    public var batchSize: Int
    /// Everything from the call to the answer.
    public var totalTime: Duration
    public var requestID: String?
}

/// What `classify` accepts.
public enum ClassifyInput: Sendable {
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
