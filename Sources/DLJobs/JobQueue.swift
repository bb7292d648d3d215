import DLNN
import DLTrain
import Foundation
import Logging
import ServiceLifecycle

/// Asks serving to load a newly published version (the serving engine's hot
/// reload), so that DLJobs does not depend on DLServing.
public typealias ModelPromoter = @Sendable (_ model: String, _ version: Int) async throws -> Void

/// The durable training job queue: accepts recipes, stores jobs in a
/// `JobStore`, trains them on dedicated low-priority threads (never on the
/// Swift cooperative pool, so inference is not starved), checkpoints every
/// epoch, resumes interrupted jobs at start-up, publishes each result as a new
/// model version and optionally promotes it to serving.
///
/// A service of the daemon's `ServiceGroup`: `run()` recovers interrupted
/// jobs, starts the workers and, on graceful shutdown, stops running jobs at
/// their next batch and puts them back in the queue (they resume from their
/// last checkpoint at the next start). Register it after the serving engine,
/// so that it stops first.
public final class JobQueue: Service, @unchecked Sendable {
    public let store: any JobStore
    public let configuration: JobQueueConfiguration
    let trainer: any JobTrainer
    let repository: ModelRepository
    let promoter: ModelPromoter?
    let clock: any JobClock
    let logger: Logger
    let ids = JobIDGenerator()
    let hub = JobEventHub()

    // Worker state, guarded by `condition`.
    let condition = NSCondition()
    var started = false
    var stopping = false
    var pokes: UInt64 = 0
    var liveWorkers = 0
    var running: [JobID: RunControl] = [:]
    var stoppedWaiters: [CheckedContinuation<Void, Never>] = []

    public init(store: any JobStore, trainer: any JobTrainer, repository: ModelRepository,
                configuration: JobQueueConfiguration, promoter: ModelPromoter? = nil,
                clock: any JobClock = SystemJobClock(), logger: Logger = Logger(label: "dlserve.jobs")) {
        self.store = store
        self.trainer = trainer
        self.repository = repository
        self.configuration = configuration
        self.promoter = promoter
        self.clock = clock
        self.logger = logger
    }

    // MARK: - Client operations

    /// Validates a recipe and queues it. Throws `JobError.invalidRecipe`
    /// (naming the field) or `JobError.queueFull`.
    @discardableResult
    public func submit(recipe: Data) throws -> Job {
        let plan = try trainer.plan(recipe: recipe, limits: configuration.limits)
        let now = clock.now()
        let job = Job(id: ids.next(at: now), model: plan.model, recipe: String(decoding: recipe, as: UTF8.self),
                      promote: plan.promote, totalEpochs: plan.epochs, createdAt: now)
        try store.insert(job, queueCapacity: configuration.capacity, now: now)
        logger.info("job queued", metadata: ["job": "\(job.id)", "model": "\(job.model)", "epochs": "\(plan.epochs)"])
        hub.notify(job.id)
        poke()
        return job
    }

    /// Cancels a queued job at once, or a running one at its next batch (the
    /// returned job still says running then; it turns cancelled within a batch).
    /// Throws `JobError.notFound`, or `JobTransitionError` for a finished job.
    @discardableResult
    public func cancel(_ id: JobID) throws -> Job {
        let (job, action) = try store.update(id, now: clock.now()) { try $0.cancel(now: clock.now()) }
        switch action {
        case .cancelled:
            logger.info("queued job cancelled", metadata: ["job": "\(id)"])
            removeDirectory(of: id)
        case .stopWorker, .alreadyRequested:
            logger.info("cancelling running job", metadata: ["job": "\(id)"])
            control(of: id)?.cancel()
        }
        hub.notify(id)
        return job
    }

    /// The job, or `JobError.notFound`.
    public func job(_ id: JobID) throws -> Job {
        guard let job = try store.job(id) else { throw JobError.notFound(id.rawValue) }
        return job
    }

    /// Jobs newest first, by state, paged.
    public func list(_ query: JobListQuery) throws -> JobPage { try store.list(query) }

    /// The job's learning curves as an SVG document.
    public func curvesSVG(_ id: JobID) throws -> String {
        let job = try job(id)
        return CurvesSVG.render(job.metrics, title: "\(job.model): job \(job.id) (\(job.state.rawValue))")
    }

    // MARK: - Service

    public func run() async throws {
        try start()
        await withTaskCancellationOrGracefulShutdownHandler {
            await self.waitUntilStopped()
        } onCancelOrGracefulShutdown: {
            self.beginShutdown()
        }
        logger.info("job queue stopped")
    }

    /// Recovers jobs that were running when the daemon died and starts the
    /// worker threads (`run()` calls it; tests may call it directly).
    public func start() throws {
        condition.lock()
        guard !started else { condition.unlock(); return }
        started = true
        condition.unlock()
        try recoverInterruptedJobs()
        startWorkers()
    }

    /// Stops running jobs at their next batch (back to queued, to resume
    /// later) and lets the workers exit; `waitUntilStopped` returns after.
    public func beginShutdown() {
        condition.lock()
        stopping = true
        let controls = Array(running.values)
        condition.broadcast()
        condition.unlock()
        for c in controls { c.interrupt() }
        hub.wakeAll()
    }

    /// True once the queue is stopping: event streams end (clients reconnect
    /// with Last-Event-ID to the next daemon).
    public var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    /// Returns once every worker thread has exited (after `beginShutdown`).
    public func waitUntilStopped() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            condition.lock()
            if liveWorkers == 0 && (stopping || !started) {
                condition.unlock()
                c.resume()
            } else {
                stoppedWaiters.append(c)
                condition.unlock()
            }
        }
    }

    /// Requeues (or fails, after too many crashes) every job left running by
    /// a daemon that died.
    func recoverInterruptedJobs() throws {
        for id in try store.ids(in: .running) {
            let now = clock.now()
            let (job, action) = try store.update(id, now: now) {
                try $0.recoverAfterCrash(now: now, maxRecoveries: configuration.maxRecoveries)
            }
            switch action {
            case .queued(let epoch):
                logger.notice("job interrupted by a crash; requeued", metadata: ["job": "\(id)", "resume_from_epoch": "\(epoch)"])
            case .cancelled:
                logger.notice("job interrupted by a crash while being cancelled; cancelled", metadata: ["job": "\(id)"])
                removeDirectory(of: id)
            case .failed:
                logger.error("job failed: \(job.error ?? "")", metadata: ["job": "\(id)"])
                removeDirectory(of: id)
            }
            hub.notify(id)
        }
    }

    // MARK: - Helpers

    /// Wakes idle workers (a job was queued).
    func poke() {
        condition.lock()
        pokes &+= 1
        condition.broadcast()
        condition.unlock()
    }

    func control(of id: JobID) -> RunControl? {
        condition.lock()
        defer { condition.unlock() }
        return running[id]
    }

    func removeDirectory(of id: JobID) {
        try? FileManager.default.removeItem(at: configuration.directory(of: id))
    }
}

/// Stop flags of one running job, read by its trainer before every batch.
final class RunControl: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    private var interrupted = false

    func cancel() { lock.lock(); cancelled = true; lock.unlock() }
    func interrupt() { lock.lock(); interrupted = true; lock.unlock() }

    var isCancelled: Bool { lock.lock(); defer { lock.unlock() }; return cancelled }
    var isInterrupted: Bool { lock.lock(); defer { lock.unlock() }; return interrupted }
    var shouldStop: Bool { lock.lock(); defer { lock.unlock() }; return cancelled || interrupted }
}
