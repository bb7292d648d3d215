import DLJobs
import DLTrain
import DLJobsTesting
import GRDB
import XCTest

final class SQLiteJobStoreTests: XCTestCase {
    var dir: URL!
    let clock = ManualJobClock()
    let ids = JobIDGenerator()

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("jobstore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func openStore() throws -> SQLiteJobStore { try SQLiteJobStore(stateDirectory: dir) }

    @discardableResult
    func submit(_ store: SQLiteJobStore, capacity: Int = 100) throws -> Job {
        clock.advance(by: 0.002)
        let job = Job(id: ids.next(at: clock.now()), model: "fm", recipe: #"{"epochs":2}"#, promote: true,
                      totalEpochs: 2, createdAt: clock.now())
        try store.insert(job, queueCapacity: capacity, now: clock.now())
        return job
    }

    func testInsertAndReadBackEveryField() throws {
        let store = try openStore()
        let job = try submit(store)
        XCTAssertEqual(try store.job(job.id), job)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("jobs/jobs.sqlite").path))
        // A full run: every field round-trips.
        let (started, action) = try XCTUnwrap(store.claimNext(now: clock.now()) { try $0.start(now: clock.now()) })
        XCTAssertEqual(action, .train(resumeFromEpoch: 0))
        XCTAssertEqual(started.id, job.id)
        clock.advance(by: 1.5)
        let m = epochMetrics(1, trainLoss: 0.5, trainAccuracy: 0.8, devLoss: 0.6, devAccuracy: 0.75, seconds: 1.5)
        try store.update(job.id, now: clock.now()) { try $0.completeEpoch(m, now: clock.now()) }
        try store.update(job.id, now: clock.now()) { try $0.succeed(JobResult(model: "fm", version: 3, promoted: true), now: clock.now()) }
        let done = try XCTUnwrap(store.job(job.id))
        XCTAssertEqual(done.state, .succeeded)
        XCTAssertEqual(done.metrics, [m])
        XCTAssertEqual(done.result, JobResult(model: "fm", version: 3, promoted: true))
        XCTAssertEqual(done.timings.runSeconds, 1.5)
        XCTAssertEqual(done.checkpointEpoch, 1)
        XCTAssertEqual(done.recipe, #"{"epochs":2}"#)
        XCTAssertTrue(done.promote)
    }

    func testQueueCapacityCountsOnlyQueuedJobs() throws {
        let store = try openStore()
        try submit(store, capacity: 2)
        try submit(store, capacity: 2)
        XCTAssertThrowsError(try submit(store, capacity: 2)) { XCTAssertEqual($0 as? JobError, .queueFull(capacity: 2)) }
        _ = try store.claimNext(now: clock.now()) { try $0.start(now: clock.now()) }
        XCTAssertNoThrow(try submit(store, capacity: 2), "a running job frees a queue slot")
        XCTAssertEqual(try store.ids(in: .queued).count, 2)
        XCTAssertEqual(try store.ids(in: .running).count, 1)
    }

    func testClaimTakesOldestQueuedFirst() throws {
        let store = try openStore()
        let a = try submit(store), b = try submit(store)
        XCTAssertEqual(try store.claimNext(now: clock.now()) { try $0.start(now: clock.now()) }?.job.id, a.id)
        XCTAssertEqual(try store.claimNext(now: clock.now()) { try $0.start(now: clock.now()) }?.job.id, b.id)
        XCTAssertNil(try store.claimNext(now: clock.now()) { try $0.start(now: clock.now()) })
    }

    func testFailedTransitionWritesNothing() throws {
        let store = try openStore()
        let job = try submit(store)
        try store.update(job.id, now: clock.now()) { _ = try $0.cancel(now: clock.now()) }
        let before = try store.events(job.id, after: 0, limit: 100)
        XCTAssertThrowsError(try store.update(job.id, now: clock.now()) { try $0.start(now: clock.now()) }) {
            XCTAssertEqual(($0 as? JobTransitionError)?.state, .cancelled)
        }
        XCTAssertEqual(try store.job(job.id)?.state, .cancelled)
        XCTAssertEqual(try store.events(job.id, after: 0, limit: 100), before)
        XCTAssertThrowsError(try store.update(ids.next(at: clock.now()), now: clock.now()) { _ in }) {
            guard case .notFound = $0 as? JobError else { return XCTFail("\($0)") }
        }
    }

    func testListingFiltersByStateAndPagesNewestFirst() throws {
        let store = try openStore()
        var all: [Job] = []
        for _ in 0..<7 { all.append(try submit(store)) }
        for job in all.prefix(3) {
            try store.update(job.id, now: clock.now()) { _ = try $0.cancel(now: clock.now()) }
        }
        var seen: [JobID] = []
        var cursor: JobID?
        var pages = 0
        repeat {
            let page = try store.list(JobListQuery(limit: 3, cursor: cursor))
            seen += page.jobs.map(\.id)
            cursor = page.nextCursor.flatMap(JobID.init)
            pages += 1
        } while cursor != nil
        XCTAssertEqual(pages, 3)
        XCTAssertEqual(seen, all.map(\.id).reversed())
        let cancelled = try store.list(JobListQuery(state: .cancelled, limit: 10))
        XCTAssertEqual(cancelled.jobs.map(\.id), all.prefix(3).map(\.id).reversed())
        XCTAssertNil(cancelled.nextCursor)
        let queuedPage = try store.list(JobListQuery(state: .queued, limit: 4))
        XCTAssertEqual(queuedPage.jobs.count, 4)
        XCTAssertNil(queuedPage.nextCursor, "exactly 4 queued: no further page")
    }

    func testEventsHaveConsecutiveSequenceNumbersAndResumeAfterAnId() throws {
        let store = try openStore()
        let job = try submit(store)
        _ = try store.claimNext(now: clock.now()) { try $0.start(now: clock.now()) }
        for b in 1...5 {
            clock.advance(by: 0.1)
            try store.update(job.id, now: clock.now()) {
                try $0.recordProgress(JobProgress(epoch: 0, totalEpochs: 2, batch: b, totalBatches: 5), now: clock.now())
            }
        }
        let all = try store.events(job.id, after: 0, limit: 100)
        XCTAssertEqual(all.map(\.seq), Array(1...7))
        XCTAssertEqual(all.map(\.event.kind), [.state, .state, .progress, .progress, .progress, .progress, .progress])
        XCTAssertEqual(all.first?.event.state, .queued)
        XCTAssertEqual(all.last?.event.progress?.batch, 5)
        XCTAssertEqual(try store.events(job.id, after: 4, limit: 100).map(\.seq), [5, 6, 7])
        XCTAssertEqual(try store.events(job.id, after: 4, limit: 2).map(\.seq), [5, 6])
        XCTAssertEqual(try store.events(job.id, after: 7, limit: 100), [])
        let sse = all[2].serverSentEvent()
        XCTAssertTrue(sse.hasPrefix("id: 3\nevent: progress\ndata: {"), sse)
        XCTAssertTrue(sse.hasSuffix("}\n\n"))
        XCTAssertTrue(sse.contains(#""batch":1"#))
    }

    func testSurvivesReopeningTheFile() throws {
        var store: SQLiteJobStore? = try openStore()
        let job = try submit(store!)
        _ = try store!.claimNext(now: clock.now()) { try $0.start(now: clock.now()) }
        try store!.update(job.id, now: clock.now()) {
            try $0.completeEpoch(epochMetrics(1, trainLoss: 0.4, trainAccuracy: 0.9), now: clock.now())
        }
        let saved = try store!.job(job.id)
        let events = try store!.events(job.id, after: 0, limit: 100)
        store = nil
        let reopened = try openStore()
        XCTAssertEqual(try reopened.job(job.id), saved)
        XCTAssertEqual(try reopened.events(job.id, after: 0, limit: 100), events)
        XCTAssertEqual(try reopened.ids(in: .running), [job.id])
        // Sequence numbers continue where they stopped.
        try reopened.update(job.id, now: clock.now()) {
            try $0.requeue(lastAlive: clock.now(), now: clock.now(), reason: "daemon restarted")
        }
        XCTAssertEqual(try reopened.events(job.id, after: 0, limit: 100).map(\.seq), [1, 2, 3, 4])
    }

    func testCorruptDatabaseFileIsAStorageError() throws {
        let path = dir.appendingPathComponent("bad.sqlite").path
        try Data("this is not a database, just some text that is long enough".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SQLiteJobStore(path: path)) {
            guard case .storage = $0 as? JobError else { return XCTFail("\($0)") }
        }
    }

    /// A value of the wrong type in a row (a damaged or hand-edited file) is a
    /// storage error naming the job and the column, not a crash (fuzzing found
    /// the same in the face gallery's rows: GRDB's subscripts trap on it).
    func testCorruptValueInARowIsAStorageErrorNamingTheColumn() throws {
        let store = try openStore()
        let job = try submit(store)
        let queue = try DatabaseQueue(path: dir.appendingPathComponent("jobs/jobs.sqlite").path)
        for (column, value) in [("created_at", "'yesterday'"), ("total_epochs", "x'00ff'"), ("state", "'dancing'")] {
            try queue.write { db in
                try db.execute(sql: "PRAGMA ignore_check_constraints = ON")
                try db.execute(sql: "UPDATE jobs SET \(column) = \(value) WHERE id = ?", arguments: [job.id.rawValue])
            }
            XCTAssertThrowsError(try store.job(job.id), column) {
                guard case .storage(let m) = $0 as? JobError else { return XCTFail("\($0)") }
                XCTAssertTrue(m.contains(column) || m.contains("state"), m)
            }
            XCTAssertThrowsError(try store.list(JobListQuery()), column)
        }
    }

    func testPruningDropsOldProgressEventsOfFinishedJobsOnly() throws {
        let store = try openStore()
        let done = try submit(store), running = try submit(store)
        for id in [done.id, running.id] {
            _ = try store.claimNext(now: clock.now()) { try $0.start(now: clock.now()) }
            for b in 1...3 {
                try store.update(id, now: clock.now()) { try $0.recordProgress(JobProgress(batch: b), now: clock.now()) }
            }
            try store.update(id, now: clock.now()) {
                try $0.completeEpoch(epochMetrics(1, trainLoss: 0.4, trainAccuracy: 0.9), now: clock.now())
            }
        }
        try store.update(done.id, now: clock.now()) { try $0.succeed(JobResult(model: "fm", version: 1), now: clock.now()) }
        XCTAssertEqual(try store.pruneProgressEvents(finishedBefore: clock.now() - 10), 0, "finished too recently")
        clock.advance(by: 100)
        XCTAssertEqual(try store.pruneProgressEvents(finishedBefore: clock.now() - 10), 3)
        XCTAssertEqual(try store.events(done.id, after: 0, limit: 100).map(\.event.kind), [.state, .state, .epoch, .state])
        XCTAssertEqual(try store.events(done.id, after: 0, limit: 100).map(\.seq), [1, 2, 6, 7], "ids keep their values")
        XCTAssertEqual(try store.events(running.id, after: 0, limit: 100).count, 6, "running jobs keep everything")
    }
}
