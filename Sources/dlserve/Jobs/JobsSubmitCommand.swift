import ArgumentParser
import DLJobs
import DLNN
import Foundation

/// `dlserve jobs submit RECIPE.json [--follow]`
struct JobsSubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a training recipe; print the new job's id.",
        discussion: """
            The recipe is the format `dlserve train` reads. The daemon checks it before accepting it \
            and names the field of any error. With --follow, waits for the job like `jobs follow` \
            (exit status 0 succeeded, 1 failed, 2 cancelled).
            """)

    @Argument(help: ArgumentHelp("The training recipe (JSON).", valueName: "recipe.json"))
    var recipe: String

    @Flag(name: .long, help: "Follow the job's progress until it ends.")
    var follow = false

    @Flag(name: .long, help: "Print the job as JSON instead of its id.")
    var json = false

    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        guard FileManager.default.isReadableFile(atPath: recipe) else { throw ValidationError("recipe \(recipe) cannot be read") }
    }

    func run() async throws {
        let body = try JSONFile.read(URL(fileURLWithPath: recipe), maxBytes: 1 << 20)
        let client = try daemon.client()
        var job: Job!
        try await reportingFailures {
            job = try await client.decode(Job.self, "POST", "v1/jobs", body: body)
        }
        if json { print(try jobJSON(job)) } else { print(job.id) }
        printError("queued job \(job.id) training '\(job.model)' (\(job.progress.totalEpochs) epochs)")
        if follow {
            let state = try await JobsFollowCommand.follow(job.id, client: client, json: false, after: 0, retrySeconds: 60)
            throw jobExitCode(for: state)
        }
    }
}

/// A job as pretty JSON with sorted keys.
func jobJSON<T: Encodable>(_ value: T) throws -> String {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    e.dateEncodingStrategy = .custom { date, encoder in
        var c = encoder.singleValueContainer()
        try c.encode(JobJSON.formatDate(date))
    }
    return String(decoding: try e.encode(value), as: UTF8.self)
}
