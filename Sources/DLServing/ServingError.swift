import Foundation
import DLVision

/// Every error the serving core throws to a client-facing layer. Each case has
/// a human `message` and a stable machine `code` (snake_case, never changes
/// once released), and `httpStatus` suggests the status code so the HTTP layer
/// can map errors in one place:
///
/// | case                  | code                    | HTTP |
/// |-----------------------|-------------------------|------|
/// | unknownModel          | unknown_model           | 404  |
/// | versionNotFound       | version_not_found       | 404  |
/// | modelNotReady         | model_not_ready         | 503  |
/// | queueFull             | queue_full              | 429 (+ Retry-After) |
/// | timeout               | timeout                 | 504  |
/// | cancelled             | cancelled               | 503  |
/// | clientClosed          | client_closed           | 499 (nobody is left to read it) |
/// | badRequest            | bad_request             | 400  |
/// | invalidJSON           | invalid_json            | 400  |
/// | invalidInput          | invalid_input           | 400  |
/// | payloadTooLarge       | payload_too_large       | 413  |
/// | imageTooLarge         | image_too_large         | 413  |
/// | unsupportedMediaType  | unsupported_media_type  | 415  |
/// | unsupportedTask       | unsupported_task        | 400  |
/// | loadFailed            | load_failed             | 500  |
/// | shuttingDown          | shutting_down           | 503  |
/// | repositoryUnavailable | repository_unavailable  | 503  |
/// | notFound              | not_found               | 404  |
/// | conflict              | conflict                | 409  |
/// | unavailable           | unavailable             | 503  |
/// | internal              | internal                | 500  |
public enum ServingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No model of that name in the repository.
    case unknownModel(String)
    /// The model exists but that version is not present or not loaded.
    case versionNotFound(model: String, version: Int)
    /// The model (or the pinned version) exists but cannot serve now: loading,
    /// unloaded, or every version failed. `reason` says which.
    case modelNotReady(model: String, reason: String)
    /// The model's queue is full; retry after the given number of seconds (>= 1).
    case queueFull(model: String, retryAfterSeconds: Int)
    /// The request's deadline passed before it finished.
    case timeout(model: String, after: Duration)
    /// The caller's task was cancelled (client disconnected); its queued work was dropped.
    case cancelled
    /// The request is malformed (a bad parameter, path or header; a body
    /// that is not what the endpoint reads).
    case badRequest(String)
    /// A JSON body that does not parse or does not fit the request type.
    case invalidJSON(String)
    /// The request's input does not fit the model (shape, values, text...).
    case invalidInput(String)
    /// The body (or a tensor it declares) is larger than allowed.
    case payloadTooLarge(String)
    /// The client went away before its answer was ready; its queued work was dropped.
    case clientClosed
    /// An image whose declared size exceeds the limit (a decompression bomb or simply too big).
    case imageTooLarge(width: Int, height: Int, maxPixels: Int)
    /// A body that is not a decodable PNG or JPEG (or a media type we do not read).
    case unsupportedMediaType(String)
    /// The model's task does not offer that operation (e.g. classify on a non-classifier).
    case unsupportedTask(model: String, task: String, operation: String)
    /// An explicit load found no version that could be loaded; the message has the errors.
    case loadFailed(model: String, message: String)
    /// The engine is draining or stopped.
    case shuttingDown
    /// The model repository cannot be listed (missing or unreadable directory).
    case repositoryUnavailable(String)
    /// A bug or an unexpected engine failure; details are in the logs.
    case `internal`(String)
    /// A resource a task keeps (a gallery identity) does not exist.
    case notFound(String)
    /// The request clashes with a resource that exists (a duplicate name).
    case conflict(String)
    /// A task's own storage or state cannot serve now (retry later).
    case unavailable(String)

    /// Stable machine-readable code.
    public var code: String {
        switch self {
        case .unknownModel: return "unknown_model"
        case .versionNotFound: return "version_not_found"
        case .modelNotReady: return "model_not_ready"
        case .queueFull: return "queue_full"
        case .timeout: return "timeout"
        case .cancelled: return "cancelled"
        case .badRequest: return "bad_request"
        case .invalidJSON: return "invalid_json"
        case .invalidInput: return "invalid_input"
        case .payloadTooLarge: return "payload_too_large"
        case .clientClosed: return "client_closed"
        case .imageTooLarge: return "image_too_large"
        case .unsupportedMediaType: return "unsupported_media_type"
        case .unsupportedTask: return "unsupported_task"
        case .loadFailed: return "load_failed"
        case .shuttingDown: return "shutting_down"
        case .repositoryUnavailable: return "repository_unavailable"
        case .internal: return "internal"
        case .notFound: return "not_found"
        case .conflict: return "conflict"
        case .unavailable: return "unavailable"
        }
    }

    /// One-line message for the `error` field of a response.
    public var message: String {
        switch self {
        case .unknownModel(let m): return "unknown model '\(m)'"
        case .versionNotFound(let m, let v): return "model '\(m)' has no loaded version \(v)"
        case .modelNotReady(let m, let r): return "model '\(m)' is not ready: \(r)"
        case .queueFull(let m, let s): return "the queue of model '\(m)' is full; retry after \(s) s"
        case .timeout(let m, let d): return "request to model '\(m)' timed out after \(Self.format(d))"
        case .cancelled: return "request cancelled"
        case .badRequest(let m): return m
        case .invalidJSON(let m): return m
        case .invalidInput(let m): return "invalid input: \(m)"
        case .payloadTooLarge(let m): return m
        case .clientClosed: return "the client closed the connection before the answer was ready"
        case .imageTooLarge(let w, let h, let max):
            return "image of \(w)x\(h) pixels exceeds the limit of \(max) pixels"
        case .unsupportedMediaType(let m): return "unsupported media type: \(m)"
        case .unsupportedTask(let m, let t, let op): return "model '\(m)' has task '\(t)', which does not support \(op)"
        case .loadFailed(let m, let e): return "loading model '\(m)' failed: \(e)"
        case .shuttingDown: return "the server is shutting down"
        case .repositoryUnavailable(let m): return "the model repository is unavailable: \(m)"
        case .internal(let m): return "internal error: \(m)"
        case .notFound(let m), .conflict(let m), .unavailable(let m): return m
        }
    }

    /// The suggested HTTP status code.
    public var httpStatus: Int {
        switch self {
        case .unknownModel, .versionNotFound: return 404
        case .modelNotReady, .shuttingDown, .repositoryUnavailable, .cancelled: return 503
        case .queueFull: return 429
        case .timeout: return 504
        case .clientClosed: return 499
        case .badRequest, .invalidJSON, .invalidInput, .unsupportedTask: return 400
        case .imageTooLarge, .payloadTooLarge: return 413
        case .unsupportedMediaType: return 415
        // An explicit load that failed: the old version keeps serving; the
        // request was understood but the version cannot be served.
        case .loadFailed: return 422
        case .internal: return 500
        case .notFound: return 404
        case .conflict: return 409
        case .unavailable: return 503
        }
    }

    /// Seconds for a Retry-After header, when the client should retry.
    public var retryAfterSeconds: Int? {
        if case .queueFull(_, let s) = self { return s }
        return nil
    }

    public var description: String { "\(code): \(message)" }

    /// Maps an image decoding error to the client-facing error.
    public init(_ error: ImageError) {
        switch error {
        case .tooLarge(let w, let h, let max): self = .imageTooLarge(width: w, height: h, maxPixels: max)
        case .unsupportedFormat(let m): self = .unsupportedMediaType(m)
        case .corrupt, .unsupportedFeature, .invalidPixels, .empty: self = .invalidInput(error.description)
        }
    }

    /// "field.path: what is wrong" for a JSON decoding error.
    public static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context),
            .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    static func format(_ d: Duration) -> String {
        let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
        return ms >= 1000 ? String(format: "%.1f s", ms / 1000) : String(format: "%.0f ms", ms)
    }
}
