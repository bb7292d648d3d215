#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex with any number of condition variables on it (the
/// scheduler's workers and its deadline keeper wait on different conditions
/// under one lock). Timed waits use CLOCK_MONOTONIC where available.
final class SchedulerLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    /// A condition variable bound to this lock.
    final class Condition: @unchecked Sendable {
        private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        private unowned let owner: SchedulerLock

        init(_ owner: SchedulerLock) {
            self.owner = owner
            var attr = pthread_condattr_t()
            pthread_condattr_init(&attr)
            #if os(Linux)
            pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
            #endif
            pthread_cond_init(cond, &attr)
            pthread_condattr_destroy(&attr)
        }

        deinit {
            pthread_cond_destroy(cond)
            cond.deallocate()
        }

        /// Waits (the lock must be held) until signalled.
        func wait() { pthread_cond_wait(cond, owner.mutex) }

        /// Waits (the lock must be held) until signalled or `timeout` elapsed.
        func wait(timeout: Duration) {
            guard timeout > .zero else { return }
            var now = timespec()
            #if os(Linux)
            clock_gettime(CLOCK_MONOTONIC, &now)
            #else
            clock_gettime(CLOCK_REALTIME, &now)
            #endif
            let (s, atto) = timeout.components
            var sec = now.tv_sec + Int(min(s, 1 << 31))
            var nsec = now.tv_nsec + Int(atto / 1_000_000_000)
            if nsec >= 1_000_000_000 {
                sec += 1
                nsec -= 1_000_000_000
            }
            var deadline = timespec(tv_sec: sec, tv_nsec: nsec)
            pthread_cond_timedwait(cond, owner.mutex, &deadline)
        }

        func signal() { pthread_cond_signal(cond) }
        func broadcast() { pthread_cond_broadcast(cond) }
    }
}

/// A value behind a mutex, for state read from many threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = SchedulerLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        try lock.withLock { try body(&value) }
    }

    var current: Value { withLock { $0 } }
}
