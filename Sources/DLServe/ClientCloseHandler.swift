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
/// turns either into a "closed" flag that handlers can wait for
/// (`waitForClose`). Like nginx's 499, a client that half-closes its side
/// after sending the request counts as gone.
///
/// It does not touch the request stream, so keep-alive connections stay
/// usable (unlike `RequestBody.consumeWithCancellationOnInboundClose`, which
/// cancels the iterator of the inbound stream and so ends the connection).
final class ClientCloseHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    /// Pass-through: reads are forwarded untouched by the default implementation.
    typealias InboundIn = Never

    private struct State {
        var closed = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = NIOLockedValueBox(State())

    init() {}

    var isClosed: Bool { state.withLockedValue { $0.closed } }

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
    }

    private func markClosed() {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLockedValue { s in
            guard !s.closed else { return [] }
            s.closed = true
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume() }
    }

    /// Returns when the client has gone away, or when the calling task is cancelled.
    func waitForClose() async {
        let id = state.withLockedValue { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLockedValue { s -> Bool in
                    if s.closed || Task.isCancelled { return true }
                    s.waiters[id] = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            let waiter = state.withLockedValue { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }

    /// The handler in `channel`'s pipeline, or nil (no such handler, as in
    /// the in-process router tests, or the channel is already gone).
    static func find(on channel: any Channel) async -> ClientCloseHandler? {
        try? await channel.pipeline.handler(type: ClientCloseHandler.self).get()
    }
}
