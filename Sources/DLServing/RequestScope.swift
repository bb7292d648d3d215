import Foundation
import HeapModule

/// The life of one HTTP request's work, ended early when the client goes
/// away or the request's deadline passes. The HTTP layer makes one per
/// request and runs the handler with it as `RequestScope.current`; the
/// schedulers' waits (`withRequestCancellation`) drop their queued work the
/// moment it ends, as they do when the task is cancelled.
///
/// It replaces a task group per request (the handler, a sleeping timer task,
/// a client-close watcher task): the handler runs in the request's own
/// task, deadlines share one keeper thread, and nothing is allocated or
/// woken for a request that finishes in time.
public final class RequestScope: @unchecked Sendable {
    public enum Reason: Sendable, Equatable {
        case clientClosed
        case timedOut
    }

    @TaskLocal public static var current: RequestScope?

    private let lock = SchedulerLock()
    private var _reason: Reason?
    private var finished = false
    private var handlers: [(id: Int, action: @Sendable () -> Void)] = []
    private var nextID = 0
    let deadline: ContinuousClock.Instant?

    /// A scope that ends by itself at `deadline` (nil: only `end` ends it).
    public init(deadline: ContinuousClock.Instant? = nil) {
        self.deadline = deadline
        if deadline != nil { ScopeDeadlines.shared.add(self) }
    }

    /// Why the scope ended early, or nil while it has not.
    public var reason: Reason? { lock.withLock { _reason } }

    /// Ends the scope early: runs every registered handler once (outside
    /// the lock). Later calls, and calls after `finish`, do nothing.
    public func end(_ reason: Reason) {
        let actions: [@Sendable () -> Void] = lock.withLock {
            guard _reason == nil, !finished else { return [] }
            _reason = reason
            defer { handlers = [] }
            return handlers.map(\.action)
        }
        for a in actions { a() }
    }

    /// The request is answered: nothing registered runs any more.
    public func finish() {
        lock.withLock {
            finished = true
            handlers = []
        }
    }

    var isDone: Bool { lock.withLock { finished || _reason != nil } }

    /// Registers `action` to run when the scope ends early; runs it at once
    /// (and returns nil) if it already has.
    func register(_ action: @escaping @Sendable () -> Void) -> Int? {
        let id: Int? = lock.withLock {
            guard _reason == nil else { return nil }
            nextID += 1
            handlers.append((nextID, action))
            return nextID
        }
        if id == nil { action() }
        return id
    }

    func deregister(_ id: Int) {
        lock.withLock { handlers.removeAll { $0.id == id } }
    }
}

/// `withTaskCancellationHandler` that also cancels when the current
/// `RequestScope` ends early (client gone, deadline passed).
public func withRequestCancellation<T>(
    operation: () async throws -> T, onCancel: @escaping @Sendable () -> Void
) async rethrows -> T {
    guard let scope = RequestScope.current else {
        return try await withTaskCancellationHandler(operation: operation, onCancel: onCancel)
    }
    let id = scope.register(onCancel)
    defer { if let id { scope.deregister(id) } }
    return try await withTaskCancellationHandler(operation: operation, onCancel: onCancel)
}

/// One thread that ends scopes whose deadline has passed. Deadlines of
/// answered requests are dropped in bulk when they pile up (amortized O(1)
/// per request), so the heap holds about as many entries as requests in flight.
final class ScopeDeadlines: @unchecked Sendable {
    static let shared = ScopeDeadlines()

    private struct Entry: Comparable {
        let deadline: ContinuousClock.Instant
        let scope: RequestScope
        static func < (a: Self, b: Self) -> Bool { a.deadline < b.deadline }
        static func == (a: Self, b: Self) -> Bool { a.deadline == b.deadline && a.scope === b.scope }
    }

    private let lock = SchedulerLock()
    private lazy var changed = SchedulerLock.Condition(lock)
    private var heap = Heap<Entry>()
    private var started = false
    private var compactAt = 1024

    func add(_ scope: RequestScope) {
        guard let deadline = scope.deadline else { return }
        lock.withLock {
            if !started {
                started = true
                let t = Thread { [self] in run() }
                t.name = "dlserve-request-deadlines"
                t.start()
            }
            if heap.count >= compactAt {
                heap = Heap(heap.unordered.filter { !$0.scope.isDone })
                compactAt = max(1024, 2 * heap.count)
            }
            let earliest = heap.min?.deadline
            heap.insert(Entry(deadline: deadline, scope: scope))
            if earliest.map({ deadline < $0 }) ?? true { changed.signal() }
        }
    }

    private func run() {
        lock.lock()
        while true {
            guard let next = heap.min else {
                changed.wait()
                continue
            }
            let now = ContinuousClock.now
            if next.deadline > now {
                changed.wait(timeout: next.deadline - now)
                continue
            }
            let entry = heap.removeMin()
            lock.unlock()
            entry.scope.end(.timedOut)
            lock.lock()
        }
    }
}
