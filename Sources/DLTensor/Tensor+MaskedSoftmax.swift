import DLKernels

/// Softmax over the last axis with a mask, for attention weights.
extension Tensor {
    /// Softmax along the last axis over the entries whose `keep` value is
    /// nonzero and whose score is not -inf (PyTorch's
    /// `scores.masked_fill(~keep, -inf).softmax(-1)`, the boolean `attn_mask`
    /// of `F.scaled_dot_product_attention`: true takes part).
    /// x [..., S], keep broadcastable to x's shape (a key-padding mask
    /// [B, 1, 1, S], a causal mask [T, S]) or nil -> x's shape.
    /// Masked entries are 0; a fully masked row is all 0, not NaN as in
    /// PyTorch. Backward: y * (g - sum(g * y)) per row, so masked entries
    /// and fully masked rows get no gradient.
    public func maskedSoftmax(_ keep: Tensor?) -> Tensor {
        precondition(rank >= 1, "maskedSoftmax: a scalar has no axis")
        let x = self
        let n = shape[rank - 1], rows = n == 0 ? 0 : count / n
        var keepAll: [Float]? = nil
        if let keep {
            precondition(Broadcast.shape(keep.shape, shape) == shape,
                         "maskedSoftmax: mask \(keep.shape) does not broadcast to \(shape)")
            keepAll = keep.shape == shape ? keep.data : Broadcast.indexMap(from: keep.shape, to: shape).map { keep.data[$0] }
        }
        let y = Tensor.filled(count) { py in
            x.data.withUnsafeBufferPointer { px in
                if let keepAll {
                    keepAll.withUnsafeBufferPointer {
                        Kernels.maskedSoftmaxForward(px.baseAddress!, keep: $0.baseAddress!, py, rows: rows, n: n)
                    }
                } else {
                    Kernels.maskedSoftmaxForward(px.baseAddress!, keep: nil, py, rows: rows, n: n)
                }
            }
        }
        return Tensor.make("masked_softmax", shape: shape, data: y, inputs: [x]) { g in
            x.accumulateGrad(Tensor.filled(y.count) { pgx in
                y.withUnsafeBufferPointer { py in
                    g.withUnsafeBufferPointer { pg in
                        Kernels.softmaxBackward(y: py.baseAddress!, gy: pg.baseAddress!, gx: pgx,
                                                outer: rows, dim: n, inner: 1, log: false)
                    }
                }
            })
        }
    }
}
