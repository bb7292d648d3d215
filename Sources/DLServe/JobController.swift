import DLServing
import DLJobs
import Foundation
import Hummingbird

/// The thin layer between the job routes and the `JobQueue`: parses ids,
/// filters and cursors (400 naming the parameter), runs the queue's blocking
/// calls (SQLite, recipe checks) off the cooperative pool, and renders jobs,
/// pages, event streams and curves.
public struct JobController: Sendable {
    public let queue: JobQueue
    /// Seconds between SSE comments that keep idle proxies from closing a follow.
    public var heartbeat: Duration

    public init(queue: JobQueue, heartbeat: Duration = .seconds(15)) {
        self.queue = queue
        self.heartbeat = heartbeat
    }

    /// The queue's calls block on SQLite (and the recipe check builds a model):
    /// they run on a dispatch queue, not on a Swift cooperative thread.
    private static let blocking = DispatchQueue(label: "dlserve.jobs.api", attributes: .concurrent)

    func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in
            Self.blocking.async { c.resume(with: Result { try body() }) }
        }
    }

    // MARK: - Operations

    func submit(_ recipe: Data) async throws -> Job {
        try await offload { try queue.submit(recipe: recipe) }
    }

    func list(state: String?, limit: String?, cursor: String?) async throws -> JobPage {
        var query = JobListQuery()
        if let state {
            guard let s = JobState(rawValue: state) else {
                throw ServingError.badRequest(
                    "state must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", ")), got '\(state)'")
            }
            query.state = s
        }
        if let limit {
            guard let n = Int(limit), (1...JobListQuery.maxLimit).contains(n) else {
                throw ServingError.badRequest("limit must be an integer from 1 to \(JobListQuery.maxLimit), got '\(limit)'")
            }
            query.limit = n
        }
        if let cursor {
            guard let c = JobID(cursor) else { throw ServingError.badRequest("cursor '\(cursor)' is not a job id") }
            query.cursor = c
        }
        let q = query
        return try await offload { try queue.list(q) }
    }

    func job(_ id: String) async throws -> Job {
        let id = try Self.parse(id)
        return try await offload { try queue.job(id) }
    }

    func cancel(_ id: String) async throws -> Job {
        let id = try Self.parse(id)
        return try await offload { try queue.cancel(id) }
    }

    func curves(_ id: String) async throws -> String {
        let id = try Self.parse(id)
        return try await offload { try queue.curvesSVG(id) }
    }

    /// The job's events as SSE frames after `lastEventID`, with a comment line
    /// every `heartbeat`; ends after the job's final event.
    func events(_ id: String, lastEventID: String?) async throws -> AsyncStream<ByteBuffer> {
        let id = try Self.parse(id)
        var after: Int64 = 0
        if let lastEventID {
            guard let n = Int64(lastEventID.trimmingCharacters(in: .whitespaces)), n >= 0 else {
                throw ServingError.badRequest("Last-Event-ID must be a non-negative integer, got '\(lastEventID)'")
            }
            after = n
        }
        let a = after
        let events = try await offload { try queue.follow(id, after: a) }
        let heartbeat = self.heartbeat
        return AsyncStream { continuation in
            let pump = Task {
                // Tells EventSource clients how soon to reconnect after a drop.
                continuation.yield(ByteBuffer(string: "retry: 2000\n\n"))
                do {
                    for try await record in events {
                        continuation.yield(ByteBuffer(string: record.serverSentEvent()))
                    }
                } catch {
                    continuation.yield(ByteBuffer(string: ": error: \(error)\n\n"))
                }
                continuation.finish()
            }
            let beat = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: heartbeat)
                    if Task.isCancelled { break }
                    continuation.yield(ByteBuffer(string: ": keep-alive\n\n"))
                }
            }
            continuation.onTermination = { _ in
                pump.cancel()
                beat.cancel()
            }
        }
    }

    static func parse(_ id: String) throws -> JobID {
        guard let parsed = JobID(id) else { throw JobError.notFound(id) }
        return parsed
    }

    // MARK: - Rendering

    /// A JSON response in the job API's conventions (ISO 8601 dates, snake_case).
    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        let data = try JobJSON.encoder.encode(value)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
