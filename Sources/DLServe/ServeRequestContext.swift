import Foundation
import Hummingbird
import Logging
import NIOCore

/// The request context of every dlserve route: Hummingbird's core storage plus
/// the request id (set by `RequestIDMiddleware` from X-Request-ID or
/// generated) and the model name a handler resolved (for metrics).
public struct ServeRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestID: String
    /// Set by model handlers so that the access log and metrics can label the request.
    public var modelLabel: ModelLabel
    /// The connection, to notice a client that goes away (`ClientCloseHandler`).
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
        self.requestID = ""
        self.modelLabel = ModelLabel()
    }

    /// Route bodies are read by the handlers with their own limit
    /// (`ServeSettings.maxBodyBytes`); this only bounds `request.decode`.
    public var maxUploadSize: Int { 64 * 1024 * 1024 }
}

/// A box the handler writes and the outer middleware reads after the response
/// (the context is a value copied down the middleware chain).
public final class ModelLabel: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: String?
    public init() {}
    public var value: String? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
