import DLKernels
import DLTensor
import Foundation
import HeapModule
import Logging

/// Runs inference on a pool of its own threads with dynamic batching.
///
/// Each served version has a `BatchQueue`; the bound on queued requests is
/// per model. A worker takes the queue whose head has waited longest among
/// the *ready* ones (a full batch is waiting, or the head has waited
/// `maxQueueDelay`), takes up to `maxBatchSize` rows (and no more than its
/// share with the other idle workers), concatenates them along
/// the batch axis, runs the model once and splits the output back. A separate
/// deadline keeper thread answers `timeout` the moment a request's deadline
/// passes, whether it is queued or running. A cancelled caller's queued work
/// is removed at once.
///
/// All mutable state is guarded by one lock; continuations are resumed
/// outside it.
final class InferenceScheduler: @unchecked Sendable {
    /// Weak, so an answered request (and the version it holds) is freed at
    /// once, not when its deadline would have passed.
    private struct DeadlineEntry: Comparable {
        let deadline: ContinuousClock.Instant
        weak var request: PendingRequest?
        static func < (a: Self, b: Self) -> Bool { a.deadline < b.deadline }
        static func == (a: Self, b: Self) -> Bool { a.deadline == b.deadline && a.request === b.request }
    }

    private let lock = SchedulerLock()
    private lazy var workAvailable = SchedulerLock.Condition(lock)
    private lazy var deadlineChanged = SchedulerLock.Condition(lock)
    private lazy var threadExited = SchedulerLock.Condition(lock)

    /// Queues with queued requests.
    private var active: [BatchQueue] = []
    private var deadlines = Heap<DeadlineEntry>()
    private var running = 0
    private var draining = false
    private var stopped = false
    private var liveThreads = 0

    let workerCount: Int
    /// Batches faster than this (moving average) may run on the caller's thread.
    private let inlineBelowSeconds: Double
    private let metrics: ServingMetrics
    private let logger: Logger

    init(workers: Int, blasThreads: Int, inlineBelow: Duration? = nil, metrics: ServingMetrics, logger: Logger) {
        precondition(workers > 0, "InferenceScheduler: needs at least one worker")
        self.workerCount = workers
        self.inlineBelowSeconds = inlineBelow?.seconds ?? 0
        self.metrics = metrics
        self.logger = logger
        Kernels.setBLASThreads(blasThreads)
        _ = workAvailable
        _ = deadlineChanged
        _ = threadExited
    }

    /// Starts the worker threads and the deadline keeper.
    func start() {
        lock.withLock { liveThreads = workerCount + 1 }
        for i in 0..<workerCount {
            let t = Thread { [self] in workerLoop() }
            t.name = "dlserve-worker-\(i)"
            t.stackSize = 8 << 20
            t.start()
        }
        let keeper = Thread { [self] in deadlineLoop() }
        keeper.name = "dlserve-deadlines"
        keeper.start()
    }

    // MARK: Submission

    /// Queues `request` and waits for its answer. Throws `ServingError`:
    /// queueFull, timeout, cancelled (the task was cancelled), shuttingDown, internal.
    func submit(_ request: PendingRequest) async throws -> InferenceResult {
        if let answer = runInlineIfIdle(request) { return try answer.get() }
        return try await withRequestCancellation {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<InferenceResult, Error>) in
                let refusal: ServingError? = lock.withLock {
                    if request.cancelled { return .cancelled }
                    if draining || stopped { return .shuttingDown }
                    let q = request.queue
                    if q.group.pending >= q.capacity {
                        let batches = Double(q.rows) / Double(q.maxBatchSize) + 1
                        let seconds = batches * q.averageBatchSeconds / Double(workerCount)
                        return .queueFull(model: q.name, retryAfterSeconds: max(1, Int(seconds.rounded(.up))))
                    }
                    request.continuation = continuation
                    request.phase = .queued
                    q.items.append(request)
                    q.rows += request.rows
                    q.group.pending += 1
                    if !q.isActive {
                        q.isActive = true
                        active.append(q)
                    }
                    let earliest = deadlines.min?.deadline
                    compactDeadlinesIfNeeded()
                    deadlines.insert(DeadlineEntry(deadline: request.deadline, request: request))
                    if earliest.map({ request.deadline < $0 }) ?? true { deadlineChanged.signal() }
                    workAvailable.signal()
                    return nil
                }
                if let refusal {
                    continuation.resume(throwing: refusal)
                }
            }
        } onCancel: {
            self.cancel(request)
        }
    }

    /// Runs `request` on the calling thread when its model is cheap (batches
    /// under `inlineBelow` on average), nothing of it is queued (so nothing
    /// would join its batch), no batch runs and requests arrive several batch
    /// times apart (a quiet moment; under load they queue and batch on the
    /// workers): it counts as running,
    /// like a worker's batch. Nil when it has to queue.
    private func runInlineIfIdle(_ request: PendingRequest) -> Result<InferenceResult, Error>? {
        let q = request.queue
        let taken: Bool = lock.withLock {
            let now = ContinuousClock.now
            q.noteArrival(at: now)
            // Sparse arrivals (several batch times apart): batching would gain nothing.
            guard q.averageBatchSeconds < inlineBelowSeconds, q.arrivalGapSeconds > 4 * q.averageBatchSeconds, q.maxQueueDelay == .zero, q.items.isEmpty,
                  running == 0, active.isEmpty, !draining, !stopped, !request.cancelled else { return false }
            running += 1
            request.phase = .running
            return true
        }
        guard taken else { return nil }
        let start = ContinuousClock.now
        let (outcome, computeTime) = compute([request], on: q, rows: request.rows)
        lock.withLock {
            running -= 1
            request.phase = .done
            q.noteBatch(seconds: computeTime.seconds)
            if !active.isEmpty { workAvailable.signal() }
        }
        return outcome.map { y in
            InferenceResult(model: q.name, version: q.version, output: y, queueTime: start - request.submitted,
                            computeTime: computeTime, batchSize: request.rows, requestID: request.requestID)
        }.mapError { $0 }
    }

    /// Rebuilds the deadline heap without answered requests when they make up
    /// most of it (lock held). Amortized O(1) per request.
    private func compactDeadlinesIfNeeded() {
        guard deadlines.count > 1024 else { return }
        let live = active.reduce(0) { $0 + $1.items.count } + running * 64
        guard deadlines.count > 4 * live else { return }
        deadlines = Heap(deadlines.unordered.filter { entry in
            guard let r = entry.request else { return false }
            return r.phase == .queued || r.phase == .running
        })
    }

    /// Drops a cancelled request: removed from its queue if still there,
    /// answered `cancelled` at once in any case.
    func cancel(_ request: PendingRequest) {
        let continuation: CheckedContinuation<InferenceResult, Error>? = lock.withLock {
            request.cancelled = true
            switch request.phase {
            case .new, .done:
                return nil
            case .queued:
                _ = request.queue.remove(request)
                deactivateIfEmpty(request.queue)
            case .running:
                break
            }
            request.phase = .done
            defer { request.continuation = nil }
            return request.continuation
        }
        continuation?.resume(throwing: ServingError.cancelled)
    }

    /// Queued requests of every version of a model.
    func queueDepth(_ group: QueueGroup) -> Int { lock.withLock { group.pending } }

    // MARK: Shutdown

    /// Stops accepting requests; queued ones are run without waiting for
    /// their batch delay.
    func beginDrain() {
        lock.withLock {
            draining = true
            workAvailable.broadcast()
        }
    }

    /// True when nothing is queued or running.
    var isIdle: Bool { lock.withLock { active.isEmpty && running == 0 } }

    /// Fails whatever is still queued with `shuttingDown`, then stops the
    /// threads (running batches finish first) and waits for them.
    func stop() {
        var orphans: [CheckedContinuation<InferenceResult, Error>] = []
        lock.lock()
        draining = true
        stopped = true
        for q in active {
            for r in q.items where r.phase == .queued {
                r.phase = .done
                if let c = r.continuation { orphans.append(c) }
                r.continuation = nil
            }
            q.group.pending -= q.items.count
            q.items.removeAll()
            q.rows = 0
            q.isActive = false
        }
        active.removeAll()
        workAvailable.broadcast()
        deadlineChanged.broadcast()
        while liveThreads > 0 { threadExited.wait() }
        lock.unlock()
        for c in orphans { c.resume(throwing: ServingError.shuttingDown) }
    }

    // MARK: Workers

    private func workerLoop() {
        // The kernel's name of the thread (ps, perf, top -H); Foundation's `Thread.name` does not set it here.
        try? "dlserve-worker".write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
        lock.lock()
        while true {
            let now = ContinuousClock.now
            if let (queue, batch) = takeReadyBatch(now: now) {
                running += 1
                lock.unlock()
                execute(batch, on: queue, startedAt: now)
                lock.lock()
                running -= 1
                continue
            }
            if stopped { break }
            if let wake = active.compactMap(\.readyAt).min() {
                workAvailable.wait(timeout: wake - now)
            } else {
                workAvailable.wait()
            }
        }
        liveThreads -= 1
        threadExited.broadcast()
        lock.unlock()
    }

    /// The ready queue whose head waited longest, and its batch (lock held).
    private func takeReadyBatch(now: ContinuousClock.Instant) -> (BatchQueue, [PendingRequest])? {
        var best: BatchQueue?
        for q in active where draining || q.isReady(now: now) {
            if best == nil || q.items.first!.submitted < best!.items.first!.submitted { best = q }
        }
        guard let q = best else { return nil }
        // Share the queued rows with the other idle workers rather than leave
        // them idle: on a CPU a batch is not cheaper per row than one request.
        let idle = max(1, workerCount - running)
        let batch = q.takeBatch(limit: (q.rows + idle - 1) / idle)
        for r in batch { r.phase = .running }
        deactivateIfEmpty(q)
        return (q, batch)
    }

    private func deactivateIfEmpty(_ q: BatchQueue) {
        guard q.items.isEmpty, q.isActive else { return }
        q.isActive = false
        active.removeAll { $0 === q }
    }

    /// Runs one batch (lock not held) and answers its requests.
    private func execute(_ batch: [PendingRequest], on queue: BatchQueue, startedAt: ContinuousClock.Instant) {
        let rows = batch.reduce(0) { $0 + $1.rows }
        let (outcome, computeTime) = compute(batch, on: queue, rows: rows)

        // Split and answer, skipping requests that timed out or were cancelled meanwhile.
        var answers: [(CheckedContinuation<InferenceResult, Error>, Result<InferenceResult, Error>)] = []
        lock.withLock {
            queue.noteBatch(seconds: computeTime.seconds)
            var offset = 0
            for r in batch {
                defer { offset += r.rows }
                guard r.phase == .running, let c = r.continuation else { continue }
                r.phase = .done
                r.continuation = nil
                switch outcome {
                case .success(let y):
                    let out = batch.count == 1 ? y : Self.rows(of: y, from: offset, count: r.rows)
                    answers.append((c, .success(InferenceResult(
                        model: queue.name, version: queue.version, output: out, queueTime: startedAt - r.submitted,
                        computeTime: computeTime, batchSize: rows, requestID: r.requestID))))
                case .failure(let e):
                    answers.append((c, .failure(e)))
                }
            }
        }
        for (c, result) in answers { c.resume(with: result) }
    }

    /// Runs one batch (lock not held); records its compute time and size.
    private func compute(_ batch: [PendingRequest], on queue: BatchQueue, rows: Int) -> (Result<Tensor, ServingError>, Duration) {
        let outcome: Result<Tensor, ServingError>
        let t0 = ContinuousClock.now
        do {
            let x = batch.count == 1 ? batch[0].input : Self.concatenate(batch.map(\.input), rows: rows)
            if x.rank == 2 && batch.count > 1 {
                let padded = x.count - batch.reduce(0) { $0 + $1.input.count }
                metrics.model(queue.name).paddedTokens.increment(by: padded)
            }
            let y = try queue.model.infer(x)
            guard y.shape.first == rows else {
                throw ServingError.internal("model '\(queue.name)' returned \(y.shape) for a batch of \(rows)")
            }
            outcome = .success(y)
        } catch let e as ServingError {
            outcome = .failure(e)
        } catch {
            outcome = .failure(.internal("model '\(queue.name)' version \(queue.version) failed: \(error)"))
        }
        let computeTime = ContinuousClock.now - t0
        let m = metrics.model(queue.name)
        m.computeTime.recordNanoseconds(computeTime.nanoseconds)
        m.batchSize.record(rows)
        if case .failure(let e) = outcome {
            logger.error("batch failed", metadata: ["model": "\(queue.name)", "version": "\(queue.version)", "error": "\(e)"])
        }
        return (outcome, computeTime)
    }

    static func concatenate(_ inputs: [Tensor], rows: Int) -> Tensor {
        // Token sequences [n, T] of different lengths: padded at the end with
        // id 0, which the model masks, so each row's answer is unchanged.
        if inputs[0].rank == 2, let longest = inputs.map({ $0.shape[1] }).max(), inputs.contains(where: { $0.shape[1] != longest }) {
            var data = [Float](repeating: 0, count: rows * longest)
            var r = 0
            for x in inputs {
                let t = x.shape[1]
                for i in 0..<x.shape[0] {
                    for j in 0..<t { data[(r + i) * longest + j] = x.data[i * t + j] }
                }
                r += x.shape[0]
            }
            return Tensor(shape: [rows, longest], data: data)
        }
        let tail = Array(inputs[0].shape.dropFirst())
        var data: [Float] = []
        data.reserveCapacity(rows * tail.product)
        for x in inputs { data.append(contentsOf: x.data) }
        return Tensor(shape: [rows] + tail, data: data)
    }

    static func rows(of y: Tensor, from start: Int, count: Int) -> Tensor {
        let width = y.shape.dropFirst().product
        return Tensor(shape: [count] + Array(y.shape.dropFirst()),
                      data: Array(y.data[(start * width)..<((start + count) * width)]))
    }

    // MARK: Deadlines

    private func deadlineLoop() {
        lock.lock()
        while !stopped {
            // Drop entries of requests already answered.
            while let top = deadlines.min, top.request.map({ $0.phase == .done || $0.phase == .new }) ?? true {
                _ = deadlines.removeMin()
            }
            // Never hold a request strongly while waiting: that would keep its
            // (possibly retired) version alive until the deadline.
            guard let next = deadlines.min?.deadline else {
                deadlineChanged.wait()
                continue
            }
            let now = ContinuousClock.now
            if next > now {
                deadlineChanged.wait(timeout: next - now)
                continue
            }
            guard let r = deadlines.removeMin().request else { continue }
            if r.phase == .queued {
                _ = r.queue.remove(r)
                deactivateIfEmpty(r.queue)
            }
            r.phase = .done
            let c = r.continuation
            r.continuation = nil
            let waited = now - r.submitted
            lock.unlock()
            c?.resume(throwing: ServingError.timeout(model: r.queue.name, after: waited))
            lock.lock()
        }
        liveThreads -= 1
        threadExited.broadcast()
        lock.unlock()
    }
}
