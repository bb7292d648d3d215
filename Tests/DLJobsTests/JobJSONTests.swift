import DLJobs
import DLTrain
import DLJobsTesting
import XCTest

/// The API's JSON form of jobs, pages and events.
final class JobJSONTests: XCTestCase {
    func testJobRoundTripsWithTheRecipeAsAnObjectAndLinks() throws {
        let clock = ManualJobClock()
        var m = JobStateMachine(Job(id: JobIDGenerator().next(at: clock.now()), model: "fm",
                                    recipe: #"{"epochs":2,"name":"fm","optimizer":{"lr":0.001,"name":"adam"}}"#,
                                    promote: true, totalEpochs: 2, createdAt: clock.now()))
        _ = try m.start(now: clock.now())
        clock.advance(by: 1.25)
        _ = try m.completeEpoch(epochMetrics(1, trainLoss: 0.5, trainAccuracy: 0.8, devLoss: 0.6, devAccuracy: 0.7), now: clock.now())
        try m.succeed(JobResult(model: "fm", version: 3, promoted: true), now: clock.now())
        let data = try JobJSON.encoder.encode(m.job)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual((object["recipe"] as? [String: Any])?["epochs"] as? Int, 2)
        XCTAssertEqual((object["links"] as? [String: String])?["events"], "/v1/jobs/\(m.job.id)/events")
        XCTAssertEqual((object["timings"] as? [String: Any])?["created_at"] as? String, "2026-01-01T00:00:00.000Z")
        XCTAssertEqual((object["result"] as? [String: Any])?["version"] as? Int, 3)
        XCTAssertEqual(((object["metrics"] as? [[String: Any]])?.first)?["dev_accuracy"] as? Double, 0.7, "Floats in their shortest form")
        let back = try JobJSON.decoder.decode(Job.self, from: data)
        XCTAssertEqual(back, m.job)
    }

    func testPageHasANullCursorOnTheLastPage() throws {
        let data = try JobJSON.encoder.encode(JobPage(jobs: [], nextCursor: nil))
        XCTAssertEqual(String(decoding: data, as: UTF8.self), #"{"jobs":[],"next_cursor":null}"#)
    }

    func testEventJSONCarriesJobSeqAndTime() throws {
        let id = JobIDGenerator().next(at: Date(timeIntervalSince1970: 1_767_225_600))
        let r = JobEventRecord(jobID: id, seq: 4, time: Date(timeIntervalSince1970: 1_767_225_601.5),
                               event: JobEvent(kind: .state, state: .failed, error: "boom"))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.json().utf8)) as? [String: Any])
        XCTAssertEqual(object["job"] as? String, id.rawValue)
        XCTAssertEqual(object["seq"] as? Int, 4)
        XCTAssertEqual(object["kind"] as? String, "state")
        XCTAssertEqual(object["state"] as? String, "failed")
        XCTAssertEqual(object["error"] as? String, "boom")
        XCTAssertEqual(object["time"] as? String, "2026-01-01T00:00:01.500Z")
        XCTAssertEqual(r.serverSentEvent(), "id: 4\nevent: state\ndata: \(r.json())\n\n")
    }
}
