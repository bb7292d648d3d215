import DLNN
import DLTrain
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The worker threads: each takes the oldest queued job, trains it, publishes
/// the result, and goes back for the next.
extension JobQueue {
    func startWorkers() {
        condition.lock()
        liveWorkers = configuration.concurrency
        condition.unlock()
        for i in 0..<configuration.concurrency {
            // A Thread of its own, not a Task: training is long, synchronous,
            // CPU-bound work that would otherwise hold a cooperative-pool thread
            // (of which there is one per core) away from the HTTP server.
            let thread = Thread { [self] in
                JobWorkerThread.setName("dlserve-job-\(i)")
                JobWorkerThread.lowerPriority(to: configuration.niceness, logger: logger)
                workerLoop()
                workerExited()
            }
            thread.stackSize = 16 << 20
            thread.start()
        }
        logger.info("job workers started", metadata: [
            "workers": "\(configuration.concurrency)", "nice": "\(configuration.niceness)",
            "blas_threads": "\(configuration.blasThreads)",
        ])
    }

    func workerLoop() {
        var seenPokes: UInt64 = 0
        while true {
            condition.lock()
            let stop = stopping
            seenPokes = pokes
            condition.unlock()
            if stop { return }
            do {
                let now = clock.now()
                if let (job, action) = try store.claimNext(now: now, { try $0.start(now: now) }) {
                    hub.notify(job.id)
                    guard case .train(let resumeFrom) = action else { continue }
                    execute(job, resumeFromEpoch: resumeFrom)
                    prune()
                    continue
                }
            } catch {
                logger.error("cannot take a job from the store: \(error)")
            }
            // Nothing queued: sleep until a submit pokes us (or poll each second,
            // for jobs queued by another process sharing the store).
            condition.lock()
            if !stopping && pokes == seenPokes { _ = condition.wait(until: Date() + 1) }
            condition.unlock()
        }
    }

    func workerExited() {
        condition.lock()
        liveWorkers -= 1
        let waiters = liveWorkers == 0 ? stoppedWaiters : []
        if liveWorkers == 0 { stoppedWaiters = [] }
        condition.unlock()
        for w in waiters { w.resume() }
    }

    /// Runs one claimed job to its end (succeeded, failed, cancelled or back
    /// in the queue). Never throws: every failure becomes the job's error.
    func execute(_ job: Job, resumeFromEpoch: Int) {
        let id = job.id
        let control = RunControl()
        condition.lock()
        running[id] = control
        if stopping { control.interrupt() }
        condition.unlock()
        defer {
            condition.lock()
            running[id] = nil
            condition.unlock()
        }
        // A cancel that arrived between the claim and the registration above.
        if (try? store.job(id))?.cancelRequested == true { control.cancel() }

        let log = logger.with(job: id)
        log.info("job started", metadata: ["resume_from_epoch": "\(resumeFromEpoch)", "attempt": "\(job.attempts)"])
        let run = makeRun(job, resumeFromEpoch: resumeFromEpoch, control: control, logger: log)
        do {
            try FileManager.default.createDirectory(at: run.directory, withIntermediateDirectories: true)
            let trained = try trainer.train(run)
            if control.shouldStop { throw TrainingError.cancelled }
            let version = try publish(job, trained)
            log.info("model published", metadata: ["model": "\(job.model)", "version": "\(version)"])
            var result = JobResult(model: job.model, version: version)
            if job.promote { promote(&result, logger: log) }
            try transition(id) { try $0.succeed(result, now: clock.now()) }
            removeDirectory(of: id)
        } catch {
            finishStopped(job, control: control, error: error, logger: log)
        }
    }

    /// A run that ended without a result: cancelled, interrupted by shutdown,
    /// or failed (NaN loss, dataset error, disk full, ...).
    func finishStopped(_ job: Job, control: RunControl, error: Error, logger log: Logger) {
        let id = job.id
        do {
            if control.isCancelled {
                try transition(id) { try $0.acknowledgeCancel(now: clock.now()) }
                log.info("job cancelled")
                removeDirectory(of: id)
            } else if control.isInterrupted {
                let now = clock.now()
                try transition(id) { _ = try $0.requeue(lastAlive: now, now: now, reason: "the daemon is stopping") }
                log.info("job interrupted by shutdown; it will resume from its last checkpoint")
            } else {
                let message = Self.describe(error)
                try transition(id) { try $0.fail(message, now: clock.now()) }
                log.error("job failed: \(message)")
                removeDirectory(of: id)
            }
        } catch {
            log.error("cannot record the end of the job: \(error)")
        }
    }

    /// Applies a transition in the store and wakes the job's followers.
    @discardableResult
    func transition<A>(_ id: JobID, _ body: (inout JobStateMachine) throws -> A) throws -> A {
        let (_, action) = try store.update(id, now: clock.now(), body)
        hub.notify(id)
        return action
    }

    /// The hooks through which a trainer reports: progress at most every
    /// `progressInterval`, each epoch, and the stop flag.
    func makeRun(_ job: Job, resumeFromEpoch: Int, control: RunControl, logger log: Logger) -> JobRun {
        let id = job.id
        let interval = configuration.progressInterval
        var lastStored = ContinuousClock.now - .seconds(3600)
        let hooks = JobRun.Hooks(
            shouldStop: { control.shouldStop },
            restored: { [self] history in
                try transition(id) { try $0.restoreHistory(history, now: clock.now()) }
            },
            batch: { [self] p in
                let t = ContinuousClock.now
                guard t - lastStored >= .seconds(interval) || p.batch == p.batches else { return }
                lastStored = t
                let progress = JobProgress(epoch: p.epoch, totalEpochs: p.epochs, batch: p.batch, totalBatches: p.batches,
                                           loss: Double(p.loss), accuracy: Double(p.accuracy),
                                           imagesPerSecond: p.imagesPerSecond, tokensPerSecond: p.tokensPerSecond)
                do {
                    let action = try transition(id) { try $0.recordProgress(progress, now: clock.now()) }
                    // Set by another daemon sharing the store, or a lost wake-up.
                    if action == .stop { control.cancel() }
                } catch {
                    log.warning("cannot store progress: \(error)")
                }
            },
            epoch: { [self] m in
                let action = try transition(id) { try $0.completeEpoch(m, now: clock.now()) }
                if action == .stop { control.cancel() }
                log.info("epoch finished", metadata: [
                    "epoch": "\(m.epoch)", "train_loss": "\(m.trainLoss)", "dev_loss": "\(m.devLoss.map { "\($0)" } ?? "-")",
                ])
            })
        return JobRun(jobID: id, recipe: Data(job.recipe.utf8), directory: configuration.directory(of: id),
                      resumeFromEpoch: resumeFromEpoch, blasThreads: configuration.blasThreads,
                      limits: configuration.limits, hooks: hooks)
    }

    /// Writes the trained model as the next version of its model, atomically,
    /// with metrics.json and recipe.json (and config.json for a new model).
    func publish(_ job: Job, _ trained: TrainedModel) throws -> Int {
        let configURL = try repository.directory(of: job.model).appendingPathComponent(ModelRepository.configFileName)
        if let config = trained.config, !FileManager.default.fileExists(atPath: configURL.path) {
            try repository.writeConfig(config)
        }
        let recipe = Self.prettyJSON(job.recipe)
        return try repository.publish(name: job.model) { dir in
            try trained.save(dir)
            try trained.metrics.write(to: dir.appendingPathComponent(ModelRepository.metricsFileName))
            try recipe.write(to: dir.appendingPathComponent(ModelRepository.recipeFileName))
        }
    }

    /// Asks serving to load the new version; a failure is recorded on the
    /// result (the version stays published).
    func promote(_ result: inout JobResult, logger log: Logger) {
        guard let promoter else {
            result.promoteError = "this daemon has no serving engine to promote to"
            return
        }
        let (model, version) = (result.model, result.version)
        let outcome = Blocking.wait { try await promoter(model, version) }
        switch outcome {
        case .success:
            result.promoted = true
            log.info("model promoted", metadata: ["model": "\(result.model)", "version": "\(result.version)"])
        case .failure(let error):
            result.promoteError = "\(error)"
            log.warning("promotion failed: \(error)")
        }
    }

    static func describe(_ error: Error) -> String { "\(error)" }

    static func prettyJSON(_ text: String) -> Data {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)),
              let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) else {
            return Data(text.utf8)
        }
        return data
    }
}

/// Scheduling of a worker thread.
public enum JobWorkerThread {
    /// Raises the calling thread's nice value. Under Linux (NPTL) the nice
    /// value is per thread, and setpriority(PRIO_PROCESS, 0, n) changes the
    /// calling thread only (see setpriority(2), "Bugs").
    public static func lowerPriority(to niceness: Int32, logger: Logger) {
        #if os(Linux)
        if setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness) != 0 {
            logger.warning("cannot set the job thread's nice value to \(niceness): errno \(errno)")
        }
        #endif
    }

    /// Names the calling thread, as top -H, ps -L and gdb show it (through
    /// /proc/thread-self/comm; Glibc's pthread_setname_np is not visible to Swift).
    public static func setName(_ name: String) {
        #if os(Linux)
        try? Data(name.prefix(15).utf8).write(to: URL(fileURLWithPath: "/proc/thread-self/comm"))
        #endif
    }

    /// The calling thread's name (tests).
    public static func currentName() -> String {
        #if os(Linux)
        let data = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/thread-self/comm"))) ?? Data()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        #else
        return Thread.current.name ?? ""
        #endif
    }

    /// The calling thread's nice value (tests).
    public static func currentNiceness() -> Int32 {
        #if os(Linux)
        errno = 0
        return getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        #else
        return 0
        #endif
    }
}

/// Runs async work from a plain thread and waits for it. Only for dedicated
/// threads (never from the cooperative pool, where blocking could deadlock).
enum Blocking {
    static func wait<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) -> Result<T, Error> {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        return box.result!
    }
}

final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}

extension Logger {
    func with(job id: JobID) -> Logger {
        var copy = self
        copy[metadataKey: "job"] = "\(id)"
        return copy
    }
}
