import ArgumentParser
import DLJobs
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `dlserve jobs list [--state S] [--limit N] [--cursor C]`
struct JobsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List jobs, newest first.")

    @Option(name: .long, help: "Only jobs in this state (queued, running, succeeded, failed, cancelled).")
    var state: String?

    @Option(name: .long, help: "Jobs per page (1 to 500).")
    var limit: Int = 20

    @Option(name: .long, help: "Continue after this cursor (printed at the end of a page).")
    var cursor: String?

    @Flag(name: .long, help: "Print the page as JSON.")
    var json = false

    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        if let s = state, JobState(rawValue: s) == nil {
            throw ValidationError("--state must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (1...JobListQuery.maxLimit).contains(limit) else { throw ValidationError("--limit must be between 1 and 500") }
    }

    func run() async throws {
        var query = [URLQueryItem(name: "limit", value: String(limit))]
        if let state { query.append(URLQueryItem(name: "state", value: state)) }
        if let cursor { query.append(URLQueryItem(name: "cursor", value: cursor)) }
        let client = try daemon.client()
        try await reportingFailures {
            let page = try await client.decode(JobPage.self, "GET", "v1/jobs", query: query)
            if json {
                print(try jobJSON(page))
            } else {
                print(Self.table(page.jobs))
                if let next = page.nextCursor { print("more: --cursor \(next)") }
            }
        }
    }

    static func table(_ jobs: [Job]) -> String {
        let rows = [["ID", "STATE", "MODEL", "PROGRESS", "CREATED", "RESULT"]] + jobs.map { j in
            let p = j.progress
            let progress = p.totalEpochs == 0 ? "-" : "epoch \(p.epoch)/\(p.totalEpochs)"
                + (p.totalBatches > 0 && p.batch < p.totalBatches && j.state == .running ? " batch \(p.batch)/\(p.totalBatches)" : "")
            let result = j.result.map { "version \($0.version)\($0.promoted ? " (serving)" : "")" } ?? (j.error.map { String($0.prefix(60)) } ?? "")
            return [j.id.rawValue, j.state.rawValue + (j.cancelRequested && j.state == .running ? " (cancelling)" : ""),
                    j.model, progress, JobJSON.formatDate(j.timings.createdAt).prefix(19).replacingOccurrences(of: "T", with: " "),
                    result]
        }
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { r in
            zip(r, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}
