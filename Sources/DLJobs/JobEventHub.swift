import Foundation

/// Wakes up followers of a job when its events change. The store stays the
/// source of truth: a follower reads events from the store after its last id,
/// and waits here when there are none. A generation counter per job makes the
/// wait race-free: a follower passes the generation it saw before reading, and
/// the wait returns at once if the job changed since.
final class JobEventHub: @unchecked Sendable {
    private let lock = NSLock()
    private var generations: [JobID: UInt64] = [:]
    private var waiters: [JobID: [UUID: CheckedContinuation<Void, Never>]] = [:]

    /// The current generation of a job (read before querying the store).
    func generation(_ id: JobID) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return generations[id, default: 0]
    }

    /// Something happened to a job: wake its followers.
    func notify(_ id: JobID) {
        lock.lock()
        generations[id, default: 0] &+= 1
        let woken = waiters.removeValue(forKey: id) ?? [:]
        lock.unlock()
        for c in woken.values { c.resume() }
    }

    /// Wakes every follower (the queue is stopping).
    func wakeAll() {
        lock.lock()
        let woken = waiters.values.flatMap(\.values)
        waiters = [:]
        for id in generations.keys { generations[id]! &+= 1 }
        lock.unlock()
        for c in woken { c.resume() }
    }

    /// Returns when the job's generation differs from `seen`, after `timeout`,
    /// or when the task is cancelled, whichever comes first.
    func wait(_ id: JobID, seen: UInt64, timeout: Duration) async {
        let token = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                lock.lock()
                if generations[id, default: 0] != seen || Task.isCancelled {
                    lock.unlock()
                    c.resume()
                    return
                }
                waiters[id, default: [:]][token] = c
                lock.unlock()
                Task {
                    try? await Task.sleep(for: timeout)
                    self.wake(id, token)
                }
            }
        } onCancel: {
            wake(id, token)
        }
    }

    /// Resumes one waiter if it is still waiting (each is resumed exactly once).
    private func wake(_ id: JobID, _ token: UUID) {
        lock.lock()
        let c = waiters[id]?.removeValue(forKey: token)
        if waiters[id]?.isEmpty == true { waiters[id] = nil }
        lock.unlock()
        c?.resume()
    }

    /// Followers currently waiting (tests).
    var waiterCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return waiters.values.reduce(0) { $0 + $1.count }
    }
}
