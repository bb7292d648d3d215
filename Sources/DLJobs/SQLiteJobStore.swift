import Foundation
import GRDB

/// The embedded job store: one SQLite database in WAL mode (readers never
/// block the writer), `synchronous = FULL` so that a job acknowledged to a
/// client survives a power cut, schema changes by numbered migrations.
public final class SQLiteJobStore: JobStore {
    private let pool: DatabasePool
    public let path: String

    /// Opens (or creates) the database at `path`, creating its directory and
    /// running pending migrations.
    public init(path: String) throws {
        self.path = path
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            try FileManager.default.createDirectory(
                at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
            pool = try DatabasePool(path: path, configuration: config)
            try Self.migrator.migrate(pool)
        } catch let error as JobError {
            throw error
        } catch {
            throw JobError.storage("cannot open \(path): \(error)")
        }
    }

    /// The store of a state directory: `STATE/jobs/jobs.sqlite`.
    public convenience init(stateDirectory: URL) throws {
        try self.init(path: stateDirectory.appendingPathComponent("jobs/jobs.sqlite").path)
    }

    public func insert(_ job: Job, queueCapacity: Int, now: Date) throws {
        try wrap {
            try pool.write { db in
                let queued = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs WHERE state = 'queued'") ?? 0
                guard queued < queueCapacity else { throw JobError.queueFull(capacity: queueCapacity) }
                try db.execute(sql: "INSERT INTO jobs (\(Self.jobColumns)) VALUES (\(Self.placeholders))",
                               arguments: try Self.arguments(job))
                let first = JobEvent(kind: .state, state: job.state, progress: job.progress, message: "queued")
                try Self.append([first], to: job.id, after: 0, now: now, db)
            }
        }
    }

    public func job(_ id: JobID) throws -> Job? {
        try wrap {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id.rawValue]).map(Self.job(from:))
            }
        }
    }

    public func list(_ query: JobListQuery) throws -> JobPage {
        try wrap {
            try pool.read { db in
                var conditions: [String] = []
                var args: [(any DatabaseValueConvertible)?] = []
                if let state = query.state { conditions.append("state = ?"); args.append(state.rawValue) }
                if let cursor = query.cursor { conditions.append("id < ?"); args.append(cursor.rawValue) }
                let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
                // One extra row tells whether another page follows.
                args.append(query.limit + 1)
                let rows = try Row.fetchAll(db, sql: "SELECT * FROM jobs \(filter) ORDER BY id DESC LIMIT ?",
                                            arguments: StatementArguments(args))
                var jobs = try rows.map(Self.job(from:))
                var next: String?
                if jobs.count > query.limit {
                    jobs.removeLast()
                    next = jobs.last?.id.rawValue
                }
                return JobPage(jobs: jobs, nextCursor: next)
            }
        }
    }

    public func update<A>(_ id: JobID, now: Date, _ transition: (inout JobStateMachine) throws -> A) throws -> (job: Job, action: A) {
        try wrap {
            try pool.write { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id.rawValue]) else {
                    throw JobError.notFound(id.rawValue)
                }
                return try Self.apply(transition, to: row, now: now, db)
            }
        }
    }

    public func claimNext<A>(now: Date, _ transition: (inout JobStateMachine) throws -> A) throws -> (job: Job, action: A)? {
        try wrap {
            try pool.write { db in
                guard let row = try Row.fetchOne(
                    db, sql: "SELECT * FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1") else { return nil }
                return try Self.apply(transition, to: row, now: now, db)
            }
        }
    }

    public func ids(in state: JobState) throws -> [JobID] {
        try wrap {
            try pool.read { db in
                try String.fetchAll(db, sql: "SELECT id FROM jobs WHERE state = ? ORDER BY id", arguments: [state.rawValue])
                    .compactMap(JobID.init)
            }
        }
    }

    public func events(_ id: JobID, after: Int64, limit: Int) throws -> [JobEventRecord] {
        try wrap {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                                 arguments: [id.rawValue, after, max(1, limit)])
                    .map(Self.eventRecord(from:))
            }
        }
    }

    public func pruneProgressEvents(finishedBefore date: Date) throws -> Int {
        try wrap {
            try pool.write { db in
                try db.execute(sql: """
                    DELETE FROM job_events WHERE kind = 'progress' AND job_id IN (
                        SELECT id FROM jobs
                        WHERE state IN ('succeeded', 'failed', 'cancelled') AND finished_at < ?)
                    """, arguments: [date.timeIntervalSinceReferenceDate])
                return db.changesCount
            }
        }
    }

    // MARK: - Helpers

    private static let placeholders = Array(repeating: "?", count: 29).joined(separator: ", ")

    private static func apply<A>(_ transition: (inout JobStateMachine) throws -> A, to row: Row, now: Date,
                                 _ db: Database) throws -> (job: Job, action: A) {
        var machine = JobStateMachine(try job(from: row))
        let action = try transition(&machine)
        let assignments = jobColumns.split(separator: ",").map { "\($0.trimmingCharacters(in: .whitespacesAndNewlines)) = ?" }
        var args = try arguments(machine.job)
        args += [machine.job.id.rawValue]
        try db.execute(sql: "UPDATE jobs SET \(assignments.joined(separator: ", ")) WHERE id = ?", arguments: args)
        try append(machine.events, to: machine.job.id, after: try Self.column(row, "last_event_seq", in: "job \(machine.job.id)"), now: now, db)
        return (machine.job, action)
    }

    private static func append(_ events: [JobEvent], to id: JobID, after last: Int64, now: Date, _ db: Database) throws {
        guard !events.isEmpty else { return }
        var seq = last
        for event in events {
            seq += 1
            let data = String(decoding: try JobJSON.encoder.encode(event), as: UTF8.self)
            try db.execute(sql: "INSERT INTO job_events (job_id, seq, time, kind, data) VALUES (?, ?, ?, ?, ?)",
                           arguments: [id.rawValue, seq, now.timeIntervalSinceReferenceDate, event.kind.rawValue, data])
        }
        try db.execute(sql: "UPDATE jobs SET last_event_seq = ? WHERE id = ?", arguments: [seq, id.rawValue])
    }

    /// Passes job errors and transition errors through; anything else from
    /// SQLite becomes `JobError.storage`.
    private func wrap<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as JobError {
            throw error
        } catch let error as JobTransitionError {
            throw error
        } catch let error as DatabaseError {
            throw JobError.storage("\(path): \(error.message ?? error.description)")
        }
    }
}
