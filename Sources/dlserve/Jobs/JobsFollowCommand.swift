import ArgumentParser
import DLJobs
import Foundation

/// `dlserve jobs follow ID`
struct JobsFollowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "follow",
        abstract: "Follow a job's progress until it ends (exit status 0 succeeded, 1 failed, 2 cancelled).",
        discussion: """
            Reads the job's Server-Sent Events (GET /v1/jobs/ID/events). When the connection drops \
            (the daemon restarts, say) it reconnects with the last event id, so nothing is missed or repeated.
            """)

    @Argument(help: "The job's id.")
    var id: String

    @Flag(name: .long, help: "Print each event as a line of JSON.")
    var json = false

    @Option(name: .long, help: "Start after this event id (0: from the beginning).")
    var after: Int64 = 0

    @Option(name: .long, help: "Keep reconnecting for this many seconds when the daemon cannot be reached.")
    var retry: Int = 120

    @OptionGroup var daemon: DaemonOptions

    func validate() throws { _ = try parseJobID(id) }

    func run() async throws {
        let state = try await Self.follow(try parseJobID(id), client: try daemon.client(), json: json, after: after,
                                          retrySeconds: retry)
        throw jobExitCode(for: state)
    }

    /// Prints events until the job ends; returns its final state.
    static func follow(_ id: JobID, client: JobsClient, json: Bool, after: Int64, retrySeconds: Int) async throws -> JobState {
        var last = after
        var lastContact = Date()
        let printer = EventPrinter(json: json)
        while true {
            var request = client.makeRequest("GET", "v1/jobs/\(id)/events")
            if last > 0 { request.setValue(String(last), forHTTPHeaderField: "Last-Event-ID") }
            do {
                for try await e in ServerSentEventSource.events(request) {
                    lastContact = Date()
                    if let s = e.id, let n = Int64(s) { last = n }
                    guard let record = printer.print(e) else { continue }
                    if record.kind == .state, record.state.isTerminal {
                        printer.finishLine()
                        return record.state
                    }
                }
            } catch let f as JobsClient.Failure where f.status != nil {
                printer.finishLine()
                printError("error: \(f)")
                throw ExitCode.failure
            } catch {
                // Transport trouble: retry below.
            }
            guard Date().timeIntervalSince(lastContact) < Double(retrySeconds) else {
                printer.finishLine()
                printError("error: lost the daemon at \(client.base.absoluteString) for \(retrySeconds) s")
                throw ExitCode.failure
            }
            printer.finishLine()
            try await Task.sleep(for: .seconds(1))
        }
    }
}

/// Turns events into lines for people (or passes JSON through).
final class EventPrinter: @unchecked Sendable {
    let json: Bool
    let tty = isatty(STDOUT_FILENO) == 1
    private var openLine = false

    init(json: Bool) { self.json = json }

    /// Prints one event; returns it decoded (nil if it is not a job event).
    func print(_ e: ServerSentEvent) -> JobEvent? {
        guard let r = try? JobJSON.decoder.decode(JobEvent.self, from: Data(e.data.utf8)) else { return nil }
        if json {
            Swift.print(e.data)
            return r
        }
        switch r.kind {
        case .progress:
            guard let p = r.progress else { break }
            var line = "epoch \(p.epoch)/\(p.totalEpochs)  batch \(p.batch)/\(p.totalBatches)"
            if let l = p.loss { line += String(format: "  loss %.4f", l) }
            if let a = p.accuracy { line += String(format: "  acc %.1f%%", a * 100) }
            if let t = p.tokensPerSecond {
                line += String(format: "  %.0f tokens/s", t)
            } else if let s = p.imagesPerSecond {
                line += String(format: "  %.0f img/s", s)
            }
            if tty {
                FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + line).utf8))
                openLine = true
            } else {
                Swift.print(line)
            }
            return r
        case .epoch:
            guard let m = r.metrics else { break }
            var line = String(format: "epoch %d done in %.1f s: train loss %.4f acc %.1f%%", m.epoch, m.seconds,
                              Double(m.trainLoss), Double(m.trainAccuracy) * 100)
            if let dl = m.devLoss, let da = m.devAccuracy {
                line += String(format: " | dev loss %.4f acc %.1f%%", Double(dl), Double(da) * 100)
            }
            if let b = m.devBLEU { line += String(format: " | dev BLEU %.2f", b) }
            if let t = m.tokensPerSecond { line += String(format: " | %.0f tokens/s", t) }
            emit(line)
        case .state:
            var line = r.state.rawValue
            if let res = r.result {
                line += ": \(res.model) version \(res.version)"
                if res.promoted { line += " (now serving)" }
                if let pe = res.promoteError { line += " (not promoted: \(pe))" }
            }
            if let err = r.error { line += ": \(err)" }
            if let m = r.message, r.result == nil, r.error == nil { line += " (\(m))" }
            emit(line)
        }
        return r
    }

    func emit(_ line: String) {
        finishLine()
        Swift.print(line)
    }

    func finishLine() {
        if openLine {
            FileHandle.standardOutput.write(Data("\n".utf8))
            openLine = false
        }
    }
}
