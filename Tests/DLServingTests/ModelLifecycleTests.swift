import DLNN
@testable import DLServing
import XCTest

/// The lifecycle as a pure value: events in, actions out, time injected.
final class ModelLifecycleTests: XCTestCase {
    typealias A = ModelLifecycle.Action
    let t0 = ContinuousClock.now
    func at(_ s: Int) -> ContinuousClock.Instant { t0 + .seconds(s) }

    func testFirstScanLoadsTheHighestVersionAndPublishesIt() {
        var l = ModelLifecycle()
        XCTAssertEqual(l.scanned(available: [1: "a", 2: "b"], policy: .latest, now: at(0)), [.load(version: 2, token: 1)])
        XCTAssertEqual(l.versions[2]?.state, .loading)
        XCTAssertNil(l.versions[1], "version 1 is not wanted, so not tracked")
        XCTAssertNil(l.defaultVersion)
        XCTAssertFalse(l.isSettled)
        XCTAssertEqual(l.loadSucceeded(version: 2, token: 1, now: at(1)), [.publish(version: 2, token: 1)])
        XCTAssertEqual(l.versions[2]?.state, .ready)
        XCTAssertEqual(l.versions[2]?.since, at(1))
        XCTAssertEqual(l.defaultVersion, 2)
        XCTAssertTrue(l.isSettled)
        // The same scan again changes nothing.
        XCTAssertEqual(l.scanned(available: [1: "a", 2: "b"], policy: .latest, now: at(5)), [])
    }

    func testNewVersionLoadsBesideTheOldAndSwapsInOneStep() {
        var l = ModelLifecycle()
        _ = l.scanned(available: [1: "a"], policy: .latest, now: at(0))
        _ = l.loadSucceeded(version: 1, token: 1, now: at(1))
        XCTAssertEqual(l.scanned(available: [1: "a", 2: "b"], policy: .latest, now: at(10)), [.load(version: 2, token: 2)])
        // While 2 loads, 1 serves.
        XCTAssertEqual(l.defaultVersion, 1)
        XCTAssertEqual(l.versions[1]?.state, .ready)
        XCTAssertEqual(l.loadSucceeded(version: 2, token: 2, now: at(11)),
                       [.publish(version: 2, token: 2), .retire(version: 1, token: 1)])
        XCTAssertEqual(l.defaultVersion, 2)
        XCTAssertEqual(l.versions[1]?.state, .unloading)
        // In-flight requests let go of version 1.
        l.released(version: 1, token: 1, now: at(12))
        XCTAssertEqual(l.versions[1]?.state, .unloaded)
        XCTAssertEqual(l.versions[1]?.since, at(12))
    }

    func testCorruptNewVersionLeavesTheOldServingWithTheError() {
        var l = ModelLifecycle(retryFailedAfter: .seconds(60))
        _ = l.scanned(available: [1: "a"], policy: .latest, now: at(0))
        _ = l.loadSucceeded(version: 1, token: 1, now: at(1))
        XCTAssertEqual(l.scanned(available: [1: "a", 2: "bad"], policy: .latest, now: at(2)), [.load(version: 2, token: 2)])
        XCTAssertEqual(l.loadFailed(version: 2, token: 2, message: "truncated weights", now: at(3)), [])
        XCTAssertEqual(l.versions[2]?.state, .failed("truncated weights"))
        XCTAssertEqual(l.versions[2]?.lastError, "truncated weights")
        XCTAssertEqual(l.defaultVersion, 1)
        XCTAssertEqual(l.versions[1]?.state, .ready)
        // Same files: not retried on every poll...
        XCTAssertEqual(l.scanned(available: [1: "a", 2: "bad"], policy: .latest, now: at(30)), [])
        // ...but after the retry interval,
        XCTAssertEqual(l.scanned(available: [1: "a", 2: "bad"], policy: .latest, now: at(64)), [.load(version: 2, token: 3)])
        XCTAssertEqual(l.loadFailed(version: 2, token: 3, message: "truncated weights", now: at(65)), [])
        // ...or at once when the files change.
        XCTAssertEqual(l.scanned(available: [1: "a", 2: "fixed"], policy: .latest, now: at(66)), [.load(version: 2, token: 4)])
        XCTAssertEqual(l.loadSucceeded(version: 2, token: 4, now: at(67)),
                       [.publish(version: 2, token: 4), .retire(version: 1, token: 1)])
        XCTAssertNil(l.versions[2]?.lastError)
    }

    func testStartUpWithACorruptNewestVersionFallsBackToTheNextValid() {
        var l = ModelLifecycle()
        XCTAssertEqual(l.scanned(available: [1: "a", 2: "b", 3: "bad"], policy: .latest, now: at(0)), [.load(version: 3, token: 1)])
        XCTAssertEqual(l.loadFailed(version: 3, token: 1, message: "bad json", now: at(1)), [.load(version: 2, token: 2)])
        XCTAssertFalse(l.isSettled)
        XCTAssertEqual(l.loadSucceeded(version: 2, token: 2, now: at(2)), [.publish(version: 2, token: 2)])
        XCTAssertEqual(l.defaultVersion, 2)
        XCTAssertEqual(l.versions[3]?.state, .failed("bad json"))
    }

    func testExplicitReloadLoadsAFreshInstanceWhileTheOldServes() {
        var l = ModelLifecycle()
        _ = l.scanned(available: [1: "a"], policy: .latest, now: at(0))
        _ = l.loadSucceeded(version: 1, token: 1, now: at(1))
        XCTAssertEqual(l.loadRequested(available: [1: "a"], policy: .latest, now: at(2)), [.load(version: 1, token: 2)])
        XCTAssertEqual(l.versions[1]?.state, .loading)
        XCTAssertEqual(l.versions[1]?.servingToken, 1, "the old instance keeps serving")
        XCTAssertEqual(l.defaultVersion, 1)
        XCTAssertEqual(l.loadSucceeded(version: 1, token: 2, now: at(3)), [.publish(version: 1, token: 2)])
        XCTAssertEqual(l.versions[1]?.servingToken, 2)
        XCTAssertEqual(l.versions[1]?.retiring, [1])
        l.released(version: 1, token: 1, now: at(4))
        XCTAssertEqual(l.versions[1]?.retiring, [])
        XCTAssertEqual(l.versions[1]?.state, .ready)
        // A failed reload keeps the old instance, records the error, and does not loop.
        XCTAssertEqual(l.loadRequested(available: [1: "a"], policy: .latest, now: at(5)), [.load(version: 1, token: 3)])
        XCTAssertEqual(l.loadFailed(version: 1, token: 3, message: "disk error", now: at(6)), [])
        XCTAssertEqual(l.versions[1]?.state, .ready)
        XCTAssertEqual(l.versions[1]?.lastError, "disk error")
        XCTAssertEqual(l.defaultVersion, 1)
        XCTAssertEqual(l.scanned(available: [1: "a"], policy: .latest, now: at(7)), [])
    }

    func testChangedFilesOfAServingVersionReload() {
        var l = ModelLifecycle()
        _ = l.scanned(available: [1: "a"], policy: .latest, now: at(0))
        _ = l.loadSucceeded(version: 1, token: 1, now: at(1))
        XCTAssertEqual(l.scanned(available: [1: "a2"], policy: .latest, now: at(2)), [.load(version: 1, token: 2)])
        XCTAssertEqual(l.loadSucceeded(version: 1, token: 2, now: at(3)), [.publish(version: 1, token: 2)])
    }

    func testUnloadRetiresEverythingAbandonsLoadsAndStaysUnloaded() {
        var l = ModelLifecycle()
        _ = l.scanned(available: [1: "a"], policy: .latest, now: at(0))
        _ = l.loadSucceeded(version: 1, token: 1, now: at(1))
        _ = l.scanned(available: [1: "a", 2: "b"], policy: .latest, now: at(2))   // 2 loading
        XCTAssertEqual(l.unloadRequested(now: at(3)), [.retire(version: 1, token: 1)])
        XCTAssertTrue(l.isSettled)
        XCTAssertFalse(l.enabled)
        XCTAssertNil(l.defaultVersion)
        XCTAssertEqual(l.versions[2]?.state, .unloaded)
        // The abandoned load finishes: its instance is discarded.
        XCTAssertEqual(l.loadSucceeded(version: 2, token: 2, now: at(4)), [.discard(version: 2, token: 2)])
        // Polling does not bring it back.
        XCTAssertEqual(l.scanned(available: [1: "a", 2: "b"], policy: .latest, now: at(5)), [])
        l.released(version: 1, token: 1, now: at(6))
        XCTAssertEqual(l.versions[1]?.state, .unloaded)
        // An explicit load does.
        XCTAssertEqual(l.loadRequested(available: [1: "a", 2: "b"], policy: .latest, now: at(7)), [.load(version: 2, token: 3)])
        XCTAssertTrue(l.enabled)
    }

    func testPoliciesAllAndSpecific() {
        var l = ModelLifecycle(policy: .all)
        XCTAssertEqual(Set(l.scanned(available: [1: "a", 2: "b", 3: "c"], policy: .all, now: at(0))),
                       [.load(version: 3, token: 1), .load(version: 2, token: 2), .load(version: 1, token: 3)])
        _ = l.loadSucceeded(version: 1, token: 3, now: at(1))
        XCTAssertEqual(l.defaultVersion, 1, "the highest version with an instance serves unpinned requests")
        _ = l.loadSucceeded(version: 3, token: 1, now: at(1))
        _ = l.loadSucceeded(version: 2, token: 2, now: at(1))
        XCTAssertEqual(l.defaultVersion, 3)
        // Switching to specific([1]) retires 2 and 3.
        XCTAssertEqual(l.scanned(available: [1: "a", 2: "b", 3: "c"], policy: .specific([1]), now: at(2)),
                       [.retire(version: 2, token: 2), .retire(version: 3, token: 1)])
        XCTAssertEqual(l.defaultVersion, 1)
    }

    func testRemovedVersionsRetireAndAreForgotten() {
        var l = ModelLifecycle()
        _ = l.scanned(available: [1: "a", 2: "b"], policy: .latest, now: at(0))
        _ = l.loadSucceeded(version: 2, token: 1, now: at(1))
        // Version 2 deleted: 1 loads, then 2 retires.
        XCTAssertEqual(l.scanned(available: [1: "a"], policy: .latest, now: at(2)), [.load(version: 1, token: 2)])
        XCTAssertEqual(l.defaultVersion, 2)
        XCTAssertEqual(l.loadSucceeded(version: 1, token: 2, now: at(3)),
                       [.publish(version: 1, token: 2), .retire(version: 2, token: 1)])
        l.released(version: 2, token: 1, now: at(4))
        XCTAssertNil(l.versions[2], "an unloaded version gone from disk is forgotten")
        // The whole model deleted: everything retires.
        XCTAssertEqual(l.scanned(available: [:], policy: .latest, now: at(5)), [.retire(version: 1, token: 2)])
        XCTAssertNil(l.defaultVersion)
    }

    func testStaleCompletionsAreDiscarded() {
        var l = ModelLifecycle()
        XCTAssertEqual(l.loadSucceeded(version: 7, token: 99, now: at(0)), [.discard(version: 7, token: 99)])
        XCTAssertEqual(l.loadFailed(version: 7, token: 99, message: "x", now: at(0)), [])
        XCTAssertTrue(l.versions.isEmpty)
    }

    func testASupersededLoadStillServesWhenNothingElseDoes() {
        var l = ModelLifecycle()
        _ = l.scanned(available: [1: "a"], policy: .latest, now: at(0))          // load 1
        _ = l.scanned(available: [1: "a", 2: "b"], policy: .latest, now: at(1))  // load 2 too
        // 1 finishes first and nothing serves: publish it rather than waste it.
        XCTAssertEqual(l.loadSucceeded(version: 1, token: 1, now: at(2)), [.publish(version: 1, token: 1)])
        XCTAssertEqual(l.defaultVersion, 1)
        XCTAssertEqual(l.loadSucceeded(version: 2, token: 2, now: at(3)),
                       [.publish(version: 2, token: 2), .retire(version: 1, token: 1)])
    }
}
