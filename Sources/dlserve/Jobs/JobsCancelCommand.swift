import ArgumentParser
import DLJobs
import Foundation

/// `dlserve jobs cancel ID`
struct JobsCancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a queued or running job (a running job stops within one batch).")

    @Argument(help: "The job's id.")
    var id: String

    @Flag(name: .long, help: "Wait until the job has stopped.")
    var wait = false

    @OptionGroup var daemon: DaemonOptions

    func validate() throws { _ = try parseJobID(id) }

    func run() async throws {
        let id = try parseJobID(self.id)
        let client = try daemon.client()
        try await reportingFailures {
            var job = try await client.decode(Job.self, "DELETE", "v1/jobs/\(id)")
            if wait {
                while !job.state.isTerminal {
                    try await Task.sleep(for: .milliseconds(200))
                    job = try await client.decode(Job.self, "GET", "v1/jobs/\(id)")
                }
            }
            print(job.state == .running ? "cancelling \(id) (it stops at its next batch)" : "\(id) \(job.state.rawValue)")
        }
    }
}
