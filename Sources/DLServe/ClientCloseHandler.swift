import DLServing
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore

/// Notices when a client goes away while its request is being answered, so
/// that its queued inference work can be dropped rather than run.
///
/// Hummingbird allows remote half-closure, so a client's FIN arrives as the
/// `ChannelEvent.inputClosed` user event and the channel stays active; a reset
/// arrives as `channelInactive`. This handler sits in every connection's
/// pipeline (after HTTP decoding, `HTTP1Channel`'s additional handlers) and
/// turns either into a "closed" flag that ends the `RequestScope`s of the
/// connection's requests in flight (`attach`). Like nginx's 499, a client
/// that half-closes its side after sending the request counts as gone.
///
/// It does not touch the request stream, so keep-alive connections stay
/// usable (unlike `RequestBody.consumeWithCancellationOnInboundClose`, which
/// cancels the iterator of the inbound stream and so ends the connection).
///
/// Handlers find themselves in a table keyed by channel (`handler(for:)`),
/// filled when the handler joins a pipeline and emptied when it leaves, so
/// a request finds its connection's handler without a trip to the event loop.
final class ClientCloseHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    /// Pass-through: reads are forwarded untouched by the default implementation.
    typealias InboundIn = Never

    private struct State {
        var closed = false
        var scopes: [ObjectIdentifier: RequestScope] = [:]
    }

    private let state = NIOLockedValueBox(State())
    private static let table = NIOLockedValueBox([ObjectIdentifier: ClientCloseHandler]())

    init() {}

    var isClosed: Bool { state.withLockedValue { $0.closed } }

    /// The handler of `channel`'s pipeline, or nil (no such handler, as in the
    /// in-process router tests, or the channel is already gone).
    static func handler(for channel: any Channel) -> ClientCloseHandler? {
        table.withLockedValue { $0[ObjectIdentifier(channel)] }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let key = ObjectIdentifier(context.channel)
        Self.table.withLockedValue { $0[key] = self }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed? = event as? ChannelEvent { markClosed() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        markClosed()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        markClosed()
        let key = ObjectIdentifier(context.channel)
        Self.table.withLockedValue { table in
            if table[key] === self { table[key] = nil }
        }
    }

    private func markClosed() {
        let scopes: [RequestScope] = state.withLockedValue { s in
            guard !s.closed else { return [] }
            s.closed = true
            defer { s.scopes = [:] }
            return Array(s.scopes.values)
        }
        for scope in scopes { scope.end(.clientClosed) }
    }

    /// Ends `scope` when the client goes away (at once if it has already).
    func attach(_ scope: RequestScope) {
        let closed = state.withLockedValue { s -> Bool in
            if !s.closed { s.scopes[ObjectIdentifier(scope)] = scope }
            return s.closed
        }
        if closed { scope.end(.clientClosed) }
    }

    func detach(_ scope: RequestScope) {
        _ = state.withLockedValue { $0.scopes.removeValue(forKey: ObjectIdentifier(scope)) }
    }
}
