import ArgumentParser
import DLJobs
import Foundation
import XCTest

@testable import dlserve

/// `dlserve jobs ...`: help, argument checks, the list table and the SSE
/// parser (the commands against a real daemon are in JobsLiveTests).
final class JobsCommandTests: XCTestCase {
    func testHelpListsTheSubcommandsAndOptions() {
        let root = DLServeCommand.helpMessage()
        XCTAssertTrue(root.contains("jobs"), root)
        let jobs = DLServeCommand.helpMessage(for: JobsCommand.self)
        for s in ["submit", "list", "show", "follow", "cancel"] { XCTAssertTrue(jobs.contains(s), jobs) }
        let submit = DLServeCommand.helpMessage(for: JobsSubmitCommand.self)
        for o in ["<recipe.json>", "--follow", "--url <url>", "--token-file <file>", "--json"] {
            XCTAssertTrue(submit.contains(o), "\(o) missing from:\n\(submit)")
        }
        let list = DLServeCommand.helpMessage(for: JobsListCommand.self)
        for o in ["--state <state>", "--limit <limit>", "--cursor <cursor>"] { XCTAssertTrue(list.contains(o), list) }
        let follow = DLServeCommand.helpMessage(for: JobsFollowCommand.self)
        XCTAssertTrue(follow.contains("2 cancelled"), follow)
        XCTAssertTrue(follow.contains("--after <after>"), follow)
    }

    func assertRejected(_ args: [String], _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try DLServeCommand.parseAsRoot(args), file: file, line: line) { e in
            let message = DLServeCommand.message(for: e)
            XCTAssertTrue(message.contains(expected), "'\(message)' does not contain '\(expected)'", file: file, line: line)
        }
    }

    func testArgumentValidation() throws {
        assertRejected(["jobs", "submit", "/nonexistent.json"], "recipe /nonexistent.json cannot be read")
        assertRejected(["jobs", "show", "nope"], "'nope' is not a job id")
        assertRejected(["jobs", "cancel", "01ARZ3NDEKTSV4RRFFQ69G5FA"], "is not a job id")
        assertRejected(["jobs", "list", "--state", "done"], "--state must be one of queued, running, succeeded, failed, cancelled")
        assertRejected(["jobs", "list", "--limit", "0"], "--limit must be between 1 and 500")
        assertRejected(["jobs", "list", "--url", "ftp://x"], "--url ftp://x is not an http(s) URL")
        assertRejected(["jobs", "list", "--token-file", "/nonexistent"], "--token-file /nonexistent cannot be read")
        let show = try XCTUnwrap(DLServeCommand.parseAsRoot(["jobs", "show", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "--url", "http://10.0.0.2:9000"]) as? JobsShowCommand)
        XCTAssertEqual(try show.daemon.client().base.absoluteString, "http://10.0.0.2:9000")
        XCTAssertNil(try show.daemon.client().token)
    }

    func testServerSentEventParserHandlesSplitChunksCommentsAndCRLF() {
        var parser = ServerSentEventParser()
        var events = parser.feed(Data("retry: 2000\n\nid: 1\nevent: state\nda".utf8))
        XCTAssertEqual(events, [], "a retry-only block is no event")
        events = parser.feed(Data("ta: {\"a\":1}\n\n: keep-alive\n\nid: 2\r\nevent: progress\r\ndata: x\r\ndata: y\r\n\r\n".utf8))
        XCTAssertEqual(events, [ServerSentEvent(id: "1", event: "state", data: #"{"a":1}"#),
                                ServerSentEvent(id: "2", event: "progress", data: "x\ny")])
    }

    func testListTable() throws {
        let clock = ManualJobClock()
        var m = JobStateMachine(Job(id: JobID("01KDVDNA019ZD2ZAWX36HXHN31")!, model: "shirts", recipe: "{}", promote: true,
                                    totalEpochs: 5, createdAt: clock.now()))
        _ = try m.start(now: clock.now())
        _ = try m.recordProgress(JobProgress(epoch: 2, totalEpochs: 5, batch: 7, totalBatches: 29), now: clock.now())
        let table = JobsListCommand.table([m.job])
        XCTAssertEqual(table, """
            ID                          STATE    MODEL   PROGRESS              CREATED              RESULT
            01KDVDNA019ZD2ZAWX36HXHN31  running  shirts  epoch 2/5 batch 7/29  2026-01-01 00:00:00
            """)
    }
}
