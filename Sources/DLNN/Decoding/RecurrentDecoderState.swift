import DLTensor

/// The encoder's outputs for one batch of sources, computed once in
/// `RecurrentStepper.start`: per `additive_attention` on the decoder path,
/// its memory [sources, S, Dk], the keys projected once (U_a h_j + b)
/// [sources, S, A], and the memory mask [sources, S] (nil when it has none).
final class AttentionMemories: @unchecked Sendable {
    let memories: [Tensor]
    let projectedKeys: [Tensor]
    let masks: [Tensor?]

    init(memories: [Tensor], projectedKeys: [Tensor], masks: [Tensor?]) {
        (self.memories, self.projectedKeys, self.masks) = (memories, projectedKeys, masks)
    }
}

/// The state of `RecurrentStepper`, one row per hypothesis: the row's source
/// (an index into the encoded batch) and, per decoder recurrent layer, the
/// hidden (and LSTM cell) state after the tokens fed so far. A step reads
/// nothing of the prefix but this: the carried state of Bahdanau et al.
/// (2015) and Luong et al. (2015).
public struct RecurrentDecoderState: DecoderState, @unchecked Sendable {
    let encoded: AttentionMemories
    /// Row -> index of its source in `encoded`.
    let sourceRows: [Int]
    /// Per decoder recurrent layer (in graph order), every row's state.
    public let carries: [RecurrentCarry]
    /// Tokens fed so far (the position of the next one).
    public let length: Int

    public var rowCount: Int { sourceRows.count }

    public func selecting(rows: [Int]) -> RecurrentDecoderState {
        RecurrentDecoderState(encoded: encoded, sourceRows: rows.map { sourceRows[$0] },
                              carries: carries.map { $0.selecting(rows: rows) }, length: length)
    }
}
