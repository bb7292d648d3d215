import DLTensor

/// What an incremental decoder carries from one step to the next, one row per
/// hypothesis: cached keys and values for a transformer (candle's and
/// mlx-examples' `KVCache`), the hidden (and cell) state plus the encoder
/// memory for an RNN encoder-decoder with attention.
///
/// Rows are the unit of batching. A row is one hypothesis of one source; the
/// rows of several hypotheses of several sources (and, in the server, of
/// several requests) sit side by side in one state, so one `step` advances
/// all of them with one batched forward.
public protocol DecoderState {
    /// Number of rows (hypotheses) this state holds.
    var rowCount: Int { get }

    /// The state whose row `i` is row `rows[i]` of this one. Rows may repeat
    /// (a hypothesis that forks into two beams) or be left out (a hypothesis
    /// that was pruned, or a source that finished); every index is in
    /// `0..<rowCount`. The cached prefix is copied (or shared), never
    /// recomputed.
    func selecting(rows: [Int]) -> Self
}

/// A state whose rows can join the rows of another state: what lets a
/// serving scheduler add a request that started later to the batch of
/// requests already decoding (their rows have fed different numbers of
/// tokens; each keeps its own position).
public protocol ConcatenableDecoderState: DecoderState {
    /// The rows of `states[0]`, then those of `states[1]`, ..., in order;
    /// each row decodes on exactly as it would in its own state. Parts no
    /// row refers to any more (sources of finished requests) are dropped, so
    /// concatenating one state compacts it.
    static func concatenating(_ states: [Self]) -> Self
}

/// A model that produces the next-token distribution one token at a time,
/// without recomputing the prefix: the decoding library (greedy, beam search,
/// error analysis) drives any model through this interface, the transformer
/// and the RNN encoder-decoder alike.
///
/// ## Contract
/// - `start(sources)` encodes the sources (one batched encoder pass) and
///   returns a state with one row per source, in order, holding no target
///   token yet.
/// - `step(state, keeping: rows, lastTokens: tokens)` first selects
///   `state.selecting(rows: rows)` (the model may fuse that gather into its
///   step), then feeds `tokens[i]` to new row `i` and returns, for every new
///   row, the log-probabilities of the next token, a `[rows.count, V]`
///   tensor (`V == vocabularySize`), and the advanced state. `rows.count`
///   equals `tokens.count` and may be smaller or larger than
///   `state.rowCount`. The first step of every row feeds the start token.
/// - A step sees only the new token of each row: whatever the model needs of
///   the prefix must be in the state. The library never replays a prefix.
/// - Rows are independent: a row's output depends only on its own source and
///   its own fed tokens, never on which other rows share the batch or where
///   it sits. This is what lets the serving layer put the beams of
///   concurrent requests into one batch, and what makes a batch of sources
///   decode exactly as each one alone (a test holds that).
/// - Log-probabilities are natural logs, each row a normalised distribution;
///   `-infinity` marks an impossible token and is never chosen.
///
/// ## Several requests in one batch
/// The searches (`BeamSearch`, `GreedySearch`) are values that say which rows
/// of the previous state their next rows continue (`parents`, local indices)
/// and which tokens to feed (`tokens`), and take back their own slice of the
/// log-probability rows. The driver (`decode`) lays the searches' rows end to
/// end and offsets each search's parents by where its rows begin; a serving
/// scheduler does the same across requests, dropping the rows of a request
/// that finished or was cancelled by leaving them out of `keeping`. Joining
/// a request that started later needs the model to concatenate two states;
/// that belongs to the model's state type (`ConcatenableDecoderState`), not
/// to this protocol.
public protocol IncrementalDecoder {
    /// What one source is: token ids, or already-encoded features.
    associatedtype Source
    associatedtype State: DecoderState

    /// V: the width of every log-probability row.
    var vocabularySize: Int { get }

    /// Encodes `sources`; the state has `sources.count` rows.
    func start(_ sources: [Source]) throws -> State

    /// One decoding step for `rows.count` rows; see the contract above.
    /// Returns log-probabilities `[rows.count, V]` and the advanced state.
    func step(_ state: State, keeping rows: [Int], lastTokens: [Int]) throws
        -> (logProbabilities: Tensor, state: State)
}
