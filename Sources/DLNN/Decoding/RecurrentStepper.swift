import DLTensor

/// Step-by-step decoding of an RNN encoder-decoder `GraphModel` with
/// attention (a model.json whose decoder path runs unidirectional `gru` /
/// `lstm` / `rnn` layers and `additive_attention` over encoder outputs, as
/// recipes/translate-en-es-rnn.json), without recomputing the prefix: the
/// decoder's recurrent state is carried from one step to the next.
///
/// - `start` pads the sources (with `names.sourcePadding`), runs the encoder
///   path once (e.g. a bidirectional GRU) and projects each attention's keys
///   once per source (`AdditiveAttention.projectKeys`).
/// - `step` runs the decoder path on the new token only: each recurrent
///   layer advances one position from its carried hidden (and cell) state,
///   each `additive_attention` attends with that one query over its
///   memory, positional encoding (if any) sits at the row's position, and
///   per-token layers (dense, concat along features, activations, ...) run
///   as usual; then log-softmax over the output's last axis.
///
/// The log-probabilities equal those of the full teacher-forced
/// `GraphModel.infer(inputs:)` at every position (up to float rounding).
/// Inference only: nothing is recorded for autodiff.
public final class RecurrentStepper: IncrementalDecoder, @unchecked Sendable {
    public typealias Source = [Int]
    public typealias State = RecurrentDecoderState

    public let model: GraphModel
    public let names: EncoderDecoderNames
    public let vocabularySize: Int
    let split: EncoderDecoderSplit
    /// Decoder-path node index -> ordinal among the recurrent layers.
    let recurrentOrdinal: [Int: Int]
    /// Decoder-path node index -> ordinal among the attentions.
    let attentionOrdinal: [Int: Int]
    /// Embeddings that read the source ids directly (to reject bad ids).
    let sourceEmbeddings: [Embedding]
    /// Positional encoding on the decoder path (placed at the state's `length`).
    public var hasPositionalEncoding: Bool { split.decoderNodes.contains { model.layers[$0] is PositionalEncoding } }

    /// Throws `IncrementalDecodingError` when the graph is not of the
    /// encoder-decoder form (see `EncoderDecoderSplit`) or its decoder path
    /// holds transformer decoder layers (`EncoderDecoderStepper` steps those).
    public init(model: GraphModel, names: EncoderDecoderNames = EncoderDecoderNames()) throws {
        self.model = model
        self.names = names
        split = try EncoderDecoderSplit(model, names: names)
        try split.require(.recurrent, model: model, stepper: "RecurrentStepper")
        vocabularySize = model.shapes[names.output]!.last!
        var recurrent: [Int: Int] = [:], attention: [Int: Int] = [:]
        for i in split.decoderNodes {
            if model.layers[i] is Recurrent { recurrent[i] = recurrent.count }
            if model.layers[i] is AdditiveAttention { attention[i] = attention.count }
        }
        (recurrentOrdinal, attentionOrdinal) = (recurrent, attention)
        sourceEmbeddings = EncoderDecoderSplit.sourceEmbeddings(model, names: names)
    }

    public func start(_ sources: [[Int]]) throws -> RecurrentDecoderState {
        let values = try split.encode(sources, model: model, names: names, embeddings: sourceEmbeddings)
        let n = sources.count
        return GradMode.withoutGrad {
            var memories: [Tensor] = [], keys: [Tensor] = [], masks: [Tensor?] = []
            for i in split.decoderNodes where attentionOrdinal[i] != nil {
                let l = model.order[i], attention = model.layers[i] as! AdditiveAttention
                let memory = values[l.inputs[1]]!
                memories.append(memory)
                keys.append(attention.projectKeys(memory))
                masks.append(l.inputs.count > 2 ? values[l.inputs[2]]! : nil)
            }
            let carries = split.decoderNodes.compactMap { i in
                (model.layers[i] as? Recurrent).map { RecurrentCarry(zeroFor: $0, rows: n) }
            }
            return RecurrentDecoderState(
                encoded: AttentionMemories(memories: memories, projectedKeys: keys, masks: masks),
                sourceRows: Array(0..<n), carries: carries, length: 0)
        }
    }

    public func step(_ state: RecurrentDecoderState, keeping rows: [Int], lastTokens: [Int]) throws
        -> (logProbabilities: Tensor, state: RecurrentDecoderState)
    {
        let out = try stepWithAttention(state, keeping: rows, lastTokens: lastTokens)
        return (out.logProbabilities, out.state)
    }

    /// `step`, also returning the attention weights [rows, S] of the last
    /// `additive_attention` on the decoder path (S = the batch's padded source length).
    public func stepWithAttention(_ state: RecurrentDecoderState, keeping rows: [Int], lastTokens: [Int]) throws
        -> (logProbabilities: Tensor, state: RecurrentDecoderState, attention: Tensor?)
    {
        precondition(rows.count == lastTokens.count, "RecurrentStepper.step: \(rows.count) rows, \(lastTokens.count) tokens")
        let current = state.selecting(rows: rows)
        let r = rows.count, v = vocabularySize
        guard r > 0 else {
            return (Tensor(shape: [0, v], data: []), RecurrentDecoderState(
                encoded: current.encoded, sourceRows: [], carries: current.carries, length: current.length + 1), nil)
        }
        return GradMode.withoutGrad {
            let ctx = ForwardContext.inference()
            var values: [String: Tensor] = [names.target: Tensor(shape: [r, 1], data: lastTokens.map(Float.init))]
            var carries = current.carries
            var weights: Tensor?
            let enc = current.encoded, sourceRows = current.sourceRows
            for i in split.decoderNodes {
                let l = model.order[i], layer = model.layers[i]
                if let j = recurrentOrdinal[i], let rnn = layer as? Recurrent {
                    let x = values[l.inputs[0]]!
                    let keep = l.inputs.count > 1 ? values[l.inputs[1]]!.data : [Float](repeating: 1, count: r)
                    let out = rnn.step(x.reshaped([r, rnn.inputSize]), keep: keep, carry: carries[j])
                    carries[j] = out.carry
                    values[l.name] = out.output.reshaped([r, 1, rnn.hiddenSize])
                } else if let j = attentionOrdinal[i], let attention = layer as? AdditiveAttention {
                    let query = values[l.inputs[0]]!.reshaped([r, attention.queryDim])
                    let out = attention.step(
                        state: query, memory: enc.memories[j].gatherBatch(sourceRows),
                        mask: enc.masks[j]?.gatherBatch(sourceRows),
                        projectedKeys: enc.projectedKeys[j].gatherBatch(sourceRows))
                    weights = out.weights
                    values[l.name] = out.context.reshaped([r, 1, attention.keyDim])
                } else if let pe = layer as? PositionalEncoding {
                    values[l.name] = pe(values[l.inputs[0]]!, offset: current.length, ctx)
                } else {
                    values[l.name] = layer(l.inputs.map { values[$0]! }, ctx)
                }
            }
            let logProbabilities = values[names.output]!.reshaped([r, v]).logSoftmax(axis: -1)
            return (logProbabilities, RecurrentDecoderState(encoded: enc, sourceRows: sourceRows, carries: carries,
                                                            length: current.length + 1), weights)
        }
    }
}

extension RecurrentStepper {
    /// The alignment of one translation, as `EncoderDecoderStepper.crossAttention`:
    /// for each target token, the last additive attention's weights over the
    /// source tokens when the model predicted it under teacher forcing.
    /// [target.count][source.count]; each row sums to 1.
    public func crossAttention(source: [Int], target: [Int], startToken: Int,
                               checkpoint: () throws -> Void = {}) throws -> [[Float]] {
        try teacherForcedAttention(start: try start([source]), source: source, target: target, startToken: startToken,
                                   checkpoint: checkpoint) { state, fed in
            let out = try stepWithAttention(state, keeping: [0], lastTokens: [fed])
            guard let weights = out.attention else {
                throw IncrementalDecodingError("cross-attention: the decoder path has no additive_attention")
            }
            return (weights, out.state)
        }
    }
}

extension GraphDecoder {
    /// The alignment of one translation by whichever family decodes.
    public func crossAttention(source: [Int], target: [Int], startToken: Int,
                               checkpoint: () throws -> Void = {}) throws -> [[Float]] {
        switch self {
        case .transformer(let d): return try d.crossAttention(source: source, target: target, startToken: startToken, checkpoint: checkpoint)
        case .recurrent(let d): return try d.crossAttention(source: source, target: target, startToken: startToken, checkpoint: checkpoint)
        }
    }
}
