import Foundation

/// Errors a client, a recipe or the store can cause. The HTTP layer maps each
/// case to a status code in one place (`invalidRecipe` 400, `notFound` 404,
/// `queueFull` 429, `JobTransitionError` 409, `unavailable` 503, `storage` 500).
public enum JobError: Error, Equatable, CustomStringConvertible {
    /// No job has this id.
    case notFound(String)
    /// The queue already holds `capacity` queued jobs.
    case queueFull(capacity: Int)
    /// The recipe is not acceptable; the message names the field
    /// ("optimizer.lr must be > 0", "unknown field 'optimizer.learning_rate'").
    case invalidRecipe(String)
    /// The queue is stopping and accepts nothing new.
    case unavailable(String)
    /// The job store failed (disk full, corrupt database, ...).
    case storage(String)

    public var description: String {
        switch self {
        case .notFound(let id): return "no job with id '\(id)'"
        case .queueFull(let capacity): return "the job queue is full (\(capacity) jobs waiting); retry later"
        case .invalidRecipe(let message): return "invalid recipe: \(message)"
        case .unavailable(let m): return "job queue unavailable: \(m)"
        case .storage(let m): return "job store error: \(m)"
        }
    }

    /// A stable machine-readable code for the `{"error", "code"}` body.
    public var code: String {
        switch self {
        case .notFound: return "job_not_found"
        case .queueFull: return "job_queue_full"
        case .invalidRecipe: return "invalid_recipe"
        case .unavailable: return "unavailable"
        case .storage: return "storage_error"
        }
    }
}
