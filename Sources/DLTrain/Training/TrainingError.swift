/// Errors a recipe, a dataset, a checkpoint or a diverging run can cause.
/// Thrown, never a crash; the CLI prints them and the job queue stores them.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// A recipe field is invalid; the message names the field ("optimizer.lr must be > 0").
    case invalidRecipe(String)
    /// A dataset is missing or malformed.
    case dataset(String)
    /// A training checkpoint is missing, malformed or does not match the run.
    case checkpoint(String)
    /// The loss became NaN or infinite.
    case diverged(epoch: Int, batch: Int, loss: Float)
    /// The run was cancelled by its caller.
    case cancelled

    public var description: String {
        switch self {
        case .invalidRecipe(let m): return "invalid recipe: \(m)"
        case .dataset(let m): return "dataset error: \(m)"
        case .checkpoint(let m): return "training checkpoint error: \(m)"
        case .diverged(let e, let b, let l):
            return "training diverged: loss is \(l) at epoch \(e + 1), batch \(b + 1) (lower the learning rate or enable gradient clipping)"
        case .cancelled: return "training was cancelled"
        }
    }
}
