import DLTrain
import Foundation
import GRDB

/// Schema and row mapping of the SQLite job store.
///
/// Times are REAL seconds since 2001-01-01 UTC (Foundation's reference date,
/// so they round-trip exactly); in the sqlite3 shell,
/// `datetime(created_at + 978307200, 'unixepoch')` shows them.
extension SQLiteJobStore {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1: jobs and job_events") { db in
            try db.execute(sql: """
                CREATE TABLE jobs (
                    id TEXT PRIMARY KEY NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
                    model TEXT NOT NULL,
                    recipe TEXT NOT NULL,
                    promote INTEGER NOT NULL,
                    epoch INTEGER NOT NULL,
                    total_epochs INTEGER NOT NULL,
                    batch INTEGER NOT NULL,
                    total_batches INTEGER NOT NULL,
                    loss REAL,
                    accuracy REAL,
                    images_per_second REAL,
                    metrics TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    started_at REAL,
                    finished_at REAL,
                    updated_at REAL NOT NULL,
                    running_since REAL,
                    run_seconds REAL NOT NULL,
                    attempts INTEGER NOT NULL,
                    recoveries INTEGER NOT NULL,
                    checkpoint_epoch INTEGER NOT NULL,
                    cancel_requested INTEGER NOT NULL,
                    result_model TEXT,
                    result_version INTEGER,
                    result_promoted INTEGER,
                    result_promote_error TEXT,
                    error TEXT,
                    last_event_seq INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX jobs_by_state ON jobs(state, id);
                CREATE TABLE job_events (
                    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                    seq INTEGER NOT NULL,
                    time REAL NOT NULL,
                    kind TEXT NOT NULL,
                    data TEXT NOT NULL,
                    PRIMARY KEY (job_id, seq)
                ) WITHOUT ROWID;
                """)
        }
        m.registerMigration("v2: tokens_per_second") { db in
            try db.execute(sql: "ALTER TABLE jobs ADD COLUMN tokens_per_second REAL")
        }
        return m
    }

    static let jobColumns = """
        id, state, model, recipe, promote, epoch, total_epochs, batch, total_batches, loss, accuracy, images_per_second,
        tokens_per_second, metrics,
        created_at, started_at, finished_at, updated_at, running_since, run_seconds,
        attempts, recoveries, checkpoint_epoch, cancel_requested,
        result_model, result_version, result_promoted, result_promote_error, error
        """

    static func arguments(_ job: Job) throws -> StatementArguments {
        let metrics = String(decoding: try JobJSON.encoder.encode(job.metrics), as: UTF8.self)
        let t = job.timings
        let values: [(any DatabaseValueConvertible)?] = [
            job.id.rawValue, job.state.rawValue, job.model, job.recipe, job.promote,
            job.progress.epoch, job.progress.totalEpochs, job.progress.batch, job.progress.totalBatches,
            job.progress.loss, job.progress.accuracy, job.progress.imagesPerSecond, job.progress.tokensPerSecond, metrics,
            t.createdAt.timeIntervalSinceReferenceDate, t.startedAt?.timeIntervalSinceReferenceDate, t.finishedAt?.timeIntervalSinceReferenceDate,
            t.updatedAt.timeIntervalSinceReferenceDate, t.runningSince?.timeIntervalSinceReferenceDate, t.runSeconds,
            job.attempts, job.recoveries, job.checkpointEpoch, job.cancelRequested,
            job.result?.model, job.result?.version, job.result?.promoted, job.result?.promoteError, job.error,
        ]
        return StatementArguments(values)
    }

    /// A column's value; a value of the wrong type (a damaged or hand-edited
    /// file) is `JobError.storage`, not a crash.
    static func column<T: DatabaseValueConvertible>(_ row: Row, _ name: String, in what: @autoclosure () -> String) throws -> T {
        do {
            return try row.decode(T.self, forColumn: name)
        } catch {
            throw JobError.storage("\(what()) has a corrupt '\(name)': \(error)")
        }
    }

    static func job(from row: Row) throws -> Job {
        let idText: String = try column(row, "id", in: "a job row")
        guard let id = JobID(idText) else { throw JobError.storage("corrupt job id '\(idText)'") }
        func value<T: DatabaseValueConvertible>(_ name: String) throws -> T { try column(row, name, in: "job \(idText)") }
        let stateText: String = try value("state")
        guard let state = JobState(rawValue: stateText) else {
            throw JobError.storage("job \(idText) has unknown state '\(stateText)'")
        }
        func date(_ name: String) throws -> Date? {
            (try value(name) as Double?).map { Date(timeIntervalSinceReferenceDate: $0) }
        }
        func requiredDate(_ name: String) throws -> Date {
            guard let d = try date(name) else { throw JobError.storage("job \(idText) has no '\(name)'") }
            return d
        }
        var job = Job(id: id, model: try value("model"), recipe: try value("recipe"), promote: try value("promote"),
                      totalEpochs: try value("total_epochs"), createdAt: try requiredDate("created_at"))
        job.state = state
        job.progress = JobProgress(epoch: try value("epoch"), totalEpochs: try value("total_epochs"),
                                   batch: try value("batch"), totalBatches: try value("total_batches"), loss: try value("loss"),
                                   accuracy: try value("accuracy"), imagesPerSecond: try value("images_per_second"),
                                   tokensPerSecond: try value("tokens_per_second"))
        do {
            job.metrics = try JobJSON.decoder.decode([EpochMetrics].self, from: Data((try value("metrics") as String).utf8))
        } catch let e as JobError {
            throw e
        } catch {
            throw JobError.storage("job \(idText) has corrupt metrics: \(error)")
        }
        job.timings.startedAt = try date("started_at")
        job.timings.finishedAt = try date("finished_at")
        job.timings.updatedAt = try requiredDate("updated_at")
        job.timings.runningSince = try date("running_since")
        job.timings.runSeconds = try value("run_seconds")
        job.attempts = try value("attempts")
        job.recoveries = try value("recoveries")
        job.checkpointEpoch = try value("checkpoint_epoch")
        job.cancelRequested = try value("cancel_requested")
        if let model = try value("result_model") as String?, let version = try value("result_version") as Int? {
            job.result = JobResult(model: model, version: version, promoted: try value("result_promoted") as Bool? ?? false,
                                   promoteError: try value("result_promote_error"))
        }
        job.error = try value("error")
        return job
    }

    static func eventRecord(from row: Row) throws -> JobEventRecord {
        let idText: String = try column(row, "job_id", in: "a job event row")
        guard let id = JobID(idText) else { throw JobError.storage("corrupt job id '\(idText)' in job_events") }
        let seq: Int64 = try column(row, "seq", in: "an event of job \(idText)")
        let event: JobEvent
        do {
            event = try JobJSON.decoder.decode(JobEvent.self, from: Data((try column(row, "data", in: "event \(seq) of job \(idText)") as String).utf8))
        } catch let e as JobError {
            throw e
        } catch {
            throw JobError.storage("corrupt event \(seq) of job \(idText): \(error)")
        }
        let time: Double = try column(row, "time", in: "event \(seq) of job \(idText)")
        return JobEventRecord(jobID: id, seq: seq, time: Date(timeIntervalSinceReferenceDate: time), event: event)
    }
}
