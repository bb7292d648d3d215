import DLJobs
import DLJobsTesting
import DLNN
import DLServe
import DLServeTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

/// The /v1/jobs routes in process, over a real queue (SQLite store, worker
/// threads) and a fast fake trainer.
final class JobRouteTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("jobroutes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    func makeQueue(capacity: Int = 16, start: Bool = true) throws -> JobQueue {
        let state = root.appendingPathComponent("state")
        let queue = JobQueue(
            store: try SQLiteJobStore(stateDirectory: state), trainer: FakeTrainer(),
            repository: ModelRepository(root: root.appendingPathComponent("models")),
            configuration: JobQueueConfiguration(stateDirectory: state, capacity: capacity, limits: JobLimits(maxEpochs: 20),
                                                 progressInterval: 0))
        if start { try queue.start() }
        return queue
    }

    func app(_ queue: JobQueue, token: String? = nil) -> some ApplicationProtocol {
        makeTestApplication(backend: FakeBackend(), settings: HTTPSettings(bearerToken: token),
                            jobs: JobController(queue: queue, heartbeat: .milliseconds(100)))
    }

    static func body(_ data: Data) -> ByteBuffer { ByteBuffer(bytes: data) }

    func stop(_ queue: JobQueue) async {
        queue.beginShutdown()
        await queue.waitUntilStopped()
    }

    func testSubmitShowListEventsAndCurves() async throws {
        let queue = try makeQueue()
        try await app(queue).test(.router) { client in
            var id = ""
            try await client.execute(uri: "/v1/jobs", method: .post, headers: TestJSON.headers,
                                     body: Self.body(FakeTrainer.recipe("shirts", epochs: 2, batches: 2))) { response in
                XCTAssertEqual(response.status, .accepted)
                let job = try TestJSON.object(response.body)
                id = try XCTUnwrap(job["id"] as? String)
                XCTAssertEqual(response.headers[.location], "/v1/jobs/\(id)")
                XCTAssertEqual(job["state"] as? String, "queued")
                XCTAssertEqual((job["recipe"] as? [String: Any])?["name"] as? String, "shirts")
            }
            // Follow to the end: SSE framing, ids 1..n, the last event succeeded.
            var text = ""
            try await client.execute(uri: "/v1/jobs/\(id)/events", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(response.headers[.contentType], "text/event-stream; charset=utf-8")
                text = String(buffer: response.body)
            }
            let frames = text.components(separatedBy: "\n\n").filter { $0.hasPrefix("id: ") }
            XCTAssertEqual(frames.map { $0.split(separator: "\n")[0] }, (1...frames.count).map { "id: \($0)" })
            XCTAssertTrue(text.hasPrefix("retry: 2000\n\n"))
            XCTAssertTrue(frames.first!.contains("event: state\n") && frames.first!.contains(#""state":"queued""#))
            XCTAssertTrue(frames.last!.contains(#""state":"succeeded""#), frames.last!)
            XCTAssertEqual(frames.filter { $0.contains("event: epoch\n") }.count, 2)
            // Resume after event 3 (header), and after the last (ends at once).
            try await client.execute(uri: "/v1/jobs/\(id)/events", method: .get, headers: [.init("Last-Event-ID")!: "3"]) { response in
                let ids = String(buffer: response.body).components(separatedBy: "\n").filter { $0.hasPrefix("id: ") }
                XCTAssertEqual(ids, (4...frames.count).map { "id: \($0)" })
            }
            try await client.execute(uri: "/v1/jobs/\(id)/events?last_event_id=\(frames.count)", method: .get) { response in
                XCTAssertFalse(String(buffer: response.body).contains("id: "))
            }
            try await client.execute(uri: "/v1/jobs/\(id)/events", method: .get, headers: [.init("Last-Event-ID")!: "x"]) {
                try assertError($0, .badRequest, "bad_request")
            }
            try await client.execute(uri: "/v1/jobs/\(id)", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                let job = try JobJSON.decoder.decode(Job.self, from: Data(response.body.readableBytesView))
                XCTAssertEqual(job.state, .succeeded)
                XCTAssertEqual(job.result?.version, 1)
                XCTAssertEqual(job.metrics.count, 2)
            }
            try await client.execute(uri: "/v1/jobs/\(id)/curves.svg", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(response.headers[.contentType], "image/svg+xml; charset=utf-8")
                XCTAssertTrue(String(buffer: response.body).contains("<svg"))
            }
            try await client.execute(uri: "/v1/jobs?state=succeeded&limit=5", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                let page = try JobJSON.decoder.decode(JobPage.self, from: Data(response.body.readableBytesView))
                XCTAssertEqual(page.jobs.map(\.id.rawValue), [id])
                XCTAssertNil(page.nextCursor)
            }
            try await client.execute(uri: "/v1/jobs?state=queued", method: .get) { response in
                XCTAssertEqual((try TestJSON.object(response.body)["jobs"] as? [Any])?.count, 0)
            }
            // Finished jobs cannot be cancelled.
            try await client.execute(uri: "/v1/jobs/\(id)", method: .delete) { try assertError($0, .conflict, "invalid_job_state") }
        }
        await stop(queue)
    }

    func testPagingWithCursor() async throws {
        let queue = try makeQueue(start: false)
        let ids = try (0..<5).map { try queue.submit(recipe: FakeTrainer.recipe("m\($0)")).id.rawValue }
        try await app(queue).test(.router) { client in
            var seen: [String] = []
            var cursor: String?
            repeat {
                let uri = "/v1/jobs?limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
                try await client.execute(uri: uri, method: .get) { response in
                    let object = try TestJSON.object(response.body)
                    seen += (object["jobs"] as! [[String: Any]]).map { $0["id"] as! String }
                    cursor = object["next_cursor"] as? String
                }
            } while cursor != nil
            XCTAssertEqual(seen, ids.reversed())
        }
    }

    func testErrorsNameTheProblem() async throws {
        let queue = try makeQueue(capacity: 1, start: false)
        try await app(queue).test(.router) { client in
            try await client.execute(uri: "/v1/jobs", method: .post, headers: TestJSON.headers,
                                     body: Self.body(FakeTrainer.recipe(epochs: 21))) { response in
                try assertError(response, .badRequest, "invalid_recipe")
                XCTAssertEqual(try TestJSON.object(response.body)["error"] as? String,
                               "invalid recipe: epochs 21 exceeds the maximum of 20")
            }
            try await client.execute(uri: "/v1/jobs", method: .post, headers: TestJSON.headers,
                                     body: Self.body(FakeTrainer.recipe())) { XCTAssertEqual($0.status, .accepted) }
            try await client.execute(uri: "/v1/jobs", method: .post, headers: TestJSON.headers,
                                     body: Self.body(FakeTrainer.recipe())) { response in
                try assertError(response, .tooManyRequests, "job_queue_full")
                XCTAssertEqual(response.headers[.retryAfter], "30")
            }
            let unknown = JobIDGenerator().next(at: Date()).rawValue
            for (method, uri) in [(HTTPRequest.Method.get, "/v1/jobs/\(unknown)"), (.delete, "/v1/jobs/\(unknown)"),
                                  (.get, "/v1/jobs/\(unknown)/events"), (.get, "/v1/jobs/\(unknown)/curves.svg"),
                                  (.get, "/v1/jobs/not-an-id")] {
                try await client.execute(uri: uri, method: method) { try assertError($0, .notFound, "job_not_found") }
            }
            for query in ["state=done", "limit=0", "limit=x", "cursor=abc"] {
                try await client.execute(uri: "/v1/jobs?\(query)", method: .get) { try assertError($0, .badRequest, "bad_request") }
            }
        }
    }

    func testCancelQueuedAndRunningJobs() async throws {
        let queue = try makeQueue()
        try await app(queue).test(.router) { client in
            var running = "", queued = ""
            try await client.execute(uri: "/v1/jobs", method: .post, headers: TestJSON.headers,
                                     body: Self.body(FakeTrainer.recipe("long", epochs: 5, batches: 1000, delayMs: 5))) {
                running = try TestJSON.object($0.body)["id"] as! String
            }
            try await client.execute(uri: "/v1/jobs", method: .post, headers: TestJSON.headers,
                                     body: Self.body(FakeTrainer.recipe("next"))) {
                queued = try TestJSON.object($0.body)["id"] as! String
            }
            try await client.execute(uri: "/v1/jobs/\(queued)", method: .delete) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(try TestJSON.object(response.body)["state"] as? String, "cancelled")
            }
            // Wait until the long job trains, then cancel it.
            var state = ""
            for _ in 0..<500 where state != "running" {
                try await client.execute(uri: "/v1/jobs/\(running)", method: .get) {
                    let job = try TestJSON.object($0.body)
                    state = ((job["progress"] as? [String: Any])?["batch"] as? Int ?? 0) > 2 ? job["state"] as! String : ""
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            try await client.execute(uri: "/v1/jobs/\(running)", method: .delete) { response in
                XCTAssertEqual(response.status, .accepted)
                XCTAssertEqual(try TestJSON.object(response.body)["cancel_requested"] as? Bool, true)
            }
            try await client.execute(uri: "/v1/jobs/\(running)/events?last_event_id=2", method: .get) { response in
                XCTAssertTrue(String(buffer: response.body).hasSuffix("\n\n"))
            }
            try await client.execute(uri: "/v1/jobs/\(running)", method: .get) {
                XCTAssertEqual(try TestJSON.object($0.body)["state"] as? String, "cancelled")
            }
        }
        await stop(queue)
    }

    func testEveryJobRouteNeedsTheTokenWhenConfigured() async throws {
        let queue = try makeQueue(start: false)
        let id = try queue.submit(recipe: FakeTrainer.recipe()).id.rawValue
        try await app(queue, token: "s3cret").test(.router) { client in
            let routes: [(HTTPRequest.Method, String)] = [
                (.get, "/v1/jobs"), (.post, "/v1/jobs"), (.get, "/v1/jobs/\(id)"), (.delete, "/v1/jobs/\(id)"),
                (.get, "/v1/jobs/\(id)/events"), (.get, "/v1/jobs/\(id)/curves.svg"),
            ]
            for (method, uri) in routes {
                try await client.execute(uri: uri, method: method) { try assertError($0, .unauthorized, "unauthorized") }
            }
            try await client.execute(uri: "/v1/jobs/\(id)", method: .get, headers: [.authorization: "Bearer s3cret"]) {
                XCTAssertEqual($0.status, .ok)
            }
        }
    }

    func testEventStreamEndsWhenTheQueueStops() async throws {
        let queue = try makeQueue(start: false)  // the job never starts
        let id = try queue.submit(recipe: FakeTrainer.recipe()).id.rawValue
        try queue.start()
        queue.beginShutdown()
        await queue.waitUntilStopped()
        try await app(queue).test(.router) { client in
            try await client.execute(uri: "/v1/jobs/\(id)/events", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
            }
        }
    }
}
