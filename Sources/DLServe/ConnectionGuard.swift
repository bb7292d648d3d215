import Hummingbird
import HTTPTypes
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTPTypes

/// Limits on connections, like nginx's `client_header_timeout`,
/// `client_body_timeout` and `keepalive_timeout` and a cap on open
/// connections:
/// - a new connection must complete its first request head within `header`;
/// - between requests (keep-alive) the next head must arrive within `idle`;
/// - while a body is read, no gap between reads may exceed `body`, and after
///   `body` the average rate must stay above `bodyMinRate` bytes/s (a large
///   upload on a slow link still works, a trickle does not);
/// - while a request is being answered nothing is timed here (the request
///   timeout, 504, covers that);
/// - past `maxConnections` open connections a new one is closed at once.
public struct ConnectionLimits: Sendable, Equatable {
    public var header: Duration
    public var idle: Duration
    public var body: Duration
    public var bodyMinRate: Int
    public var maxConnections: Int

    public init(header: Duration = .seconds(60), idle: Duration = .seconds(60), body: Duration = .seconds(60),
                bodyMinRate: Int = 1024, maxConnections: Int = 4096) {
        (self.header, self.idle, self.body, self.bodyMinRate, self.maxConnections) = (header, idle, body, bodyMinRate, maxConnections)
    }
}

/// Open connections and the ones closed for a limit, for `/metrics`.
public final class ConnectionCounters: Sendable {
    private struct State {
        var open = 0
        var refused = 0
        var timedOut: [String: Int] = [:]
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    public var open: Int { state.withLockedValue { $0.open } }
    public var refused: Int { state.withLockedValue { $0.refused } }
    public func timedOut(_ reason: String) -> Int { state.withLockedValue { $0.timedOut[reason] ?? 0 } }

    /// Counts a new connection; false (and counted as refused) when the cap is reached.
    func admit(max: Int) -> Bool {
        state.withLockedValue { s in
            guard s.open < max else {
                s.refused += 1
                return false
            }
            s.open += 1
            return true
        }
    }

    func closed() { state.withLockedValue { $0.open -= 1 } }
    func timedOut(reason: String) { state.withLockedValue { $0.timedOut[reason, default: 0] += 1 } }
}

/// One connection's guard: sits after HTTP decoding (`HTTP1Channel`'s
/// additional handlers), sees request parts coming in and response parts
/// going out, and closes the connection when a limit of `ConnectionLimits`
/// is passed. One timer per connection, re-armed only when it fires.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The `reason` labels of `dlserve_connections_timed_out_total`.
    static let reasons = ["header", "idle", "body", "body_rate"]

    private enum Phase {
        /// Waiting for a request head; `first` = no request yet on this connection.
        case waiting(since: NIODeadline, first: Bool)
        case readingBody(started: NIODeadline, lastRead: NIODeadline, bytes: Int)
        case answering
    }

    private let limits: ConnectionLimits
    private let counters: ConnectionCounters
    private var phase: Phase = .waiting(since: .now(), first: true)
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var admitted = false

    init(limits: ConnectionLimits, counters: ConnectionCounters) {
        self.limits = limits
        self.counters = counters
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard counters.admit(max: limits.maxConnections) else {
            context.close(promise: nil)
            return
        }
        admitted = true
        phase = .waiting(since: .now(), first: true)
        arm(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if admitted {
            admitted = false
            counters.closed()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = NIODeadline.now()
        switch unwrapInboundIn(data) {
        case .head:
            phase = .readingBody(started: now, lastRead: now, bytes: 0)
            rearmIfSooner(context)
        case .body(let buffer):
            if case .readingBody(let started, _, let bytes) = phase {
                phase = .readingBody(started: started, lastRead: now, bytes: bytes + buffer.readableBytes)
            }
        case .end:
            phase = .answering
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            // A response ended: the next request may come (keep-alive). A
            // response sent before the body was read (an early 413) leaves
            // the body phase alone.
            if case .answering = phase {
                phase = .waiting(since: .now(), first: false)
                rearmIfSooner(context)
            }
        }
        context.write(data, promise: promise)
    }

    /// The moment the current phase runs out, or nil (no limit now).
    private func deadline() -> (NIODeadline, String)? {
        switch phase {
        case .waiting(let since, let first):
            return first ? (since + .init(limits.header), "header") : (since + .init(limits.idle), "idle")
        case .readingBody(let started, let lastRead, let bytes):
            let gap = lastRead + .init(limits.body)
            // After the grace period the average rate must reach the minimum:
            // the body may take as long as its bytes at that rate allow.
            let byRate = started + .init(limits.body) + .nanoseconds(Int64(Double(bytes) / Double(max(1, limits.bodyMinRate)) * 1e9))
            return gap < byRate ? (gap, "body") : (byRate, "body_rate")
        case .answering:
            return nil
        }
    }

    /// The timer fires at the phase's deadline or earlier (then it re-arms);
    /// re-armed at once only when the new deadline comes before it.
    private func rearmIfSooner(_ context: ChannelHandlerContext) {
        guard let due = deadline()?.0, let armed = timerDeadline, due < armed else { return }
        arm(context)
    }

    private func arm(_ context: ChannelHandlerContext) {
        timer?.cancel()
        let next = deadline()?.0 ?? (.now() + .init(limits.header))
        timerDeadline = next
        let loop = context.eventLoop
        timer = loop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: next) { [self] in
            self.timer = nil
            self.timerDeadline = nil
            if let (due, reason) = deadline(), due <= .now() {
                counters.timedOut(reason: reason)
                context.close(promise: nil)
            } else {
                arm(context)
            }
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (s, atto) = duration.components
        self = .nanoseconds(s * 1_000_000_000 + atto / 1_000_000_000)
    }
}
