import DLTrain
import Foundation

/// Per-job bounds set by the operator (epochs, training images, batch size,
/// parameters, layers); a recipe beyond them is refused with 400 naming the field.
public typealias JobLimits = RecipeLimits

/// How the job queue runs.
public struct JobQueueConfiguration: Sendable {
    /// Holds STATE/jobs/jobs.sqlite, STATE/jobs/ID/ (checkpoints) and
    /// STATE/datasets/ (dataset directories an operator placed there).
    public var stateDirectory: URL
    /// Queued (not yet running) jobs at most; one more is refused with `queueFull` (HTTP 429).
    public var capacity: Int
    /// Jobs that train at once, each on its own thread.
    public var concurrency: Int
    public var limits: JobLimits
    /// OpenBLAS threads while training. OpenBLAS's count is process-wide, so
    /// this is also what inference gets while a job runs: 1 keeps training to
    /// one core and leaves the others to the inference workers.
    public var blasThreads: Int
    /// Nice value of the training threads (0...19): the kernel schedules
    /// inference threads first, so serving latency holds while a job trains.
    /// The daemon uses 19 (`make bench-jobs`: at nice 0 a training job raised
    /// classify p99 at concurrency 16 by about 60%, at 19 by about 20%).
    public var niceness: Int32
    /// Progress is stored (and sent as an event) at most this often, in seconds,
    /// plus at the end of every epoch.
    public var progressInterval: TimeInterval
    /// A job found running at start-up (the daemon died) is resumed at most
    /// this many times; then it fails, so a job that crashes the daemon cannot
    /// crash it forever.
    public var maxRecoveries: Int
    /// Progress events of finished jobs are deleted after this many seconds
    /// (state and epoch events are kept), so the store does not grow by
    /// thousands of rows per training hour forever.
    public var progressRetention: TimeInterval

    public init(stateDirectory: URL, capacity: Int = 16, concurrency: Int = 1, limits: JobLimits = JobLimits(),
                blasThreads: Int = 1, niceness: Int32 = 19, progressInterval: TimeInterval = 0.5, maxRecoveries: Int = 3,
                progressRetention: TimeInterval = 86_400) {
        precondition(capacity >= 1 && concurrency >= 1, "JobQueueConfiguration: capacity \(capacity), concurrency \(concurrency)")
        self.stateDirectory = stateDirectory
        self.capacity = capacity
        self.concurrency = concurrency
        self.limits = limits
        self.blasThreads = blasThreads
        self.niceness = niceness
        self.progressInterval = progressInterval
        self.maxRecoveries = maxRecoveries
        self.progressRetention = progressRetention
    }

    /// STATE/jobs/ID/
    public func directory(of id: JobID) -> URL {
        stateDirectory.appendingPathComponent("jobs", isDirectory: true).appendingPathComponent(id.rawValue, isDirectory: true)
    }

    /// STATE/datasets/: dataset directories that jobs may name.
    public var datasetsDirectory: URL { stateDirectory.appendingPathComponent("datasets", isDirectory: true) }
}
