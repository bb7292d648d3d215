@testable import DLServing
import Foundation
import XCTest

final class RequestScopeTests: XCTestCase {
    func testEndRunsEachHandlerOnceAndRecordsTheFirstReason() {
        let scope = RequestScope()
        let count = Counter()
        XCTAssertNil(scope.reason)
        _ = scope.register { count.add() }
        scope.end(.clientClosed)
        scope.end(.timedOut)
        XCTAssertEqual(scope.reason, .clientClosed)
        XCTAssertEqual(count.value, 1)
    }

    func testFinishedScopeIgnoresEnd() {
        let scope = RequestScope()
        let count = Counter()
        _ = scope.register { count.add() }
        scope.finish()
        scope.end(.timedOut)
        XCTAssertNil(scope.reason)
        XCTAssertEqual(count.value, 0)
    }

    func testDeadlineEndsTheScopeOnTime() async throws {
        let start = ContinuousClock.now
        let scope = RequestScope(deadline: start + .milliseconds(50))
        let later = RequestScope(deadline: start + .seconds(30))
        while scope.reason == nil && ContinuousClock.now - start < .seconds(5) {
            try await Task.sleep(for: .milliseconds(5))
        }
        XCTAssertEqual(scope.reason, .timedOut)
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(50))
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(2))
        XCTAssertNil(later.reason)
        later.finish()
    }

    func testAnEarlierDeadlineAddedLaterStillFiresFirst() async throws {
        let start = ContinuousClock.now
        let far = RequestScope(deadline: start + .seconds(60))
        let near = RequestScope(deadline: start + .milliseconds(30))
        while near.reason == nil && ContinuousClock.now - start < .seconds(5) {
            try await Task.sleep(for: .milliseconds(5))
        }
        XCTAssertEqual(near.reason, .timedOut)
        XCTAssertNil(far.reason)
        far.finish()
    }

    /// The wait of `withRequestCancellation` ends when the scope of the
    /// current task ends, not only when the task is cancelled.
    func testWithRequestCancellationListensToTheCurrentScope() async throws {
        let scope = RequestScope()
        let start = ContinuousClock.now
        Task {
            try await Task.sleep(for: .milliseconds(50))
            scope.end(.clientClosed)
        }
        do {
            try await RequestScope.$current.withValue(scope) {
                let sleeper = Task { try await Task.sleep(for: .seconds(30)) }
                try await withRequestCancellation { try await sleeper.value } onCancel: { sleeper.cancel() }
            }
            XCTFail("the wait should have been cancelled")
        } catch is CancellationError {}
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(5))
        XCTAssertEqual(scope.reason, .clientClosed)
    }

    /// A scope that already ended cancels a wait before it starts.
    func testEndedScopeCancelsAtOnce() async throws {
        let scope = RequestScope()
        scope.end(.timedOut)
        let cancelled = Counter()
        await RequestScope.$current.withValue(scope) {
            await withRequestCancellation { } onCancel: { cancelled.add() }
        }
        XCTAssertEqual(cancelled.value, 1)
    }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.withLock { n += 1 } }
    var value: Int { lock.withLock { n } }
}
