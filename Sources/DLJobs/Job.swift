import DLNN
import DLTrain
import Foundation

/// Where a job is in its life.
///
///     queued --start--> running --succeed--> succeeded
///       |                 |  |----fail----> failed
///       |                 |  `--cancelled-> cancelled   (after a cancel request)
///       |                 `--requeue------> queued      (daemon restarted or stopped)
///       `--cancel--> cancelled
public enum JobState: String, Codable, Sendable, CaseIterable {
    case queued, running, succeeded, failed, cancelled

    /// Succeeded, failed and cancelled jobs never change again.
    public var isTerminal: Bool {
        switch self {
        case .queued, .running: return false
        case .succeeded, .failed, .cancelled: return true
        }
    }
}

/// How far a job is: `batch` of `totalBatches` batches of epoch `epoch` (1-based)
/// are done; "epoch 3, batch 844 of 844" means epoch 3 is complete. Epoch 0
/// means training has not started. `loss` and `accuracy` are running values
/// over the current epoch, as the progress bar of `dlserve train` shows them.
public struct JobProgress: Codable, Equatable, Sendable {
    public var epoch: Int
    public var totalEpochs: Int
    public var batch: Int
    public var totalBatches: Int
    public var loss: Double?
    public var accuracy: Double?
    public var imagesPerSecond: Double?
    /// Sequence models (translation): source plus target tokens per second.
    public var tokensPerSecond: Double?

    public init(epoch: Int = 0, totalEpochs: Int = 0, batch: Int = 0, totalBatches: Int = 0,
                loss: Double? = nil, accuracy: Double? = nil, imagesPerSecond: Double? = nil, tokensPerSecond: Double? = nil) {
        self.epoch = epoch
        self.totalEpochs = totalEpochs
        self.batch = batch
        self.totalBatches = totalBatches
        self.loss = loss
        self.accuracy = accuracy
        self.imagesPerSecond = imagesPerSecond
        self.tokensPerSecond = tokensPerSecond
    }

    enum CodingKeys: String, CodingKey {
        case epoch, batch, loss, accuracy
        case tokensPerSecond = "tokens_per_second"
        case totalEpochs = "total_epochs"
        case totalBatches = "total_batches"
        case imagesPerSecond = "images_per_second"
    }
}

/// The model version a successful job wrote, and whether serving switched to it.
public struct JobResult: Codable, Equatable, Sendable {
    public var model: String
    public var version: Int
    public var promoted: Bool
    /// Why promotion failed, if it was asked for and failed (the version is
    /// published regardless).
    public var promoteError: String?

    public init(model: String, version: Int, promoted: Bool = false, promoteError: String? = nil) {
        self.model = model
        self.version = version
        self.promoted = promoted
        self.promoteError = promoteError
    }

    enum CodingKeys: String, CodingKey {
        case model, version, promoted
        case promoteError = "promote_error"
    }
}

/// Wall-clock facts about a job. `runSeconds` adds up every attempt, so a job
/// resumed after a restart reports the training time it really used.
public struct JobTimings: Codable, Equatable, Sendable {
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var updatedAt: Date
    /// Start of the current attempt while running.
    public var runningSince: Date?
    public var runSeconds: Double

    public init(createdAt: Date) {
        self.createdAt = createdAt
        self.updatedAt = createdAt
        self.runSeconds = 0
    }

    enum CodingKeys: String, CodingKey {
        case createdAt = "created_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case updatedAt = "updated_at"
        case runningSince = "running_since"
        case runSeconds = "run_seconds"
    }
}

/// A training job: the recipe it runs and everything known about its run.
public struct Job: Codable, Equatable, Sendable {
    public var id: JobID
    public var state: JobState
    /// The model name the recipe writes to.
    public var model: String
    /// The recipe as submitted (JSON text).
    public var recipe: String
    /// Serve the new version as soon as it is published.
    public var promote: Bool
    public var progress: JobProgress
    /// One entry per completed epoch, in order (train and dev loss and
    /// accuracy, learning rate, speed: `DLTrain.EpochMetrics`).
    public var metrics: [EpochMetrics]
    public var timings: JobTimings
    /// How many times the job was started (more than 1 after a resume).
    public var attempts: Int
    /// How many times it was found running at start-up (the daemon had died).
    public var recoveries: Int
    /// The last epoch saved in the job's checkpoint (0: none yet).
    public var checkpointEpoch: Int
    public var cancelRequested: Bool
    public var result: JobResult?
    public var error: String?

    public init(id: JobID, model: String, recipe: String, promote: Bool, totalEpochs: Int, createdAt: Date) {
        self.id = id
        self.state = .queued
        self.model = model
        self.recipe = recipe
        self.promote = promote
        self.progress = JobProgress(totalEpochs: totalEpochs)
        self.metrics = []
        self.timings = JobTimings(createdAt: createdAt)
        self.attempts = 0
        self.recoveries = 0
        self.checkpointEpoch = 0
        self.cancelRequested = false
    }

    enum CodingKeys: String, CodingKey {
        case id, state, model, recipe, promote, progress, metrics, timings, attempts, recoveries, result, error, links
        case checkpointEpoch = "checkpoint_epoch"
        case cancelRequested = "cancel_requested"
    }
}

/// The API's JSON form of a job: the recipe as a JSON object (not a string)
/// and links to its events and curves.
extension Job {
    public struct Links: Codable, Equatable, Sendable {
        public var `self`: String
        public var events: String
        public var curves: String
    }

    /// Where the job lives in the HTTP API.
    public var links: Links {
        let base = "/v1/jobs/\(id)"
        return Links(self: base, events: base + "/events", curves: base + "/curves.svg")
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(state, forKey: .state)
        try c.encode(model, forKey: .model)
        if let object = try? JSONDecoder().decode(JSONValue.self, from: Data(recipe.utf8)) {
            try c.encode(object, forKey: .recipe)
        } else {
            try c.encode(recipe, forKey: .recipe)
        }
        try c.encode(promote, forKey: .promote)
        try c.encode(progress, forKey: .progress)
        try c.encode(metrics, forKey: .metrics)
        try c.encode(timings, forKey: .timings)
        try c.encode(attempts, forKey: .attempts)
        try c.encode(recoveries, forKey: .recoveries)
        try c.encode(checkpointEpoch, forKey: .checkpointEpoch)
        try c.encode(cancelRequested, forKey: .cancelRequested)
        try c.encodeIfPresent(result, forKey: .result)
        try c.encodeIfPresent(error, forKey: .error)
        try c.encode(links, forKey: .links)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(JobID.self, forKey: .id)
        state = try c.decode(JobState.self, forKey: .state)
        model = try c.decode(String.self, forKey: .model)
        if let text = try? c.decode(String.self, forKey: .recipe) {
            recipe = text
        } else {
            let object = try c.decode(JSONValue.self, forKey: .recipe)
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            recipe = String(decoding: try e.encode(object), as: UTF8.self)
        }
        promote = try c.decode(Bool.self, forKey: .promote)
        progress = try c.decode(JobProgress.self, forKey: .progress)
        metrics = try c.decode([EpochMetrics].self, forKey: .metrics)
        timings = try c.decode(JobTimings.self, forKey: .timings)
        attempts = try c.decode(Int.self, forKey: .attempts)
        recoveries = try c.decodeIfPresent(Int.self, forKey: .recoveries) ?? 0
        checkpointEpoch = try c.decode(Int.self, forKey: .checkpointEpoch)
        cancelRequested = try c.decode(Bool.self, forKey: .cancelRequested)
        result = try c.decodeIfPresent(JobResult.self, forKey: .result)
        error = try c.decodeIfPresent(String.self, forKey: .error)
    }
}
