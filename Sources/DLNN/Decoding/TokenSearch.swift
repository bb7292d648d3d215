/// One source's search as a value, with no model inside: it names the rows
/// it wants stepped, takes back their log-probabilities, and decides. The
/// driver (`decode`) or a serving scheduler owns the model and the batch.
///
/// Before each step, row `i` of the search's next rows continues row
/// `parents[i]` of its previous rows and is fed `tokens[i]`; the first step
/// has one previous row (the source's row from `start`), `parents == [0]`
/// and `tokens == [startToken]`. After the step, `advance` receives the
/// search's `parents.count` log-probability rows, row-major, V each.
public protocol TokenSearch {
    /// Rows of the previous step (local indices) that the next rows continue.
    var parents: [Int] { get }
    /// Token fed to each next row.
    var tokens: [Int] { get }
    /// True when the search needs no more steps (`parents` is empty).
    var isFinished: Bool { get }
    /// Steps taken so far.
    var steps: Int { get }
    /// Takes `parents.count * vocabularySize` log-probabilities, one row per
    /// requested row in order, and chooses the next rows (or finishes).
    mutating func advance(_ logProbabilities: ArraySlice<Float>, vocabularySize: Int)
    /// The finished hypotheses, best first.
    var result: DecodingResult { get }
}

extension TokenSearch {
    public var isFinished: Bool { parents.isEmpty }
}
