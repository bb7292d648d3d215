import DLTensor

extension TransformerDecoderLayer {
    /// One decoding step of this layer (inference: dropout is the identity),
    /// the same sub-layers and norms as the full forward:
    /// - self-attention of the new token over the cached keys and values of
    ///   every earlier token plus its own (causal by construction);
    /// - cross-attention over the memory's keys and values, projected once
    ///   per source (`crossKeys`, `crossValues` [R, H, S, E/H], `memoryKeep`
    ///   [R, 1, 1, S] or nil);
    /// - the feed-forward block on the one token.
    ///
    /// `crossAttention`, when given, receives the cross-attention weights
    /// [R, H, 1, S] (the same ops as `scaledDotProductAttention`, so the
    /// output is unchanged).
    ///
    /// x [R, 1, E], keep [R] (1 = real token) -> ([R, 1, E], the new token's
    /// key and value [R * E] each, for the cache).
    func step(
        _ x: Tensor, keep: [Float], layer: Int, cache: KVCacheState,
        crossQuery: (weight: Tensor, bias: Tensor?), crossKeys: Tensor, crossValues: Tensor, memoryKeep: Tensor?,
        crossAttention: ((Tensor) -> Void)? = nil, _ ctx: ForwardContext
    ) -> (output: Tensor, keys: [Float], values: [Float]) {
        let (r, e, h) = (x.shape[0], options.dModel, options.numHeads)
        precondition(x.shape == [r, 1, e] && keep.count == r && cache.rowCount == r,
                     "transformer_decoder_layer step: x \(x.shape), \(keep.count) mask values, \(cache.rowCount) cached rows")
        var newKeys: [Float] = [], newValues: [Float] = []
        // [R, 1, E] -> [R, H, 1, E/H]: with one position, a reshape.
        func heads(_ t: Tensor) -> Tensor { t.reshaped([r, h, 1, e / h]) }
        func merge(_ t: Tensor) -> Tensor { t.reshaped([r, 1, e]) }
        func sa(_ q0: Tensor) -> Tensor {
            let qkv = q0.linear(weight: selfAttn.inProjWeight, bias: selfAttn.inProjBias).split(sizes: [e, e, e], axis: 2)
            (newKeys, newValues) = (qkv[1].data, qkv[2].data)
            let (k, v, m) = cache.selfAttentionInputs(layer: layer, heads: h, newKeys: newKeys, newValues: newValues,
                                                      newKeep: keep)
            let a = scaledDotProductAttention(query: heads(qkv[0]), key: k, value: v, keep: m)
            return selfAttn.outProj(merge(a), ctx)
        }
        func ca(_ q0: Tensor) -> Tensor {
            let q = q0.linear(weight: crossQuery.weight, bias: crossQuery.bias)
            guard let crossAttention else {
                let a = scaledDotProductAttention(query: heads(q), key: crossKeys, value: crossValues, keep: memoryKeep)
                return crossAttn.outProj(merge(a), ctx)
            }
            let scale = 1 / Float(e / h).squareRoot()
            let weights = heads(q).scaled(by: scale).matmul(crossKeys, transposeA: false, transposeB: true)
                .maskedSoftmax(memoryKeep)
            crossAttention(weights)
            return crossAttn.outProj(merge(weights.matmul(crossValues, transposeA: false, transposeB: false)), ctx)
        }
        if options.normFirst {
            let h1 = x + sa(norm1(x, ctx))
            let h2 = h1 + ca(norm2(h1, ctx))
            return (h2 + feedForward(norm3(h2, ctx), ctx), newKeys, newValues)
        }
        let h1 = norm1(x + sa(x), ctx)
        let h2 = norm2(h1 + ca(h1), ctx)
        return (norm3(h2 + feedForward(h2, ctx), ctx), newKeys, newValues)
    }
}
