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

    static func job(from row: Row) throws -> Job {
        let idText: String = row["id"]
        guard let id = JobID(idText) else { throw JobError.storage("corrupt job id '\(idText)'") }
        let stateText: String = row["state"]
        guard let state = JobState(rawValue: stateText) else {
            throw JobError.storage("job \(idText) has unknown state '\(stateText)'")
        }
        func date(_ column: String) -> Date? {
            (row[column] as Double?).map { Date(timeIntervalSinceReferenceDate: $0) }
        }
        var job = Job(id: id, model: row["model"], recipe: row["recipe"], promote: row["promote"],
                      totalEpochs: row["total_epochs"], createdAt: date("created_at")!)
        job.state = state
        job.progress = JobProgress(epoch: row["epoch"], totalEpochs: row["total_epochs"],
                                   batch: row["batch"], totalBatches: row["total_batches"], loss: row["loss"],
                                   accuracy: row["accuracy"], imagesPerSecond: row["images_per_second"],
                                   tokensPerSecond: row["tokens_per_second"])
        do {
            job.metrics = try JobJSON.decoder.decode([EpochMetrics].self, from: Data((row["metrics"] as String).utf8))
        } catch {
            throw JobError.storage("job \(idText) has corrupt metrics: \(error)")
        }
        job.timings.startedAt = date("started_at")
        job.timings.finishedAt = date("finished_at")
        job.timings.updatedAt = date("updated_at")!
        job.timings.runningSince = date("running_since")
        job.timings.runSeconds = row["run_seconds"]
        job.attempts = row["attempts"]
        job.recoveries = row["recoveries"]
        job.checkpointEpoch = row["checkpoint_epoch"]
        job.cancelRequested = row["cancel_requested"]
        if let model: String = row["result_model"], let version: Int = row["result_version"] {
            job.result = JobResult(model: model, version: version, promoted: row["result_promoted"] ?? false,
                                   promoteError: row["result_promote_error"])
        }
        job.error = row["error"]
        return job
    }

    static func eventRecord(from row: Row) throws -> JobEventRecord {
        let idText: String = row["job_id"]
        guard let id = JobID(idText) else { throw JobError.storage("corrupt job id '\(idText)' in job_events") }
        let event: JobEvent
        do {
            event = try JobJSON.decoder.decode(JobEvent.self, from: Data((row["data"] as String).utf8))
        } catch {
            throw JobError.storage("corrupt event \(row["seq"] as Int64) of job \(idText): \(error)")
        }
        return JobEventRecord(jobID: id, seq: row["seq"], time: Date(timeIntervalSinceReferenceDate: row["time"]), event: event)
    }
}
