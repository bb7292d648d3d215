import DLTensor
import Foundation

/// Scaled dot-product attention (Vaswani et al., 2017), PyTorch's
/// `F.scaled_dot_product_attention` with a boolean `attn_mask`:
/// softmax(Q K^T / sqrt(D) over the keys each query may attend) V.
///
/// query [B, H, T, D], key [B, H, S, D], value [B, H, S, Dv] (any equal
/// leading dimensions of rank 1 or 2 work), keep broadcastable to
/// [B, H, T, S] with 1 where query t may attend key s (a key-padding mask
/// [B, 1, 1, S], `Tensor.causalMask` [T, S], or their product), or nil
/// -> [B, H, T, Dv]. A query with no key to attend gets a zero output (PyTorch
/// gives NaN). `scale` defaults to 1 / sqrt(D). With `dropout` (PyTorch's
/// `dropout_p`) and `ctx.training`, the attention weights go through inverted
/// dropout. Gradients reach query, key and value through the batched matmuls
/// and the masked softmax.
public func scaledDotProductAttention(
    query q: Tensor, key k: Tensor, value v: Tensor, keep: Tensor? = nil, scale: Float? = nil,
    dropout: Float = 0, ctx: ForwardContext? = nil
) -> Tensor {
    precondition(q.rank >= 3 && q.rank == k.rank && k.rank == v.rank && q.shape.last == k.shape.last
                 && k.shape[k.rank - 2] == v.shape[v.rank - 2],
                 "scaledDotProductAttention: query \(q.shape), key \(k.shape), value \(v.shape) do not fit [..., T, D], [..., S, D], [..., S, Dv]")
    let s = scale ?? 1 / Foundation.sqrt(Float(q.shape[q.rank - 1]))
    // [..., T, D] x [..., S, D]^T -> [..., T, S].
    let scores = q.scaled(by: s).matmul(k, transposeA: false, transposeB: true)
    var weights = scores.maskedSoftmax(keep)
    if dropout > 0, let ctx, ctx.training {
        weights = Dropout(keepProb: 1 - dropout)(weights, ctx)
    }
    // [..., T, S] x [..., S, Dv] -> [..., T, Dv].
    return weights.matmul(v, transposeA: false, transposeB: false)
}
