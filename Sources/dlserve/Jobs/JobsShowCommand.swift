import ArgumentParser
import DLJobs
import Foundation

/// `dlserve jobs show ID`
struct JobsShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Print a job as JSON: state, progress, per-epoch metrics, timings, result, error.")

    @Argument(help: "The job's id.")
    var id: String

    @Option(name: .long, help: ArgumentHelp("Also save its learning curves (SVG) to this file.", valueName: "file"))
    var curves: String?

    @OptionGroup var daemon: DaemonOptions

    func validate() throws { _ = try parseJobID(id) }

    func run() async throws {
        let id = try parseJobID(self.id)
        let client = try daemon.client()
        try await reportingFailures {
            let job = try await client.decode(Job.self, "GET", "v1/jobs/\(id)")
            print(try jobJSON(job))
            if let curves {
                let (svg, _) = try await client.send("GET", "v1/jobs/\(id)/curves.svg")
                try svg.write(to: URL(fileURLWithPath: curves))
                printError("learning curves saved to \(curves)")
            }
        }
    }
}
