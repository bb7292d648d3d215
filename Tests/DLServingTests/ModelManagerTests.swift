import CoreMetrics
import DLNN
@testable import DLServing
import DLTensor
import Foundation
import MetricsTestKit
import XCTest

/// Versions, hot reload, failures, unload and readiness through the engine, with fake models.
final class ModelManagerTests: XCTestCase {
    func testStartLoadsEveryModelAndReportsReadiness() async throws {
        let store = FakeStore()
        store.setFake("a", version: 1)
        store.setFake("a", version: 2)
        store.setFake("b", version: 5, loadDelay: .milliseconds(50))
        let e = ServingEngine(store: store, options: .testing())
        XCTAssertFalse(e.isReady)
        try await e.start()
        XCTAssertTrue(e.isReady)
        let models = e.models()
        XCTAssertEqual(models.map(\.name), ["a", "b"])
        XCTAssertEqual(models[0].defaultVersion, 2)
        XCTAssertEqual(models[0].versions.map(\.version), [2], "latest: only the highest is loaded")
        XCTAssertEqual(models[0].versions[0].state, .ready)
        XCTAssertTrue(models[0].versions[0].isDefault)
        XCTAssertEqual(models[1].defaultVersion, 5)
        XCTAssertTrue(e.isReady(model: "b"))
        XCTAssertFalse(e.isReady(model: "b", version: 4))
        let meta = try e.metadata(model: "a")
        XCTAssertEqual(meta.inputs.map(\.name), ["input"])
        XCTAssertEqual(meta.inputs.map(\.datatype), ["FP32"])
        XCTAssertEqual(meta.inputs.map(\.shape), [[-1, 4]])
        XCTAssertEqual(meta.outputs[0].shape, [-1, 2])
        XCTAssertEqual(meta.versions, ["2"])
        await e.shutdown()
    }

    func testHotReloadWhileRequestsRunHasNoFailuresAndThenServesTheNewVersion() async throws {
        let store = FakeStore()
        store.setFake("m", version: 1, config: ServingConfig(task: "regression", maxBatchSize: 4, maxQueueDelay: .milliseconds(1)),
                      delay: .milliseconds(2))
        let e = ServingEngine(store: store, options: .testing())
        try await e.start()
        let stop = Locked(false)
        let traffic = Task {
            await concurrently(4) { _ in
                var versions: [Int] = []
                var i = 0
                while !stop.current {
                    let r = try await e.infer(model: "m", input: row(i))
                    XCTAssertEqual(r.output.data[0], Float(i + 6))
                    XCTAssertEqual(r.output.data[1], Float(r.version), "answered by the version it reports")
                    versions.append(r.version)
                    i += 1
                }
                return versions
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        store.setFake("m", version: 2, config: ServingConfig(task: "regression", maxBatchSize: 4, maxQueueDelay: .milliseconds(1)),
                      delay: .milliseconds(2), loadDelay: .milliseconds(30))
        await e.poll()
        XCTAssertEqual(try e.status(model: "m").defaultVersion, 2)
        try await Task.sleep(for: .milliseconds(50))
        stop.withLock { $0 = true }
        let results = await traffic.value
        var all: [Int] = []
        for r in results { all += try r.get() }   // no request failed
        XCTAssertGreaterThan(all.count, 20)
        XCTAssertTrue(all.contains(1) && all.contains(2))
        XCTAssertEqual(all.last, 2)
        // Each client saw 1s then 2s, never back.
        for r in results {
            let v = try r.get()
            XCTAssertEqual(v, v.sorted(), "a client went back to the old version")
        }
        let after = try await e.infer(model: "m", input: row(0))
        XCTAssertEqual(after.version, 2)
        // Version 1 is retired and, once requests let go, unloaded.
        try await Task.sleep(for: .milliseconds(50))
        let v1 = try e.status(model: "m").versions.first { $0.version == 1 }
        XCTAssertEqual(v1?.state, .unloaded)
        await e.shutdown()
    }

    func testCorruptNewVersionLeavesTheOldServingWithItsErrorInTheStatus() async throws {
        let store = FakeStore()
        store.setFake("m", version: 1)
        let e = ServingEngine(store: store, options: .testing())
        try await e.start()
        store.setFake("m", version: 2, failure: "weights.safetensors: truncated")
        await e.poll()
        let status = try e.status(model: "m")
        XCTAssertEqual(status.defaultVersion, 1)
        XCTAssertTrue(status.isReady)
        XCTAssertEqual(status.versions.map(\.version), [1, 2])
        XCTAssertEqual(status.versions[1].state, .failed("weights.safetensors: truncated"))
        XCTAssertEqual(status.versions[1].lastError, "weights.safetensors: truncated")
        XCTAssertFalse(status.versions[1].isServing)
        let r = try await e.infer(model: "m", input: row(1))
        XCTAssertEqual(r.version, 1)
        // Pinning the failed version is a 404, not a crash.
        await assertThrows(.versionNotFound(model: "m", version: 2)) { try await e.infer(model: "m", version: 2, input: row(1)) }
        // An explicit load reports the failure, and version 1 still serves.
        await assertThrows(.loadFailed(model: "m", message: "version 2: weights.safetensors: truncated; version 1 serves")) {
            try await e.load(model: "m")
        }
        XCTAssertEqual(try e.status(model: "m").defaultVersion, 1)
        XCTAssertTrue(e.isReady)
        // Polling with the same files does not retry.
        let loads = store.loads
        await e.poll()
        XCTAssertEqual(store.loads, loads)
        await e.shutdown()
    }

    func testAModelWhoseOnlyVersionFailsIsNotReady() async throws {
        let store = FakeStore()
        store.setFake("ok", version: 1)
        store.setFake("broken", version: 1, failure: "bad model.json")
        let e = ServingEngine(store: store, options: .testing())
        try await e.start()
        XCTAssertFalse(e.isReady, "strict readiness: every model must serve")
        let broken = try e.status(model: "broken")
        XCTAssertEqual(broken.state, "failed")
        XCTAssertEqual(broken.lastError, "bad model.json")
        XCTAssertNil(broken.task)
        await assertThrows(.modelNotReady(model: "broken", reason: "no version could be loaded (version 1: bad model.json)")) {
            try await e.infer(model: "broken", input: row(1))
        }
        let got1 = try await e.infer(model: "ok", input: row(1)).version
        XCTAssertEqual(got1, 1)
        await e.shutdown()
        var lax = ServingOptions.testing()
        lax.strictReadiness = false
        let e2 = ServingEngine(store: store, options: lax)
        try await e2.start()
        XCTAssertTrue(e2.isReady)
        await e2.shutdown()
    }

    func testUnloadThenLoad() async throws {
        let store = FakeStore()
        store.setFake("m", version: 1)
        let e = ServingEngine(store: store, options: .testing())
        try await e.start()
        let s = try e.unload(model: "m")
        XCTAssertFalse(s.isEnabled)
        XCTAssertEqual(s.state, "unloaded")
        XCTAssertNil(s.defaultVersion)
        await assertThrows(.modelNotReady(model: "m", reason: "it is unloaded")) { try await e.infer(model: "m", input: row(1)) }
        try await Task.sleep(for: .milliseconds(50))
        XCTAssertEqual(try e.status(model: "m").versions.first?.state, .unloaded)
        await e.poll()
        XCTAssertNil(try e.status(model: "m").defaultVersion, "polling leaves an unloaded model alone")
        XCTAssertTrue(e.isReady, "an explicitly unloaded model does not make the server unready")
        let back = try await e.load(model: "m")
        XCTAssertEqual(back.defaultVersion, 1)
        let got2 = try await e.infer(model: "m", input: row(1)).version
        XCTAssertEqual(got2, 1)
        XCTAssertThrowsError(try e.unload(model: "nope")) { XCTAssertEqual($0 as? ServingError, .unknownModel("nope")) }
        await assertThrows(.unknownModel("nope")) { try await e.load(model: "nope") }
        await e.shutdown()
    }

    func testRequestsDuringLoadingAreModelNotReady() async throws {
        let store = FakeStore()
        store.setFake("m", version: 1)
        let e = ServingEngine(store: store, options: .testing())
        try await e.start()
        _ = try e.unload(model: "m")
        store.setFake("m", version: 2, loadDelay: .milliseconds(200))
        let loading = Task { try await e.load(model: "m") }
        try await Task.sleep(for: .milliseconds(50))
        await assertThrows(.modelNotReady(model: "m", reason: "it is loading")) { try await e.infer(model: "m", input: row(1)) }
        await assertThrows(.modelNotReady(model: "m", reason: "version 2 is loading")) {
            try await e.infer(model: "m", version: 2, input: row(1))
        }
        let got3 = try await loading.value.defaultVersion
        XCTAssertEqual(got3, 2)
        await e.shutdown()
    }

    func testVersionPolicyAllLetsRequestsPinAnyVersion() async throws {
        let store = FakeStore()
        for v in 1...3 { store.setFake("m", version: v) }
        store.setPolicy("m", .all)
        let e = ServingEngine(store: store, options: .testing())
        try await e.start()
        for v in 1...3 {
            let r = try await e.infer(model: "m", version: v, input: row(0))
            XCTAssertEqual(r.version, v)
            XCTAssertEqual(r.output.data[1], Float(v))
        }
        let got4 = try await e.infer(model: "m", input: row(0)).version
        XCTAssertEqual(got4, 3)
        XCTAssertEqual(try e.metadata(model: "m").versions, ["1", "2", "3"])
        await e.shutdown()
    }

    func testPollingPicksUpNewModelsAndVersionsByItself() async throws {
        let store = FakeStore()
        store.setFake("m", version: 1)
        var options = ServingOptions.testing()
        options.pollInterval = .milliseconds(20)
        let e = ServingEngine(store: store, options: options)
        try await e.start()
        store.setFake("m", version: 2)
        store.setFake("n", version: 1)
        let deadline = ContinuousClock.now + .seconds(3)
        while ContinuousClock.now < deadline, (try? e.status(model: "m").defaultVersion) != 2 || !e.isReady(model: "n") {
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTAssertEqual(try e.status(model: "m").defaultVersion, 2)
        XCTAssertTrue(e.isReady(model: "n"))
        // A removed model leaves.
        store.remove("n")
        try await Task.sleep(for: .milliseconds(200))
        await assertThrows(.unknownModel("n")) { try await e.infer(model: "n", input: row(0)) }
        await e.shutdown()
    }

    func testMetricsCountRequestsBatchesAndStates() async throws {
        let metrics = TestMetrics()
        let store = FakeStore()
        store.setFake("m", version: 1, config: ServingConfig(task: "regression", maxBatchSize: 4, maxQueueDelay: .milliseconds(20)))
        var options = ServingOptions.testing()
        options.metricsFactory = metrics
        let e = ServingEngine(store: store, options: options)
        try await e.start()
        _ = await concurrently(8) { i in try await e.infer(model: "m", input: row(i)) }
        _ = try? await e.infer(model: "m", version: 7, input: row(0))
        _ = try? await e.infer(model: "ghost", input: row(0))
        await e.shutdown()
        XCTAssertEqual(try metrics.expectCounter("dlserve_requests_total", [("model", "m"), ("status", "ok")]).totalValue, 8)
        XCTAssertEqual(try metrics.expectCounter("dlserve_requests_total", [("model", "m"), ("status", "version_not_found")]).totalValue, 1)
        XCTAssertEqual(try metrics.expectCounter("dlserve_requests_total", [("model", "_unknown"), ("status", "unknown_model")]).totalValue, 1)
        let batches = try metrics.expectRecorder("dlserve_batch_size", [("model", "m")]).values
        XCTAssertEqual(batches.reduce(0, +), 8)
        XCTAssertGreaterThan(batches.max() ?? 0, 1)
        XCTAssertEqual(try metrics.expectTimer("dlserve_queue_time_seconds", [("model", "m")]).values.count, 8)
        XCTAssertEqual(try metrics.expectTimer("dlserve_request_duration_seconds", [("model", "m")]).values.count, 9)
        XCTAssertEqual(try metrics.expectGauge("dlserve_model_versions", [("model", "m"), ("state", "ready")]).lastValue, 1)
        XCTAssertEqual(try metrics.expectGauge("dlserve_model_ready", [("model", "m")]).lastValue, 1)
        XCTAssertEqual(try metrics.expectGauge("dlserve_queue_depth", [("model", "m")]).lastValue, 0)
    }

    func testErrorCodesAndStatusesAreStable() {
        let cases: [(ServingError, String, Int)] = [
            (.unknownModel("m"), "unknown_model", 404), (.versionNotFound(model: "m", version: 1), "version_not_found", 404),
            (.modelNotReady(model: "m", reason: "r"), "model_not_ready", 503),
            (.queueFull(model: "m", retryAfterSeconds: 1), "queue_full", 429), (.timeout(model: "m", after: .seconds(1)), "timeout", 504),
            (.invalidInput("x"), "invalid_input", 400), (.imageTooLarge(width: 1, height: 1, maxPixels: 0), "image_too_large", 413),
            (.unsupportedMediaType("x"), "unsupported_media_type", 415), (.shuttingDown, "shutting_down", 503),
            (.internal("x"), "internal", 500), (.loadFailed(model: "m", message: "x"), "load_failed", 422),
            (.badRequest("x"), "bad_request", 400), (.invalidJSON("x"), "invalid_json", 400),
            (.payloadTooLarge("x"), "payload_too_large", 413), (.clientClosed, "client_closed", 499),
        ]
        for (e, code, status) in cases {
            XCTAssertEqual(e.code, code)
            XCTAssertEqual(e.httpStatus, status, code)
            XCTAssertFalse(e.message.isEmpty)
        }
        XCTAssertEqual(ServingError.timeout(model: "m", after: .milliseconds(1500)).message, "request to model 'm' timed out after 1.5 s")
    }
}
