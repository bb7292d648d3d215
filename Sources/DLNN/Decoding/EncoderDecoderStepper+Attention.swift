import DLTensor

extension EncoderDecoderStepper {
    /// The alignment of one translation: for each target token, the
    /// cross-attention weights of the last decoder layer (heads averaged)
    /// over the source tokens, when the model predicted that token under
    /// teacher forcing (fed `startToken`, then the target's earlier tokens).
    /// [target.count][source.count]; each row sums to 1. `checkpoint` runs
    /// before every step, as in `decode`.
    public func crossAttention(source: [Int], target: [Int], startToken: Int,
                               checkpoint: () throws -> Void = {}) throws -> [[Float]] {
        try teacherForcedAttention(start: try start([source]), source: source, target: target, startToken: startToken,
                                   checkpoint: checkpoint) { state, fed in
            let out = try stepWithAttention(state, keeping: [0], lastTokens: [fed])
            return (out.crossAttention, out.state)
        }
    }
}

/// Feeds `startToken`, then each target token but the last, one step at a
/// time from `start`, and collects the first `source.count` attention
/// weights of each step (`step` returns them with the next state).
func teacherForcedAttention<State>(
    start: State, source: [Int], target: [Int], startToken: Int, checkpoint: () throws -> Void,
    step: (State, Int) throws -> (weights: Tensor, state: State)
) throws -> [[Float]] {
    var state = start
    var rows: [[Float]] = []
    for t in target.indices {
        try checkpoint()
        let out = try step(state, t == 0 ? startToken : target[t - 1])
        rows.append(Array(out.weights.data.prefix(source.count)))
        state = out.state
    }
    return rows
}
