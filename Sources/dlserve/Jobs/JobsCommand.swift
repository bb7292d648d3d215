import ArgumentParser
import DLJobs
import Foundation

/// `dlserve jobs ...`: training jobs on a running daemon.
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "Submit, list, follow and cancel training jobs on a running daemon.",
        discussion: """
            Talks to the daemon's /v1/jobs API (see openapi.yaml). The daemon is found with --url \
            (or $DLSERVE_URL, default http://127.0.0.1:8080); when it requires a bearer token, pass \
            --token-file (or set $DLSERVE_TOKEN_FILE).
            """,
        subcommands: [JobsSubmitCommand.self, JobsListCommand.self, JobsShowCommand.self, JobsFollowCommand.self,
                      JobsCancelCommand.self])
}

/// --url and --token-file: where the daemon is and how to authenticate.
struct DaemonOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The daemon's base URL (default: $DLSERVE_URL or http://127.0.0.1:8080).", valueName: "url"))
    var url: String?

    @Option(name: .long, help: ArgumentHelp(
        "A file holding the bearer token (default: $DLSERVE_TOKEN_FILE).", valueName: "file"))
    var tokenFile: String?

    var baseURL: String { url ?? ProcessInfo.processInfo.environment["DLSERVE_URL"] ?? "http://127.0.0.1:8080" }
    var tokenPath: String? { tokenFile ?? ProcessInfo.processInfo.environment["DLSERVE_TOKEN_FILE"] }

    func validate() throws {
        guard let u = URL(string: baseURL), let scheme = u.scheme, ["http", "https"].contains(scheme), u.host != nil else {
            throw ValidationError("--url \(baseURL) is not an http(s) URL")
        }
        if let p = tokenPath, !FileManager.default.isReadableFile(atPath: p) {
            throw ValidationError("--token-file \(p) cannot be read")
        }
    }

    func client() throws -> JobsClient {
        var token: String?
        if let p = tokenPath {
            token = try String(contentsOfFile: p, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return JobsClient(base: URL(string: baseURL)!, token: token)
    }
}

/// A job id argument, checked before any request.
func parseJobID(_ s: String) throws -> JobID {
    guard let id = JobID(s) else { throw ValidationError("'\(s)' is not a job id (26 characters, like 01KDVDNA019ZD2ZAWX36HXHN31)") }
    return id
}

/// Exit codes of commands that wait for a job: 0 succeeded, 1 failed, 2 cancelled.
func jobExitCode(for state: JobState) -> ExitCode {
    switch state {
    case .succeeded: return .success
    case .cancelled: return ExitCode(2)
    default: return .failure
    }
}

/// A failed request prints the daemon's message and exits 1.
func reportingFailures(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let f as JobsClient.Failure {
        printError("error: \(f)")
        throw ExitCode.failure
    }
}
