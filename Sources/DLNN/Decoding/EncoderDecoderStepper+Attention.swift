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
        var state = try start([source])
        var rows: [[Float]] = []
        for (t, _) in target.enumerated() {
            try checkpoint()
            let fed = t == 0 ? startToken : target[t - 1]
            let out = try stepWithAttention(state, keeping: [0], lastTokens: [fed])
            rows.append(Array(out.crossAttention.data.prefix(source.count)))
            state = out.state
        }
        return rows
    }
}
