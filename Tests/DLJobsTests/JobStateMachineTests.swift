import DLJobs
import DLTrain
import DLJobsTesting
import XCTest

/// The job life cycle without I/O, driven by a manual clock.
final class JobStateMachineTests: XCTestCase {
    let clock = ManualJobClock()
    let ids = JobIDGenerator()

    func makeJob(epochs: Int = 3) -> JobStateMachine {
        JobStateMachine(Job(id: ids.next(at: clock.now()), model: "fm", recipe: "{}", promote: false,
                            totalEpochs: epochs, createdAt: clock.now()))
    }

    func metrics(_ epoch: Int) -> EpochMetrics {
        epochMetrics(epoch, trainLoss: 1.0 / Float(epoch), trainAccuracy: 0.5 + 0.1 * Float(epoch),
                     devLoss: 1.2 / Float(epoch), devAccuracy: 0.45 + 0.1 * Float(epoch), seconds: 10)
    }

    func testHappyPathRecordsTimingsProgressAndEvents() throws {
        var m = makeJob(epochs: 2)
        let created = clock.now()
        clock.advance(by: 5)
        XCTAssertEqual(try m.start(now: clock.now()), .train(resumeFromEpoch: 0))
        XCTAssertEqual(m.job.state, .running)
        XCTAssertEqual(m.job.attempts, 1)
        XCTAssertEqual(m.job.timings.startedAt, created + 5)
        clock.advance(by: 1)
        let p = JobProgress(epoch: 0, totalEpochs: 2, batch: 3, totalBatches: 10)
        XCTAssertEqual(try m.recordProgress(p, now: clock.now()), .continue)
        XCTAssertEqual(m.job.progress, p)
        clock.advance(by: 9)
        XCTAssertEqual(try m.completeEpoch(metrics(1), now: clock.now()), .continue)
        XCTAssertEqual(m.job.checkpointEpoch, 1)
        XCTAssertEqual(m.job.progress, JobProgress(epoch: 1, totalEpochs: 2, batch: 10, totalBatches: 10,
                                                   loss: 1, accuracy: Double(Float(0.6))))
        clock.advance(by: 10)
        _ = try m.completeEpoch(metrics(2), now: clock.now())
        clock.advance(by: 0.5)
        try m.succeed(JobResult(model: "fm", version: 4), now: clock.now())
        XCTAssertEqual(m.job.state, .succeeded)
        XCTAssertEqual(m.job.result, JobResult(model: "fm", version: 4))
        XCTAssertEqual(m.job.timings.finishedAt, created + 25.5)
        XCTAssertEqual(m.job.timings.runSeconds, 20.5)
        XCTAssertNil(m.job.timings.runningSince)
        XCTAssertEqual(m.job.metrics.map(\.epoch), [1, 2])
        XCTAssertEqual(m.events.map(\.kind), [.state, .progress, .epoch, .epoch, .state])
        XCTAssertEqual(m.events.map(\.state), [.running, .running, .running, .running, .succeeded])
        XCTAssertEqual(m.events[2].metrics, metrics(1))
        XCTAssertEqual(m.events[4].result?.version, 4)
    }

    func testCancelQueuedJobFinishesAtOnce() throws {
        var m = makeJob()
        clock.advance(by: 2)
        XCTAssertEqual(try m.cancel(now: clock.now()), .cancelled)
        XCTAssertEqual(m.job.state, .cancelled)
        XCTAssertEqual(m.job.timings.finishedAt, clock.now())
        XCTAssertEqual(m.job.timings.runSeconds, 0)
        XCTAssertThrowsError(try m.start(now: clock.now())) { error in
            XCTAssertEqual(error as? JobTransitionError,
                           JobTransitionError(jobID: m.job.id, state: .cancelled, transition: "start"))
        }
    }

    func testCancelRunningJobStopsAtNextBatch() throws {
        var m = makeJob()
        _ = try m.start(now: clock.now())
        clock.advance(by: 3)
        XCTAssertEqual(try m.cancel(now: clock.now()), .stopWorker)
        XCTAssertEqual(m.job.state, .running, "a running job keeps running until the worker stops")
        XCTAssertTrue(m.job.cancelRequested)
        XCTAssertEqual(try m.cancel(now: clock.now()), .alreadyRequested)
        XCTAssertEqual(try m.recordProgress(JobProgress(batch: 1), now: clock.now()), .stop)
        clock.advance(by: 0.25)
        try m.acknowledgeCancel(now: clock.now())
        XCTAssertEqual(m.job.state, .cancelled)
        XCTAssertEqual(m.job.timings.runSeconds, 3.25)
        XCTAssertThrowsError(try m.cancel(now: clock.now()))
    }

    func testRequeueAfterCrashResumesFromCheckpointAndCountsOnlyLiveTime() throws {
        var m = makeJob(epochs: 4)
        _ = try m.start(now: clock.now())
        clock.advance(by: 10)
        _ = try m.completeEpoch(metrics(1), now: clock.now())
        clock.advance(by: 10)
        _ = try m.completeEpoch(metrics(2), now: clock.now())
        clock.advance(by: 4)
        _ = try m.recordProgress(JobProgress(epoch: 2, totalEpochs: 4, batch: 7, totalBatches: 10), now: clock.now())
        let lastAlive = m.job.timings.updatedAt
        // The daemon was killed; it comes back 100 s later.
        clock.advance(by: 100)
        XCTAssertEqual(try m.requeue(lastAlive: lastAlive, now: clock.now(), reason: "daemon restarted"),
                       .queued(resumeFromEpoch: 2))
        XCTAssertEqual(m.job.state, .queued)
        XCTAssertEqual(m.job.timings.runSeconds, 24)
        XCTAssertEqual(m.job.progress, JobProgress(epoch: 2, totalEpochs: 4, batch: 10, totalBatches: 10,
                                                   loss: 0.5, accuracy: Double(Float(0.7))),
                       "epoch 2 complete, running values of the checkpoint's last epoch")
        clock.advance(by: 1)
        XCTAssertEqual(try m.start(now: clock.now()), .train(resumeFromEpoch: 2))
        XCTAssertEqual(m.job.attempts, 2)
        XCTAssertEqual(m.job.timings.startedAt, Date(timeIntervalSince1970: 1_767_225_600), "first start is kept")
        // The trainer restores the history its checkpoint holds.
        try m.restoreHistory([metrics(2), metrics(1)], now: clock.now())
        XCTAssertEqual(m.job.metrics.map(\.epoch), [1, 2])
        clock.advance(by: 10)
        _ = try m.completeEpoch(metrics(3), now: clock.now())
        XCTAssertEqual(m.job.metrics.map(\.epoch), [1, 2, 3])
        XCTAssertEqual(m.events.filter { $0.kind == .state }.map(\.state), [.running, .queued, .running])
        XCTAssertEqual(m.events[4].message, "daemon restarted; will resume from the checkpoint of epoch 2")
    }

    func testRequeueOfACancelRequestedJobCancelsIt() throws {
        var m = makeJob()
        _ = try m.start(now: clock.now())
        _ = try m.cancel(now: clock.now())
        clock.advance(by: 7)
        XCTAssertEqual(try m.requeue(lastAlive: clock.now(), now: clock.now(), reason: "daemon stopping"), .cancelled)
        XCTAssertEqual(m.job.state, .cancelled)
        XCTAssertEqual(m.job.timings.runSeconds, 7)
    }

    func testEpochCompletedAgainReplacesLaterMetrics() throws {
        var m = makeJob()
        _ = try m.start(now: clock.now())
        _ = try m.completeEpoch(metrics(1), now: clock.now())
        _ = try m.completeEpoch(metrics(2), now: clock.now())
        var again = metrics(2)
        again.trainLoss = 0.123
        _ = try m.completeEpoch(again, now: clock.now())
        XCTAssertEqual(m.job.metrics.map(\.trainLoss), [1.0, 0.123])
    }

    func testFailFromQueuedAndRunning() throws {
        var queued = makeJob()
        try queued.fail("dataset vanished", now: clock.now())
        XCTAssertEqual(queued.job.state, .failed)
        XCTAssertEqual(queued.job.error, "dataset vanished")
        var running = makeJob()
        _ = try running.start(now: clock.now())
        clock.advance(by: 2)
        try running.fail("loss is NaN at epoch 1, batch 3", now: clock.now())
        XCTAssertEqual(running.job.timings.runSeconds, 2)
        XCTAssertEqual(running.events.last?.error, "loss is NaN at epoch 1, batch 3")
        XCTAssertThrowsError(try running.fail("again", now: clock.now()))
        XCTAssertThrowsError(try running.succeed(JobResult(model: "fm", version: 1), now: clock.now()))
    }

    func testInvalidTransitionsThrowNamingStateAndTransition() throws {
        var m = makeJob()
        XCTAssertThrowsError(try m.recordProgress(JobProgress(), now: clock.now())) { error in
            XCTAssertEqual("\(error)", "job \(m.job.id) is queued; cannot record progress")
        }
        _ = try m.start(now: clock.now())
        XCTAssertThrowsError(try m.start(now: clock.now()))
    }

    func testRecoveryAfterCrashCountsAndGivesUp() throws {
        var m = makeJob()
        for round in 1...2 {
            _ = try m.start(now: clock.now())
            clock.advance(by: 5)
            _ = try m.recordProgress(JobProgress(batch: 1), now: clock.now())
            clock.advance(by: 60)  // dead
            XCTAssertEqual(try m.recoverAfterCrash(now: clock.now(), maxRecoveries: 2), .queued(resumeFromEpoch: 0))
            XCTAssertEqual(m.job.recoveries, round)
        }
        XCTAssertEqual(m.job.timings.runSeconds, 10, "only time up to the last update counts")
        _ = try m.start(now: clock.now())
        clock.advance(by: 1)
        XCTAssertEqual(try m.recoverAfterCrash(now: clock.now(), maxRecoveries: 2), .failed)
        XCTAssertEqual(m.job.state, .failed)
        XCTAssertEqual(m.job.error, "the daemon stopped unexpectedly 3 times while running this job; giving up (last checkpoint: epoch 0)")
        XCTAssertEqual(m.events.last?.state, .failed)
    }
}
