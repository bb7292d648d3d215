import DLTrain
import Foundation

/// A transition that the job's state does not allow (cancelling a finished
/// job, starting a running one). Clients cause the first kind (HTTP 409).
public struct JobTransitionError: Error, Equatable, CustomStringConvertible {
    public var jobID: JobID
    public var state: JobState
    public var transition: String

    public init(jobID: JobID, state: JobState, transition: String) {
        self.jobID = jobID
        self.state = state
        self.transition = transition
    }

    public var description: String { "job \(jobID) is \(state.rawValue); cannot \(transition)" }
}

/// The life of one job as a pure value: every transition takes the time from
/// its caller (an injected clock), changes the job, appends the events to
/// report and returns what the caller must do. No I/O happens here; the store
/// applies a transition and writes the job and its events in one transaction.
public struct JobStateMachine: Sendable {
    public private(set) var job: Job
    /// Events produced since this value was made, in order.
    public private(set) var events: [JobEvent] = []

    public init(_ job: Job) { self.job = job }

    // MARK: - Starting

    /// What the worker must do after `start`.
    public enum StartAction: Equatable, Sendable {
        /// Train; resume from the checkpoint of epoch `resumeFromEpoch` if it is above 0.
        case train(resumeFromEpoch: Int)
    }

    /// queued -> running.
    public mutating func start(now: Date) throws -> StartAction {
        try require(.queued, "start")
        job.state = .running
        job.attempts += 1
        job.timings.startedAt = job.timings.startedAt ?? now
        job.timings.runningSince = now
        touch(now)
        let resume = job.checkpointEpoch
        emit(.state, message: resume > 0 ? "resuming from the checkpoint of epoch \(resume)" : "started")
        return .train(resumeFromEpoch: resume)
    }

    // MARK: - Progress

    /// What the trainer must do after reporting progress.
    public enum ProgressAction: Equatable, Sendable {
        case `continue`
        /// Cancellation was requested: stop before the next batch.
        case stop
    }

    /// Records the batch reached. Running only.
    public mutating func recordProgress(_ progress: JobProgress, now: Date) throws -> ProgressAction {
        try require(.running, "record progress")
        job.progress = progress
        touch(now)
        emit(.progress)
        return job.cancelRequested ? .stop : .continue
    }

    /// Records a completed epoch whose checkpoint is saved. Metrics of later
    /// epochs (left over from an attempt that died before its checkpoint) are dropped.
    public mutating func completeEpoch(_ metrics: EpochMetrics, now: Date) throws -> ProgressAction {
        try require(.running, "complete an epoch")
        job.metrics.removeAll { $0.epoch >= metrics.epoch }
        job.metrics.append(metrics)
        job.checkpointEpoch = metrics.epoch
        job.progress.epoch = metrics.epoch
        job.progress.batch = job.progress.totalBatches
        job.progress.loss = Double(metrics.trainLoss)
        job.progress.accuracy = Double(metrics.trainAccuracy)
        touch(now)
        var event = JobEvent(kind: .epoch, state: job.state, progress: job.progress)
        event.metrics = metrics
        events.append(event)
        return job.cancelRequested ? .stop : .continue
    }

    /// After a resume, the trainer reports the history its checkpoint holds;
    /// it replaces the job's metrics so that nothing is lost or repeated.
    public mutating func restoreHistory(_ history: [EpochMetrics], now: Date) throws {
        try require(.running, "restore history")
        job.metrics = history.sorted { $0.epoch < $1.epoch }
        job.checkpointEpoch = history.map(\.epoch).max() ?? 0
        resetProgressToCheckpoint()
        touch(now)
    }

    // MARK: - Cancelling

    public enum CancelAction: Equatable, Sendable {
        /// The job was queued and is now cancelled.
        case cancelled
        /// The job is running: the worker must stop it at the next batch.
        case stopWorker
        /// Cancellation was already requested; nothing more to do.
        case alreadyRequested
    }

    /// queued -> cancelled, or flags a running job for cancellation.
    public mutating func cancel(now: Date) throws -> CancelAction {
        switch job.state {
        case .queued:
            job.state = .cancelled
            finish(now)
            emit(.state, message: "cancelled before it started")
            return .cancelled
        case .running:
            if job.cancelRequested { return .alreadyRequested }
            job.cancelRequested = true
            touch(now)
            return .stopWorker
        case .succeeded, .failed, .cancelled:
            throw JobTransitionError(jobID: job.id, state: job.state, transition: "cancel")
        }
    }

    /// running (cancel requested) -> cancelled, once the trainer has stopped.
    public mutating func acknowledgeCancel(now: Date) throws {
        try require(.running, "acknowledge a cancel")
        precondition(job.cancelRequested, "JobStateMachine: acknowledgeCancel without a cancel request (job \(job.id))")
        job.state = .cancelled
        endAttempt(at: now)
        finish(now)
        emit(.state, message: "cancelled")
    }

    // MARK: - Finishing

    /// running -> succeeded.
    public mutating func succeed(_ result: JobResult, now: Date) throws {
        try require(.running, "succeed")
        job.state = .succeeded
        job.result = result
        endAttempt(at: now)
        finish(now)
        var event = JobEvent(kind: .state, state: .succeeded, progress: job.progress)
        event.result = result
        events.append(event)
    }

    /// queued or running -> failed (a queued job fails when its dataset
    /// vanished before it started, for example).
    public mutating func fail(_ message: String, now: Date) throws {
        guard job.state == .running || job.state == .queued else {
            throw JobTransitionError(jobID: job.id, state: job.state, transition: "fail")
        }
        if job.state == .running { endAttempt(at: now) }
        job.state = .failed
        job.error = message
        finish(now)
        var event = JobEvent(kind: .state, state: .failed, progress: job.progress)
        event.error = message
        events.append(event)
    }

    // MARK: - Restarts

    public enum RequeueAction: Equatable, Sendable {
        /// Back in the queue; it will resume from the checkpoint of this epoch (0: from scratch).
        case queued(resumeFromEpoch: Int)
        /// A cancel had been requested before the interruption: the job is cancelled.
        case cancelled
        /// The daemon died too often while running this job: it failed.
        case failed
    }

    /// running -> queued for a job found running at start-up: the daemon died
    /// (SIGKILL, power cut, crash) while it ran. The interrupted attempt ended
    /// at the job's last update. After `maxRecoveries` such recoveries the job
    /// fails instead, so that a job that crashes the daemon cannot do it forever.
    public mutating func recoverAfterCrash(now: Date, maxRecoveries: Int) throws -> RequeueAction {
        try require(.running, "recover")
        job.recoveries += 1
        if job.recoveries > maxRecoveries && !job.cancelRequested {
            endAttempt(at: job.timings.updatedAt)
            try fail("the daemon stopped unexpectedly \(job.recoveries) times while running this job; giving up "
                     + "(last checkpoint: epoch \(job.checkpointEpoch))", now: now)
            return .failed
        }
        return try requeue(lastAlive: job.timings.updatedAt, now: now, reason: "the daemon restarted after a crash")
    }

    /// running -> queued when the daemon stops (gracefully, or found on
    /// start-up after being killed). `lastAlive` ends the interrupted attempt:
    /// now for a graceful stop, the last update for a killed daemon.
    public mutating func requeue(lastAlive: Date, now: Date, reason: String) throws -> RequeueAction {
        try require(.running, "requeue")
        endAttempt(at: lastAlive)
        if job.cancelRequested {
            job.state = .cancelled
            finish(now)
            emit(.state, message: "cancelled (\(reason))")
            return .cancelled
        }
        job.state = .queued
        job.metrics.removeAll { $0.epoch > job.checkpointEpoch }
        resetProgressToCheckpoint()
        touch(now)
        emit(.state, message: "\(reason); will resume from \(job.checkpointEpoch > 0 ? "the checkpoint of epoch \(job.checkpointEpoch)" : "the start")")
        return .queued(resumeFromEpoch: job.checkpointEpoch)
    }

    // MARK: - Helpers

    private func require(_ state: JobState, _ transition: String) throws {
        guard job.state == state else {
            throw JobTransitionError(jobID: job.id, state: job.state, transition: transition)
        }
    }

    private mutating func touch(_ now: Date) { job.timings.updatedAt = now }

    /// Progress as of the checkpoint: its epoch complete (or nothing done).
    private mutating func resetProgressToCheckpoint() {
        job.progress.epoch = job.checkpointEpoch
        job.progress.batch = job.checkpointEpoch > 0 ? job.progress.totalBatches : 0
        job.progress.loss = job.metrics.last.map { Double($0.trainLoss) }
        job.progress.accuracy = job.metrics.last.map { Double($0.trainAccuracy) }
        job.progress.imagesPerSecond = nil
        job.progress.tokensPerSecond = nil
    }

    private mutating func endAttempt(at end: Date) {
        if let since = job.timings.runningSince {
            job.timings.runSeconds += max(0, end.timeIntervalSince(since))
        }
        job.timings.runningSince = nil
    }

    private mutating func finish(_ now: Date) {
        job.timings.finishedAt = now
        touch(now)
    }

    private mutating func emit(_ kind: JobEventKind, message: String? = nil) {
        events.append(JobEvent(kind: kind, state: job.state, progress: job.progress, message: message))
    }
}
