import DLTensor

/// Step-by-step decoding of an encoder-decoder `GraphModel` (a model.json
/// with a source and a target input, e.g. "src" and "tgt"), without
/// recomputing the prefix: the key/value cache of Vaswani et al. (2017) as
/// candle's and mlx-examples' `KVCache` keep it.
///
/// - `start` pads the sources (with `names.sourcePadding`), runs the encoder
///   path once and projects each decoder layer's memory into its
///   cross-attention keys and values.
/// - `step` runs the decoder path on the new token only: the target
///   embedding and mask, positional encoding at the row's position,
///   each `transformer_decoder_layer` attending over its cached keys and
///   values plus the new one, per-token layers as usual, then log-softmax
///   over the output's last axis.
///
/// The log-probabilities equal those of the full teacher-forced
/// `GraphModel.infer(inputs:)` at every position (up to float rounding).
/// Inference only: nothing is recorded for autodiff.
public final class EncoderDecoderStepper: IncrementalDecoder, @unchecked Sendable {
    public typealias Source = [Int]
    public typealias State = KVCacheState

    public let model: GraphModel
    public let names: EncoderDecoderNames
    public let vocabularySize: Int
    let split: EncoderDecoderSplit
    /// Node index in `model.order` -> ordinal of that decoder layer.
    let layerOrdinal: [Int: Int]
    /// Per decoder layer: the query rows of its cross-attention projection.
    let crossQuery: [(weight: Tensor, bias: Tensor?)]
    /// Embeddings that read the source ids directly (to reject bad ids).
    let sourceEmbeddings: [Embedding]

    /// Throws `IncrementalDecodingError` when the graph is not of the
    /// encoder-decoder form (see `EncoderDecoderSplit`).
    public init(model: GraphModel, names: EncoderDecoderNames = EncoderDecoderNames()) throws {
        self.model = model
        self.names = names
        split = try EncoderDecoderSplit(model, names: names)
        try split.require(.transformer, model: model, stepper: "EncoderDecoderStepper")
        vocabularySize = model.shapes[names.output]!.last!
        var ordinal: [Int: Int] = [:], query: [(weight: Tensor, bias: Tensor?)] = []
        for i in split.decoderNodes {
            guard let layer = model.layers[i] as? TransformerDecoderLayer else { continue }
            ordinal[i] = query.count
            let e = layer.options.dModel, a = layer.crossAttn
            query.append((a.inProjWeight.split(sizes: [e, 2 * e], axis: 0)[0],
                          a.inProjBias?.split(sizes: [e, 2 * e], axis: 0)[0]))
        }
        layerOrdinal = ordinal
        crossQuery = query
        sourceEmbeddings = EncoderDecoderSplit.sourceEmbeddings(model, names: names)
    }

    /// Rows of the embedding that reads the source ids (the source vocabulary).
    public var sourceVocabularySize: Int? { sourceEmbeddings.first?.vocabSize }

    /// The decoder layers in decoding order.
    var decoderLayers: [(node: Int, layer: TransformerDecoderLayer)] {
        split.decoderNodes.compactMap { i in layerOrdinal[i].map { _ in (i, model.layers[i] as! TransformerDecoderLayer) } }
    }

    public func start(_ sources: [[Int]]) throws -> KVCacheState {
        let values = try split.encode(sources, model: model, names: names, embeddings: sourceEmbeddings)
        let n = sources.count
        return GradMode.withoutGrad {
            var keys: [Tensor] = [], vals: [Tensor] = [], masks: [Tensor?] = []
            for (i, layer) in decoderLayers {
                let (_, _, memory, memoryMask) = TransformerDecoderLayer.split(model.order[i].inputs)!
                let (e, h) = (layer.options.dModel, layer.options.numHeads)
                let m = values[memory]!, sm = m.shape[1]
                let a = layer.crossAttn
                let w = a.inProjWeight.split(sizes: [e, 2 * e], axis: 0)[1]
                let b = a.inProjBias?.split(sizes: [e, 2 * e], axis: 0)[1]
                let kv = m.linear(weight: w, bias: b).split(sizes: [e, e], axis: 2)
                func heads(_ x: Tensor) -> Tensor { x.reshaped([n, sm, h, e / h]).permuted([0, 2, 1, 3]) }
                keys.append(heads(kv[0]))
                vals.append(heads(kv[1]))
                masks.append(memoryMask.map { values[$0]! })
            }
            return KVCacheState(encoded: EncodedSources(crossKeys: keys, crossValues: vals, memoryMasks: masks),
                                sourceRows: Array(0..<n), entries: Array(repeating: [], count: n), length: 0,
                                lastStep: StepWork(rows: 0, positionsComputed: 0, selfAttentionKeys: 0))
        }
    }

    public func step(_ state: KVCacheState, keeping rows: [Int], lastTokens: [Int]) throws
        -> (logProbabilities: Tensor, state: KVCacheState)
    {
        let out = advance(state, keeping: rows, lastTokens: lastTokens, attention: false)
        return (out.logProbabilities, out.state)
    }

    /// `step`, also returning the cross-attention weights of the last decoder
    /// layer, averaged over its heads: [rows.count, S], S the state's padded
    /// source length (a row's weights over its own source sum to 1; padding
    /// gets 0). The log-probabilities are those `step` gives.
    public func stepWithAttention(_ state: KVCacheState, keeping rows: [Int], lastTokens: [Int]) throws
        -> (logProbabilities: Tensor, crossAttention: Tensor, state: KVCacheState)
    {
        let out = advance(state, keeping: rows, lastTokens: lastTokens, attention: true)
        return (out.logProbabilities, out.attention!, out.state)
    }

    func advance(_ state: KVCacheState, keeping rows: [Int], lastTokens: [Int], attention: Bool)
        -> (logProbabilities: Tensor, attention: Tensor?, state: KVCacheState)
    {
        precondition(rows.count == lastTokens.count, "EncoderDecoderStepper.step: \(rows.count) rows, \(lastTokens.count) tokens")
        let cache = state.selecting(rows: rows)
        let r = rows.count, v = vocabularySize
        let work = StepWork(rows: r, positionsComputed: r, selfAttentionKeys: cache.length + 1)
        guard r > 0 else {
            let s = cache.encoded.sourceLength
            return (Tensor(shape: [0, v], data: []), attention ? Tensor(shape: [0, s], data: []) : nil,
                    KVCacheState(encoded: cache.encoded, sourceRows: [], entries: [], length: cache.length + 1, lastStep: work))
        }
        let lastLayer = decoderLayers.count - 1
        var captured: Tensor?
        return GradMode.withoutGrad {
            let ctx = ForwardContext.inference()
            var values: [String: Tensor] = [names.target: Tensor(shape: [r, 1], data: lastTokens.map(Float.init))]
            let layers = decoderLayers.count
            var newKeys = [[Float]](repeating: [], count: layers), newValues = newKeys
            var keeps = [[Float]](repeating: [], count: layers)
            for i in split.decoderNodes {
                let l = model.order[i], layer = model.layers[i]
                if let j = layerOrdinal[i], let decoderLayer = layer as? TransformerDecoderLayer {
                    let (x, xMask, _, _) = TransformerDecoderLayer.split(l.inputs)!
                    let keep = xMask.map { values[$0]!.data } ?? [Float](repeating: 1, count: r)
                    let enc = cache.encoded
                    let memoryKeep = enc.memoryMasks[j].map { $0.gatherBatch(cache.sourceRows).reshaped([r, 1, 1, -1]) }
                    let out = decoderLayer.step(
                        values[x]!, keep: keep, layer: j, cache: cache, crossQuery: crossQuery[j],
                        crossKeys: enc.crossKeys[j].gatherBatch(cache.sourceRows),
                        crossValues: enc.crossValues[j].gatherBatch(cache.sourceRows), memoryKeep: memoryKeep,
                        crossAttention: attention && j == lastLayer ? { captured = $0 } : nil, ctx)
                    values[l.name] = out.output
                    (newKeys[j], newValues[j], keeps[j]) = (out.keys, out.values, keep)
                } else if let pe = layer as? PositionalEncoding {
                    values[l.name] = cache.isAligned
                        ? pe(values[l.inputs[0]]!, offset: cache.length, ctx)
                        : pe(values[l.inputs[0]]!, offsets: cache.rowLengths, ctx)
                } else {
                    values[l.name] = layer(l.inputs.map { values[$0]! }, ctx)
                }
            }
            let logProbabilities = values[names.output]!.reshaped([r, v]).logSoftmax(axis: -1)
            var entries = cache.entries
            for row in 0..<r {
                var k: [Float] = [], val: [Float] = [], keep: [Float] = []
                for j in 0..<layers {
                    let e = newKeys[j].count / r
                    k += newKeys[j][(row * e)..<((row + 1) * e)]
                    val += newValues[j][(row * e)..<((row + 1) * e)]
                    keep.append(keeps[j][row])
                }
                entries[row].append(KVEntry(keys: k, values: val, keep: keep))
            }
            // [R, H, 1, S] -> the heads' mean, [R, S].
            let weights = captured.map { w in
                let (h, s) = (w.shape[1], w.shape[3])
                var mean = [Float](repeating: 0, count: r * s)
                for row in 0..<r {
                    for head in 0..<h {
                        let from = (row * h + head) * s
                        for t in 0..<s { mean[row * s + t] += w.data[from + t] / Float(h) }
                    }
                }
                return Tensor(shape: [r, s], data: mean)
            }
            return (logProbabilities, weights,
                    KVCacheState(encoded: cache.encoded, sourceRows: cache.sourceRows, entries: entries,
                                 length: cache.length + 1, lastStep: work))
        }
    }
}
