/// Failures a client or a file can cause, as the HTTP layer sees them. The
/// backend throws these (or its own error type, translated in
/// `APIError.init(mapping:)`); the HTTP layer maps each to one status.
public enum ServeFailure: Error, Sendable, Equatable {
    /// The request is malformed (bad JSON, a wrong shape, a bad parameter).
    case badRequest(String)
    /// The body's media type is not one this endpoint reads.
    case unsupportedMediaType(String)
    /// The body (or a decoded image) is larger than allowed.
    case payloadTooLarge(String)
    /// No such model in the repository.
    case modelNotFound(String)
    /// The model exists but not that version.
    case versionNotFound(model: String, version: Int)
    /// The model exists but cannot answer yet (loading, failed, unloaded).
    case modelUnavailable(model: String, reason: String)
    /// The model's queue is full; retry after the given seconds.
    case queueFull(model: String, retryAfterSeconds: Int)
    /// The request outlived its deadline.
    case timeout(String)
    /// The client went away before its answer was ready; its queued work was dropped.
    case clientClosed
    /// The daemon is draining for shutdown.
    case shuttingDown
    /// A load of a model version failed (the old version keeps serving).
    case loadFailed(model: String, reason: String)
    /// A bug or an unexpected condition in the engine.
    case internalError(String)
}
