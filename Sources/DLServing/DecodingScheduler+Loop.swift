import DLNN
import DLTensor
import Foundation

/// The loop of a `DecodingScheduler`, on its own thread: admit, drop, step,
/// answer, until no request is left. Only this thread touches the running
/// state and the active jobs' searches; the queue, flags and continuations
/// are under the scheduler's lock.
struct DecodingLoop<Model: IncrementalDecoder> where Model.State: ConcatenableDecoderState {
    let scheduler: DecodingScheduler<Model>
    var active: [DecodingJob<Model>] = []
    var state: Model.State?

    init(scheduler: DecodingScheduler<Model>) { self.scheduler = scheduler }

    mutating func run() {
        while true {
            guard let joining = admit() else { return }
            var left = dropCancelledAndExpired()
            let t0 = ContinuousClock.now
            if !joining.isEmpty { join(joining) }
            if !active.isEmpty {
                do {
                    try step()
                } catch {
                    fail(active, with: Self.serving(error, model: scheduler.limits.model))
                    active = []
                    state = nil
                    continue
                }
            }
            scheduler.computeTime.recordNanoseconds((ContinuousClock.now - t0).nanoseconds)
            let done = active.filter(\.isFinished)
            active.removeAll { $0.isFinished }
            answer(done)
            left += done.count
            if left > 0, let current = state { state = active.isEmpty ? nil : Model.State.concatenating([current]) }
        }
    }

    /// Takes the requests that may join now (lock held inside); waits while
    /// nothing runs and the first waiting request may still wait for company.
    /// Returns nil, with the loop marked stopped, when there is nothing left.
    mutating func admit() -> [DecodingJob<Model>]? {
        let s = scheduler
        s.lock.lock()
        defer { s.lock.unlock() }
        while active.isEmpty {
            guard let first = s.waiting.first else {
                s.loopRunning = false
                return nil
            }
            let ready = first.submitted + s.limits.maxQueueDelay
            let now = ContinuousClock.now
            let rows = s.waiting.reduce(0) { $0 + $1.maxRows }
            if now >= ready || rows >= s.limits.maxRows { break }
            s.workAvailable.wait(timeout: ready - now)
        }
        var rows = active.reduce(0) { $0 + $1.maxRows }
        var joining: [DecodingJob<Model>] = []
        while let next = s.waiting.first, (active.isEmpty && joining.isEmpty) || rows + next.maxRows <= s.limits.maxRows {
            s.waiting.removeFirst()
            rows += next.maxRows
            joining.append(next)
        }
        return joining
    }

    /// Removes cancelled requests and answers expired ones; returns how many left.
    mutating func dropCancelledAndExpired() -> Int {
        let now = ContinuousClock.now
        let s = scheduler
        var expired: [(CheckedContinuation<[DecodingResult], Error>, Duration)] = []
        var left = 0
        s.lock.withLock {
            // Expired requests still queued.
            for job in s.waiting where job.deadline <= now {
                if let c = job.continuation { expired.append((c, now - job.submitted)) }
                job.continuation = nil
                job.cancelled = true
            }
            s.waiting.removeAll { $0.cancelled }
            for job in active where job.cancelled || job.deadline <= now {
                if let c = job.continuation { expired.append((c, now - job.submitted)) }
                job.continuation = nil
                job.cancelled = true
                left += 1
            }
            // Under the lock: `cancel` sets the flag from the caller's thread.
            active.removeAll { $0.cancelled }
        }
        for (c, after) in expired { c.resume(throwing: ServingError.timeout(model: s.limits.model, after: after)) }
        if active.isEmpty { state = nil }
        return left
    }

    /// Encodes the newcomers in one batch and puts their rows after the running ones.
    mutating func join(_ joining: [DecodingJob<Model>]) {
        do {
            let fresh = try scheduler.model.start(joining.flatMap(\.sources))
            var row = state?.rowCount ?? 0
            for job in joining {
                job.firstRow = job.sources.indices.map { row + $0 }
                row += job.sources.count
            }
            state = state.map { Model.State.concatenating([$0, fresh]) } ?? fresh
            active += joining
        } catch {
            fail(joining, with: Self.serving(error, model: scheduler.limits.model))
        }
    }

    /// One model step over the unfinished searches of every active request.
    mutating func step() throws {
        var keeping: [Int] = [], tokens: [Int] = []
        var next: [[Int]] = []
        var requests = 0
        for job in active {
            var starts = job.firstRow
            var stepping = false
            for (i, search) in job.searches.enumerated() where !search.isFinished {
                starts[i] = keeping.count
                keeping += search.parents.map { job.firstRow[i] + $0 }
                tokens += search.tokens
                stepping = true
            }
            next.append(starts)
            if stepping { requests += 1 }
        }
        guard !keeping.isEmpty, let current = state else { return }
        let (logProbabilities, stepped) = try scheduler.model.step(current, keeping: keeping, lastTokens: tokens)
        let v = scheduler.model.vocabularySize
        precondition(logProbabilities.shape == [keeping.count, v] && stepped.rowCount == keeping.count,
                     "DecodingScheduler: step gave \(logProbabilities.shape), \(stepped.rowCount) rows for \(keeping.count) of \(v)")
        let values = logProbabilities.data
        for (j, job) in active.enumerated() {
            for i in job.searches.indices where !job.searches[i].isFinished {
                let start = next[j][i] * v, rows = job.searches[i].parents.count
                job.searches[i].advance(values[start..<(start + rows * v)], vocabularySize: v)
            }
            job.firstRow = next[j]
        }
        state = stepped
        scheduler.lock.withLock {
            scheduler.statistics.steps += 1
            scheduler.statistics.rows += keeping.count
            if requests > 1 { scheduler.statistics.sharedSteps += 1 }
            scheduler.statistics.mostRequestsInAStep = max(scheduler.statistics.mostRequestsInAStep, requests)
        }
    }

    func answer(_ done: [DecodingJob<Model>]) {
        guard !done.isEmpty else { return }
        let now = ContinuousClock.now
        let answers = scheduler.lock.withLock {
            done.compactMap { job -> (CheckedContinuation<[DecodingResult], Error>, [DecodingResult])? in
                scheduler.averageJobSeconds = 0.8 * scheduler.averageJobSeconds + 0.2 * (now - job.submitted).seconds
                defer { job.continuation = nil }
                return job.continuation.map { ($0, job.searches.map(\.result)) }
            }
        }
        for (c, results) in answers { c.resume(returning: results) }
    }

    func fail(_ jobs: [DecodingJob<Model>], with error: ServingError) {
        let continuations = scheduler.lock.withLock {
            jobs.compactMap { job in
                defer { job.continuation = nil }
                return job.continuation
            }
        }
        for c in continuations { c.resume(throwing: error) }
    }

    static func serving(_ error: Error, model: String) -> ServingError {
        if let e = error as? ServingError { return e }
        return .internal("decoding with model '\(model)' failed: \(error)")
    }
}
