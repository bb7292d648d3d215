@testable import DLJobs
import DLNN
import DLTrain
import Logging
import DLJobsTesting
import XCTest

/// The queue with a fast fake trainer: real SQLite store, real threads, real
/// model repository in a temporary directory.
final class JobQueueTests: XCTestCase {
    var root: URL!
    var state: URL { root.appendingPathComponent("state") }
    var models: URL { root.appendingPathComponent("models") }
    let trainer = FakeTrainer()

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("jobqueue-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    func makeQueue(capacity: Int = 16, concurrency: Int = 1, maxRecoveries: Int = 3,
                   promoter: ModelPromoter? = nil) throws -> JobQueue {
        let config = JobQueueConfiguration(stateDirectory: state, capacity: capacity, concurrency: concurrency,
                                           limits: JobLimits(maxEpochs: 50), progressInterval: 0, maxRecoveries: maxRecoveries)
        return JobQueue(store: try SQLiteJobStore(stateDirectory: state), trainer: trainer,
                        repository: ModelRepository(root: models), configuration: config, promoter: promoter)
    }

    /// Follows a job's events to its end.
    func collect(_ queue: JobQueue, _ id: JobID, after: Int64 = 0, timeout: TimeInterval = 20) async throws -> [JobEventRecord] {
        let stream = try queue.follow(id, after: after, pollInterval: .milliseconds(200))
        return try await withThrowingTaskGroup(of: [JobEventRecord].self) { group in
            group.addTask {
                var all: [JobEventRecord] = []
                for try await r in stream { all.append(r) }
                return all
            }
            group.addTask {
                try await Task.sleep(for: .seconds(timeout))
                throw XCTSkip("timed out following job \(id)")
            }
            let result = try await group.next()!
            group.cancelAll()
            return result
        }
    }

    func waitUntil(_ what: String, timeout: TimeInterval = 10, _ condition: () throws -> Bool) throws {
        let deadline = Date() + timeout
        while try !condition() {
            guard Date() < deadline else { return XCTFail("timed out waiting until \(what)") }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    func stop(_ queue: JobQueue) async {
        queue.beginShutdown()
        await queue.waitUntilStopped()
    }

    // MARK: -

    func testJobTrainsPublishesAVersionAndReportsEveryStep() async throws {
        let queue = try makeQueue()
        try queue.start()
        let job = try queue.submit(recipe: FakeTrainer.recipe("shirts", epochs: 2, batches: 3))
        XCTAssertEqual(job.state, .queued)
        let events = try await collect(queue, job.id)
        await stop(queue)

        XCTAssertEqual(events.map(\.seq), Array(1...Int64(events.count)), "consecutive ids from 1")
        XCTAssertEqual(events.map(\.event.kind), [.state, .state, .progress, .progress, .progress, .epoch,
                                                  .progress, .progress, .progress, .epoch, .state])
        XCTAssertEqual(events.filter { $0.event.kind == .state }.map(\.event.state), [.queued, .running, .succeeded])
        XCTAssertEqual(events[3].event.progress, JobProgress(epoch: 1, totalEpochs: 2, batch: 2, totalBatches: 3,
                                                             loss: 0.5, accuracy: 0.75, imagesPerSecond: 1000))
        XCTAssertEqual(events.last?.event.result, JobResult(model: "shirts", version: 1))

        let done = try queue.job(job.id)
        XCTAssertEqual(done.state, .succeeded)
        XCTAssertEqual(done.metrics.map(\.epoch), [1, 2])
        XCTAssertEqual(done.metrics.map(\.trainLoss), [1, 0.5])
        XCTAssertEqual(done.progress.epoch, 2)
        XCTAssertEqual(done.attempts, 1)
        XCTAssertNotNil(done.timings.finishedAt)
        // The version: model files, metrics, recipe; config.json for the new model.
        let v1 = models.appendingPathComponent("shirts/1")
        for f in ["model.json", "weights.safetensors", "metrics.json", "recipe.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: v1.appendingPathComponent(f).path), f)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: models.appendingPathComponent("shirts/config.json").path))
        let recipe = try JSONSerialization.jsonObject(with: Data(contentsOf: v1.appendingPathComponent("recipe.json"))) as? [String: Any]
        XCTAssertEqual(recipe?["epochs"] as? Int, 2)
        let loaded = try ModelRepository(root: models).load("shirts", version: 1)
        XCTAssertEqual(loaded.model.outputShape, [10])
        // The checkpoint directory is gone; training ran on a named low-priority thread.
        XCTAssertFalse(FileManager.default.fileExists(atPath: state.appendingPathComponent("jobs/\(job.id)").path))
        XCTAssertEqual(trainer.threadNames, ["dlserve-job-0"])
        XCTAssertEqual(trainer.niceValues, [19])
        XCTAssertEqual(trainer.ranInTask, [false], "not on the cooperative pool")
        XCTAssertNotEqual(JobWorkerThread.currentNiceness(), 19, "only the worker thread is reniced")

        // A second job publishes version 2 next to it.
        let second = try queue.submit(recipe: FakeTrainer.recipe("shirts", epochs: 1, batches: 1))
        try queue.start()  // no-op: already started (and stopped)
        let q2 = try makeQueue()
        try q2.start()
        _ = try await collect(q2, second.id)
        await stop(q2)
        XCTAssertEqual(try q2.job(second.id).result?.version, 2)
    }

    func testFollowResumesAfterALastEventIdAndEndsForFinishedJobs() async throws {
        let queue = try makeQueue()
        try queue.start()
        let job = try queue.submit(recipe: FakeTrainer.recipe(epochs: 1, batches: 2))
        let all = try await collect(queue, job.id)
        let tail = try await collect(queue, job.id, after: 3)
        XCTAssertEqual(tail.map(\.seq), Array(all.map(\.seq).dropFirst(3)))
        let none = try await collect(queue, job.id, after: all.last!.seq)
        XCTAssertEqual(none, [], "resuming after the final event ends at once")
        XCTAssertThrowsError(try queue.follow(JobIDGenerator().next(at: Date()))) {
            guard case .notFound = $0 as? JobError else { return XCTFail("\($0)") }
        }
        await stop(queue)
        XCTAssertEqual(queue.hub.waiterCount, 0)
    }

    func testCancelRunningJobStopsWithinOneBatch() async throws {
        let queue = try makeQueue()
        try queue.start()
        let job = try queue.submit(recipe: FakeTrainer.recipe(epochs: 3, batches: 1000, delayMs: 5))
        try waitUntil("the job has trained a few batches") { trainer.batchesRun >= 3 }
        let batchesAtCancel = trainer.batchesRun
        let answer = try queue.cancel(job.id)
        XCTAssertEqual(answer.state, .running)
        XCTAssertTrue(answer.cancelRequested)
        let events = try await collect(queue, job.id, timeout: 5)
        XCTAssertLessThanOrEqual(trainer.batchesRun - batchesAtCancel, 1, "at most the batch in flight finishes")
        XCTAssertEqual(events.last?.event.state, .cancelled)
        let done = try queue.job(job.id)
        XCTAssertEqual(done.state, .cancelled)
        XCTAssertGreaterThan(done.timings.runSeconds, 0)
        XCTAssertThrowsError(try queue.cancel(job.id)) { XCTAssertTrue($0 is JobTransitionError) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: models.appendingPathComponent("fake").path + "/1"))
        await stop(queue)
    }

    func testCancelQueuedJob() async throws {
        let queue = try makeQueue()  // not started: jobs stay queued
        let job = try queue.submit(recipe: FakeTrainer.recipe())
        XCTAssertEqual(try queue.cancel(job.id).state, .cancelled)
        let events = try await collect(queue, job.id)
        XCTAssertEqual(events.map(\.event.state), [.queued, .cancelled])
    }

    func testFullQueueRefusesAndBadRecipesNameTheField() throws {
        let queue = try makeQueue(capacity: 2)
        try queue.submit(recipe: FakeTrainer.recipe())
        try queue.submit(recipe: FakeTrainer.recipe())
        XCTAssertThrowsError(try queue.submit(recipe: FakeTrainer.recipe())) {
            XCTAssertEqual($0 as? JobError, .queueFull(capacity: 2))
            XCTAssertEqual(($0 as? JobError)?.code, "job_queue_full")
        }
        XCTAssertThrowsError(try queue.submit(recipe: FakeTrainer.recipe(epochs: 51))) {
            XCTAssertEqual($0 as? JobError, .invalidRecipe("epochs 51 exceeds the maximum of 50"))
        }
        XCTAssertEqual(try queue.list(JobListQuery(state: .queued)).jobs.count, 2)
    }

    func testNaNLossFailsTheJobAndTheQueueGoesOn() async throws {
        let queue = try makeQueue()
        try queue.start()
        let bad = try queue.submit(recipe: FakeTrainer.recipe("bad", epochs: 2, batches: 4, nanAt: (2, 3)))
        let good = try queue.submit(recipe: FakeTrainer.recipe("good", epochs: 1, batches: 1))
        let events = try await collect(queue, bad.id)
        XCTAssertEqual(events.last?.event.state, .failed)
        let failed = try queue.job(bad.id)
        XCTAssertEqual(failed.state, .failed)
        XCTAssertEqual(failed.error, "training diverged: loss is nan at epoch 2, batch 3 (lower the learning rate or enable gradient clipping)")
        XCTAssertEqual(failed.metrics.count, 1, "epoch 1 finished before the NaN")
        XCTAssertFalse(FileManager.default.fileExists(atPath: models.appendingPathComponent("bad/1").path))
        _ = try await collect(queue, good.id)
        XCTAssertEqual(try queue.job(good.id).state, .succeeded)
        await stop(queue)
    }

    func testRestartAfterACrashResumesFromTheCheckpoint() async throws {
        // A daemon died during epoch 3 of 4: the store says running, epochs 1-2
        // are recorded and checkpointed.
        let recipe = FakeTrainer.recipe("resumed", epochs: 4, batches: 2)
        var id: JobID!
        do {
            let store = try SQLiteJobStore(stateDirectory: state)
            let clock = ManualJobClock()
            id = JobIDGenerator().next(at: clock.now())
            try store.insert(Job(id: id, model: "resumed", recipe: String(decoding: recipe, as: UTF8.self), promote: false,
                                 totalEpochs: 4, createdAt: clock.now()), queueCapacity: 10, now: clock.now())
            _ = try store.claimNext(now: clock.now()) { try $0.start(now: clock.now()) }
            var history: [EpochMetrics] = []
            for e in 1...2 {
                clock.advance(by: 10)
                let m = epochMetrics(e, trainLoss: 1 / Float(e), trainAccuracy: 0.5 + 0.1 * Float(e - 1),
                                     devLoss: 1.1 / Float(e), devAccuracy: 0.45 + 0.1 * Float(e - 1))
                history.append(m)
                try store.update(id, now: clock.now()) { try $0.completeEpoch(m, now: clock.now()) }
            }
            let dir = state.appendingPathComponent("jobs/\(id!)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try JSONEncoder().encode(FakeTrainer.Checkpoint(epochsCompleted: 2, history: history))
                .write(to: dir.appendingPathComponent("checkpoint.safetensors"))
        }
        let resumedAt = Date()
        let queue = try makeQueue()
        try queue.start()
        let events = try await collect(queue, id)
        await stop(queue)
        let resumedRun = Date().timeIntervalSince(resumedAt)
        XCTAssertEqual(trainer.resumedFrom, [2])
        XCTAssertEqual(trainer.batchesRun, 4, "only epochs 3 and 4 ran")
        let job = try queue.job(id)
        XCTAssertEqual(job.state, .succeeded)
        XCTAssertEqual(job.metrics.map(\.epoch), [1, 2, 3, 4], "nothing lost, nothing repeated")
        XCTAssertEqual(job.attempts, 2)
        XCTAssertEqual(job.recoveries, 1)
        // The dead daemon's 20 s count, plus the resumed run (however long this
        // machine took for it); the gap between the crash and the restart does not.
        XCTAssertGreaterThanOrEqual(job.timings.runSeconds, 20)
        XCTAssertLessThanOrEqual(job.timings.runSeconds, 20 + resumedRun + 0.5, "the gap does not count")
        let messages = events.compactMap(\.event.message)
        XCTAssertTrue(messages.contains("the daemon restarted after a crash; will resume from the checkpoint of epoch 2"), "\(messages)")
        XCTAssertTrue(messages.contains("resuming from the checkpoint of epoch 2"), "\(messages)")
    }

    func testGracefulShutdownRequeuesAndTheNextStartResumes() async throws {
        let queue = try makeQueue()
        try queue.start()
        let job = try queue.submit(recipe: FakeTrainer.recipe("graceful", epochs: 3, batches: 20, delayMs: 5))
        try waitUntil("epoch 1 is checkpointed") { try queue.job(job.id).checkpointEpoch >= 1 }
        await stop(queue)
        let paused = try queue.job(job.id)
        XCTAssertEqual(paused.state, .queued)
        XCTAssertGreaterThanOrEqual(paused.checkpointEpoch, 1)
        XCTAssertEqual(paused.recoveries, 0)

        let next = try makeQueue()
        try next.start()
        _ = try await collect(next, job.id)
        await stop(next)
        let done = try next.job(job.id)
        XCTAssertEqual(done.state, .succeeded)
        XCTAssertEqual(done.metrics.map(\.epoch), [1, 2, 3])
        XCTAssertEqual(trainer.resumedFrom, [0, paused.checkpointEpoch])
    }

    func testAJobThatKeepsCrashingTheDaemonFails() async throws {
        let store = try SQLiteJobStore(stateDirectory: state)
        let clock = ManualJobClock()
        let id = JobIDGenerator().next(at: clock.now())
        try store.insert(Job(id: id, model: "m", recipe: "{}", promote: false, totalEpochs: 1, createdAt: clock.now()),
                         queueCapacity: 10, now: clock.now())
        for _ in 0..<2 {
            _ = try store.claimNext(now: clock.now()) { try $0.start(now: clock.now()) }
            _ = try store.update(id, now: clock.now()) { try $0.recoverAfterCrash(now: clock.now(), maxRecoveries: 2) }
        }
        _ = try store.claimNext(now: clock.now()) { try $0.start(now: clock.now()) }
        let queue = try makeQueue(maxRecoveries: 2)
        try queue.start()
        await stop(queue)
        let job = try queue.job(id)
        XCTAssertEqual(job.state, .failed)
        XCTAssertEqual(job.error, "the daemon stopped unexpectedly 3 times while running this job; giving up (last checkpoint: epoch 0)")
    }

    func testPromotionAsksServingToLoadTheNewVersion() async throws {
        final class Calls: @unchecked Sendable { var list: [String] = []; let lock = NSLock() }
        let calls = Calls()
        let queue = try makeQueue(promoter: { model, version in
            calls.lock.withLock { calls.list.append("\(model)@\(version)") }
            if model == "broken" { throw JobError.unavailable("serving engine is down") }
        })
        try queue.start()
        let a = try queue.submit(recipe: FakeTrainer.recipe("promoted", epochs: 1, batches: 1, promote: true))
        let b = try queue.submit(recipe: FakeTrainer.recipe("broken", epochs: 1, batches: 1, promote: true))
        let c = try queue.submit(recipe: FakeTrainer.recipe("quiet", epochs: 1, batches: 1, promote: false))
        for id in [a.id, b.id, c.id] { _ = try await collect(queue, id) }
        await stop(queue)
        XCTAssertEqual(calls.list, ["promoted@1", "broken@1"])
        XCTAssertEqual(try queue.job(a.id).result, JobResult(model: "promoted", version: 1, promoted: true))
        XCTAssertEqual(try queue.job(b.id).state, .succeeded, "the version is published even if serving refuses it")
        XCTAssertEqual(try queue.job(b.id).result?.promoteError, "job queue unavailable: serving engine is down")
        XCTAssertEqual(try queue.job(c.id).result, JobResult(model: "quiet", version: 1, promoted: false))
    }

    func testConcurrencyRunsJobsSideBySide() async throws {
        let queue = try makeQueue(concurrency: 2)
        try queue.start()
        let jobs = try (0..<2).map { try queue.submit(recipe: FakeTrainer.recipe("c\($0)", epochs: 1, batches: 20, delayMs: 5)) }
        for j in jobs { _ = try await collect(queue, j.id) }
        await stop(queue)
        XCTAssertEqual(trainer.maxConcurrent, 2)
        XCTAssertEqual(Set(trainer.threadNames), ["dlserve-job-0", "dlserve-job-1"])
    }

    func testCurvesOfAJob() async throws {
        let queue = try makeQueue()
        try queue.start()
        let job = try queue.submit(recipe: FakeTrainer.recipe("curvy", epochs: 3, batches: 1))
        _ = try await collect(queue, job.id)
        await stop(queue)
        let doc = try SVGCollector.parse(try queue.curvesSVG(job.id))
        XCTAssertEqual(doc.all("polyline").map { $0["points"]!.split(separator: " ").count }, [3, 3, 3, 3])
        XCTAssertTrue(doc.texts.contains("curvy: job \(job.id) (succeeded)"))
    }
}
