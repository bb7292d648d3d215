import Foundation

/// A page of a job listing, newest first. `nextCursor` is nil on the last page.
public struct JobPage: Codable, Equatable, Sendable {
    public var jobs: [Job]
    public var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case jobs
        case nextCursor = "next_cursor"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(jobs, forKey: .jobs)
        try c.encode(nextCursor, forKey: .nextCursor)  // null on the last page, not absent
    }

    public init(jobs: [Job], nextCursor: String?) {
        self.jobs = jobs
        self.nextCursor = nextCursor
    }
}

/// Which jobs to list: optionally one state, at most `limit`, older than
/// the job whose id is `cursor` (the previous page's `nextCursor`).
public struct JobListQuery: Equatable, Sendable {
    public var state: JobState?
    public var limit: Int
    public var cursor: JobID?

    public static let maxLimit = 500

    public init(state: JobState? = nil, limit: Int = 50, cursor: JobID? = nil) {
        self.state = state
        self.limit = min(max(1, limit), Self.maxLimit)
        self.cursor = cursor
    }
}

/// Durable storage of jobs and their event logs.
///
/// Every change goes through `update` or `claimNext`, which apply a
/// transition of `JobStateMachine` and write the job together with the events
/// it produced atomically (one transaction), so a crash never leaves a job
/// half-changed and event sequence numbers never skip or repeat.
///
/// The SQLite store is the embedded default; a store on PostgreSQL (jobs
/// shared by several daemons) implements `claimNext` with
/// `SELECT ... FOR UPDATE SKIP LOCKED`.
public protocol JobStore: Sendable {
    /// Inserts a new queued job (with its first event), unless `queueCapacity`
    /// jobs are already queued: then throws `JobError.queueFull`.
    func insert(_ job: Job, queueCapacity: Int, now: Date) throws

    /// The job with this id, if any.
    func job(_ id: JobID) throws -> Job?

    /// Jobs newest first, filtered and paged.
    func list(_ query: JobListQuery) throws -> JobPage

    /// Applies `transition` to the stored job and saves the result with the
    /// events it emitted, in one transaction. Throws `JobError.notFound`, or
    /// whatever `transition` throws (nothing is written then).
    @discardableResult
    func update<A>(_ id: JobID, now: Date, _ transition: (inout JobStateMachine) throws -> A) throws -> (job: Job, action: A)

    /// Takes the oldest queued job and applies `transition` (normally
    /// `start`) atomically; nil when none is queued.
    func claimNext<A>(now: Date, _ transition: (inout JobStateMachine) throws -> A) throws -> (job: Job, action: A)?

    /// Ids of the jobs in `state`, oldest first.
    func ids(in state: JobState) throws -> [JobID]

    /// Events of a job with `seq > after`, in order, at most `limit`.
    func events(_ id: JobID, after: Int64, limit: Int) throws -> [JobEventRecord]

    /// Deletes the progress events of jobs that finished before `date` (their
    /// state and epoch events stay, so a replay still tells the whole story);
    /// returns how many were deleted.
    @discardableResult
    func pruneProgressEvents(finishedBefore date: Date) throws -> Int
}
