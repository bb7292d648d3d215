import DLServe
import DLServeTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

/// A client that hangs up while its request waits in the queue has that
/// work dropped (never run), and keep-alive connections keep working.
final class ClientDisconnectLiveTests: XCTestCase {
    var repo: TestRepository!

    override func setUpWithError() throws {
        repo = try TestRepository()
    }

    override func tearDownWithError() throws {
        repo.remove()
    }

    static let pixels = TestJSON.body(["pixels": [[Float]](repeating: [Float](repeating: 0.5, count: 28), count: 28)])

    /// The value of the first metrics line starting with `prefix` (0 when absent).
    func metric(_ live: LiveDaemon, _ prefix: String) async throws -> Double {
        let response = try await live.request("/metrics")
        let text = String(buffer: try XCTUnwrap(response.body))
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return 0 }
        return Double(line.split(separator: " ").last ?? "") ?? .nan
    }

    func testAClientThatHangsUpHasItsQueuedWorkDropped() async throws {
        // A lone request waits up to 2.5 s for its batch to fill: it sits queued.
        try repo.writeConfig(name: "waiting", maxBatchSize: 64, maxQueueDelayMs: 2500, timeoutMs: 10_000)
        try repo.publishSlow(name: "waiting", hidden: 16)
        let live = try await LiveDaemon.startEngine(models: repo.root)
        try await live.waitUntilReady()
        let batchesBefore = try await metric(live, #"dlserve_batch_size_count{model="waiting"}"#)

        let started = ContinuousClock.now
        let request = RawHTTPClient.post("/v1/models/waiting/classify", contentType: "application/json",
                                         body: Array(Self.pixels.readableBytesView))
        try await RawHTTPClient.sendAndHangUp(port: live.port, request: request, hangUpAfter: .milliseconds(300))

        // Dropped as soon as the hang-up is seen, long before the batch delay.
        var cancelled = 0.0
        while cancelled < 1, ContinuousClock.now - started < .milliseconds(2000) {
            try await Task.sleep(for: .milliseconds(50))
            cancelled = try await metric(live, #"dlserve_requests_total{model="waiting",status="cancelled"}"#)
        }
        let noticedAfter = ContinuousClock.now - started
        XCTAssertEqual(cancelled, 1, "the hang-up was not noticed within 2 s")
        XCTAssertLessThan(noticedAfter, .milliseconds(2000))
        let depth = try await metric(live, #"dlserve_queue_depth{model="waiting"}"#)
        XCTAssertEqual(depth, 0)

        // Past the batch delay: the dropped request never ran.
        try await Task.sleep(until: started + .milliseconds(3000))
        let batchesAfter = try await metric(live, #"dlserve_batch_size_count{model="waiting"}"#)
        XCTAssertEqual(batchesAfter, batchesBefore, "the dropped request ran")
        // The HTTP layer counts it as nginx's 499 (client closed request).
        let http499 = try await metric(live, #"dlserve_model_requests_total{model="waiting",status="499"}"#)
        XCTAssertEqual(http499, 1)
        print("client hang-up noticed after \(noticedAfter)")
        try await live.stop()
    }

    func testKeepAliveConnectionsServeSeveralRequests() async throws {
        try repo.writeConfig(name: "quick", maxBatchSize: 4, maxQueueDelayMs: 0)
        try repo.publishSlow(name: "quick", hidden: 16)
        let live = try await LiveDaemon.startEngine(models: repo.root)
        try await live.waitUntilReady()
        try await TestClient.withClient(host: "127.0.0.1", port: live.port) { client in
            for _ in 0..<3 {
                let r = try await client.execute(TestClient.Request(
                    "/v1/models/quick/classify", method: .post, headers: TestJSON.headers, body: Self.pixels))
                XCTAssertEqual(r.status, .ok)
            }
        }
        let ok = try await metric(live, #"dlserve_requests_total{model="quick",status="ok"}"#)
        XCTAssertEqual(ok, 3)
        try await live.stop()
    }
}
