@testable import DLServing
import DLTensor
import DLTesting
import Foundation
import XCTest

/// The worker pool: batching, bounded queues, deadlines, cancellation, drain.
final class SchedulingTests: XCTestCase {
    func engine(_ store: FakeStore, workers: Int = 2) async throws -> ServingEngine {
        let e = ServingEngine(store: store, options: .testing(workers: workers))
        try await e.start()
        return e
    }

    func testConcurrentRequestsAreBatchedAndAnswersMatchUnbatchedOnes() async throws {
        let store = FakeStore()
        let box = Locked<FakeModel?>(nil)
        store.setFake("m", version: 1,
                      config: ServingConfig(task: "regression", maxBatchSize: 8, maxQueueDelay: .milliseconds(20)),
                      delay: .milliseconds(10), scale: 2) { m in box.withLock { $0 = m } }
        let e = try await engine(store)
        let results = await concurrently(16) { i in try await e.infer(model: "m", input: row(i)) }
        await e.shutdown()
        let model = try XCTUnwrap(box.current)
        for (i, r) in results.enumerated() {
            let out = try r.get()
            XCTAssertEqual(out.output.shape, [1, 2])
            XCTAssertEqual(out.output.data, FakeModel.expected(row(i).data, scale: 2, tag: 1), "request \(i)")
            XCTAssertEqual(out.version, 1)
        }
        // 16 requests in at most 8-row batches, with real batching: fewer than 16 batches.
        let batches = model.batches.dropFirst()   // the first is the warm-up
        XCTAssertEqual(batches.reduce(0, +), 16)
        XCTAssertTrue(batches.allSatisfy { $0 <= 8 }, "\(batches)")
        XCTAssertLessThanOrEqual(batches.count, 4, "\(batches)")
        XCTAssertGreaterThan(batches.max() ?? 0, 1)
        XCTAssertGreaterThan(results.compactMap { try? $0.get().batchSize }.max() ?? 0, 1)
    }

    func testMultiRowRequestsSplitBackCorrectly() async throws {
        let store = FakeStore()
        store.setFake("m", version: 3, config: ServingConfig(task: "regression", maxBatchSize: 8, maxQueueDelay: .milliseconds(20)))
        let e = try await engine(store)
        let results = await concurrently(5) { i in
            let x = Tensor(shape: [i + 1, 4], data: (0..<((i + 1) * 4)).map { Float($0 + 100 * i) })
            return try await e.infer(model: "m", input: x)
        }
        await e.shutdown()
        for (i, r) in results.enumerated() {
            let out = try r.get()
            XCTAssertEqual(out.output.shape, [i + 1, 2])
            for k in 0..<(i + 1) {
                let first = Float(4 * k + 100 * i)
                XCTAssertEqual(out.output.data[2 * k], 4 * first + 6)
                XCTAssertEqual(out.output.data[2 * k + 1], 3)
            }
        }
        // A single example without the batch axis is accepted too.
        let e2 = try await engine(store)
        let single = try await e2.infer(model: "m", input: Tensor(shape: [4], data: [1, 1, 1, 1]))
        XCTAssertEqual(single.output.shape, [1, 2])
        await e2.shutdown()
    }

    func testAFullQueueAnswersQueueFullWithRetryAfter() async throws {
        let store = FakeStore()
        store.setFake("m", version: 1, config: ServingConfig(task: "regression", maxBatchSize: 1, maxQueueDelay: .zero, maxQueueSize: 3),
                      delay: .milliseconds(100))
        let e = try await engine(store, workers: 1)
        let results = await concurrently(12) { i in try await e.infer(model: "m", input: row(i)) }
        await e.shutdown()
        let full = results.compactMap { r -> Int? in
            if case .failure(ServingError.queueFull(let m, let s)) = r, m == "m" { return s }
            return nil
        }
        let ok = results.filter { (try? $0.get()) != nil }.count
        XCTAssertEqual(full.count + ok, 12, "every request either ran or was refused: \(results)")
        XCTAssertGreaterThanOrEqual(full.count, 12 - 4 - 1, "at most 1 running + 3 queued at any time (plus timing slack)")
        XCTAssertGreaterThanOrEqual(ok, 3)
        XCTAssertTrue(full.allSatisfy { $0 >= 1 })
        XCTAssertEqual(ServingError.queueFull(model: "m", retryAfterSeconds: 2).httpStatus, 429)
    }

    func testAQueuedRequestTimesOutAtItsDeadline() async throws {
        let store = FakeStore()
        store.setFake("m", version: 1, config: ServingConfig(task: "regression", maxBatchSize: 1, maxQueueDelay: .zero),
                      delay: .milliseconds(400))
        let e = try await engine(store, workers: 1)
        async let blocker = e.infer(model: "m", input: row(1))
        try await Task.sleep(for: .milliseconds(30))
        let start = ContinuousClock.now
        do {
            _ = try await e.infer(model: "m", input: row(2), deadline: .now + .milliseconds(50))
            XCTFail("expected a timeout")
        } catch ServingError.timeout(let m, _) {
            XCTAssertEqual(m, "m")
        }
        let waited = ContinuousClock.now - start
        XCTAssertGreaterThanOrEqual(waited, .milliseconds(45))
        XCTAssertLessThan(waited, .milliseconds(300), "answered at the deadline, not after the blocking batch")
        _ = try await blocker
        await e.shutdown()
    }

    func testARunningRequestTimesOutAtItsDeadlineToo() async throws {
        let store = FakeStore()
        store.setFake("m", version: 1, config: ServingConfig(task: "regression", timeout: .milliseconds(60)), delay: .milliseconds(400))
        let e = try await engine(store, workers: 1)
        let start = ContinuousClock.now
        do {
            _ = try await e.infer(model: "m", input: row(1))   // the model's own timeout
            XCTFail("expected a timeout")
        } catch ServingError.timeout {}
        XCTAssertLessThan(ContinuousClock.now - start, .milliseconds(300))
        await e.shutdown()
    }

    func testCancellingTheCallerDropsItsQueuedWork() async throws {
        let store = FakeStore()
        let box = Locked<FakeModel?>(nil)
        store.setFake("m", version: 1, config: ServingConfig(task: "regression", maxBatchSize: 1, maxQueueDelay: .zero),
                      delay: .milliseconds(600)) { m in box.withLock { $0 = m } }
        let e = try await engine(store, workers: 1)
        async let blocker = e.infer(model: "m", input: row(1))
        try await Task.sleep(for: .milliseconds(30))
        let victim = Task { try await e.infer(model: "m", input: row(77)) }
        try await Task.sleep(for: .milliseconds(30))
        XCTAssertEqual(try e.status(model: "m").queueDepth, 1)
        let start = ContinuousClock.now
        victim.cancel()
        do {
            _ = try await victim.value
            XCTFail("expected cancellation")
        } catch ServingError.cancelled {}
        XCTAssertLessThan(ContinuousClock.now - start, .milliseconds(300), "answered at once, not after the 600 ms batch")
        XCTAssertEqual(try e.status(model: "m").queueDepth, 0)
        _ = try await blocker
        try await Task.sleep(for: .milliseconds(50))
        XCTAssertFalse(box.current!.rowsSeen.contains(77), "the cancelled row never ran")
        // A task cancelled before it submits never queues anything.
        let early = Task {
            try await Task.sleep(for: .seconds(10))
            return try await e.infer(model: "m", input: row(78))
        }
        early.cancel()
        _ = try? await early.value
        await e.shutdown()
        XCTAssertFalse(box.current!.rowsSeen.contains(78))
    }

    func testBadRequestsAreTypedErrors() async throws {
        let store = FakeStore()
        store.setFake("m", version: 1)
        let e = try await engine(store)
        await assertThrows(.unknownModel("nope")) { try await e.infer(model: "nope", input: row(1)) }
        await assertThrows(.versionNotFound(model: "m", version: 9)) { try await e.infer(model: "m", version: 9, input: row(1)) }
        await assertThrows(.invalidInput("model 'm' takes shape [N, 4], got [1, 3]")) {
            try await e.infer(model: "m", input: Tensor(shape: [1, 3], data: [1, 2, 3]))
        }
        await assertThrows(.invalidInput("the input contains NaN or infinity")) {
            try await e.infer(model: "m", input: Tensor(shape: [1, 4], data: [1, .nan, 3, 4]))
        }
        await assertThrows(.unsupportedTask(model: "m", task: "regression", operation: "classify")) {
            try await e.classify(model: "m", input: .tensor(row(1)))
        }
        await e.shutdown()
        await assertThrows(.shuttingDown) { try await e.infer(model: "m", input: row(1)) }
    }

    func testShutdownDrainsQueuedWork() async throws {
        let store = FakeStore()
        store.setFake("m", version: 1, config: ServingConfig(task: "regression", maxBatchSize: 1, maxQueueDelay: .zero),
                      delay: .milliseconds(30))
        let e = try await engine(store, workers: 1)
        let work = Task { await concurrently(6) { i in try await e.infer(model: "m", input: row(i)) } }
        try await Task.sleep(for: .milliseconds(20))
        XCTAssertTrue(e.isReady)
        let drained = await e.shutdown(timeout: .seconds(5))
        XCTAssertTrue(drained)
        XCTAssertFalse(e.isReady)
        XCTAssertFalse(e.isLive)
        let results = await work.value
        XCTAssertEqual(results.filter { (try? $0.get()) != nil }.count, 6, "queued requests finished: \(results)")
    }
}

func assertThrows<T>(_ expected: ServingError, file: StaticString = #filePath, line: UInt = #line,
                     _ body: () async throws -> T) async {
    do {
        _ = try await body()
        XCTFail("expected \(expected)", file: file, line: line)
    } catch {
        XCTAssertEqual(error as? ServingError, expected, file: file, line: line)
    }
}

/// Small models at a quiet moment run on the caller's thread (no hand-off
/// to a worker and back); under load, or when it is off, they queue.
final class InlineSchedulingTests: XCTestCase {
    private func run(inlineBelow: Duration?) async throws -> [Bool] {
        let store = FakeStore()
        let box = Locked<FakeModel?>(nil)
        store.setFake("m", version: 1, config: ServingConfig(task: "regression", maxBatchSize: 8, maxQueueDelay: .zero),
                      scale: 3) { m in box.withLock { $0 = m } }
        var options = ServingOptions.testing(workers: 2)
        options.inlineBelow = inlineBelow
        let e = ServingEngine(store: store, options: options)
        try await e.start()
        for i in 0..<40 {
            let r = try await e.infer(model: "m", input: row(i))
            XCTAssertEqual(r.output.data, FakeModel.expected(row(i).data, scale: 3, tag: 1))
            XCTAssertEqual(r.batchSize, 1)
            try await Task.sleep(for: .milliseconds(2))
        }
        await e.shutdown()
        return Array(try XCTUnwrap(box.current).ranOnWorker.dropFirst())  // the first is the warm-up
    }

    func testSparseRequestsToACheapModelRunOnTheCallersThread() async throws {
        let onWorker = try await run(inlineBelow: .milliseconds(50))
        XCTAssertEqual(onWorker.count, 40)
        // The first ones teach the scheduler the batch time and the arrival gap.
        XCTAssertTrue(onWorker.prefix(3).allSatisfy { $0 }, "\(onWorker)")
        XCTAssertGreaterThanOrEqual(onWorker.suffix(20).filter { !$0 }.count, 18, "\(onWorker)")
    }

    func testOffMeansEveryBatchRunsOnAWorker() async throws {
        let onWorker = try await run(inlineBelow: nil)
        XCTAssertEqual(onWorker.count, 40)
        XCTAssertTrue(onWorker.allSatisfy { $0 }, "\(onWorker)")
    }
}
