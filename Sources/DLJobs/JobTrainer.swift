import DLNN
import DLTrain
import Foundation

/// What the queue learns from a recipe before accepting it.
public struct JobPlan: Equatable, Sendable {
    /// The model name the job publishes to.
    public var model: String
    public var epochs: Int
    /// Serve the new version once published.
    public var promote: Bool

    public init(model: String, epochs: Int, promote: Bool) {
        self.model = model
        self.epochs = epochs
        self.promote = promote
    }
}

/// A trained model, ready to be published as a version.
public struct TrainedModel {
    /// Writes the version's model files (model.json, weights.safetensors) into a directory.
    public var save: (URL) throws -> Void
    /// The version's metrics.json: a JSON object (history, evaluation).
    public var metrics: Data
    /// The model's config.json, written when the repository has none yet (a new model).
    public var config: ModelConfig?

    public init(save: @escaping (URL) throws -> Void, metrics: Data, config: ModelConfig?) {
        self.save = save
        self.metrics = metrics
        self.config = config
    }
}

/// Trains recipes for the queue. `RecipeTrainer` is the real one; tests use
/// fast fakes.
public protocol JobTrainer: Sendable {
    /// Checks a recipe completely (fields, dataset, architecture, shapes,
    /// limits) without training. Throws `JobError.invalidRecipe` naming the field.
    func plan(recipe: Data, limits: JobLimits) throws -> JobPlan

    /// Trains on the calling thread (a job worker thread), reporting through
    /// `run`, polling `run.shouldStop()` before every batch, saving a
    /// checkpoint to `run.checkpointURL` after every epoch before calling
    /// `run.epochFinished`, and resuming from that checkpoint when
    /// `run.resumeFromEpoch > 0`. Throws when stopped, when training diverges
    /// or anything else fails.
    func train(_ run: JobRun) throws -> TrainedModel
}

/// One attempt at running a job: what the trainer needs to know and the
/// hooks through which it reports. Made by the queue for each start.
public final class JobRun: @unchecked Sendable {
    public let jobID: JobID
    /// The recipe as submitted.
    public let recipe: Data
    /// The job's own directory under the state directory (STATE/jobs/ID/).
    public let directory: URL
    /// Epoch of the checkpoint to resume from (0: start from scratch).
    public let resumeFromEpoch: Int
    /// OpenBLAS threads to train with (process-wide; see `JobQueueConfiguration.blasThreads`).
    public let blasThreads: Int
    /// Operator limits the recipe was checked against.
    public let limits: JobLimits

    struct Hooks {
        var shouldStop: () -> Bool
        var restored: ([EpochMetrics]) throws -> Void
        var batch: (BatchProgress) -> Void
        var epoch: (EpochMetrics) throws -> Void
    }

    let hooks: Hooks

    init(jobID: JobID, recipe: Data, directory: URL, resumeFromEpoch: Int, blasThreads: Int, limits: JobLimits,
         hooks: Hooks) {
        self.jobID = jobID
        self.recipe = recipe
        self.directory = directory
        self.resumeFromEpoch = resumeFromEpoch
        self.blasThreads = blasThreads
        self.limits = limits
        self.hooks = hooks
    }

    /// STATE/jobs/ID/checkpoint.safetensors: the `TrainingCheckpoint` of the last finished epoch.
    public var checkpointURL: URL { directory.appendingPathComponent("checkpoint.safetensors") }

    /// True once the job is cancelled or the daemon is stopping: stop before the next batch.
    public func shouldStop() -> Bool { hooks.shouldStop() }

    /// After resuming: the epochs the checkpoint holds.
    public func restored(history: [EpochMetrics]) throws { try hooks.restored(history) }

    /// After every batch (the queue stores progress at most a few times a second).
    public func batchFinished(_ progress: BatchProgress) { hooks.batch(progress) }

    /// After every epoch, once its checkpoint is saved.
    public func epochFinished(_ metrics: EpochMetrics) throws { try hooks.epoch(metrics) }
}
