import DLKernels

extension Tensor {
    /// Each row along the last axis divided by its Euclidean norm, clamped
    /// below at `eps`: x / max(|x|, eps), as PyTorch's `F.normalize(x, dim=-1)`.
    /// Any shape [..., D] -> the same shape; a zero row stays zero.
    public func l2Normalized(eps: Float = 1e-12) -> Tensor {
        precondition(rank >= 1 && shape.last! > 0, "l2Normalized: needs [..., D] with D > 0, got \(shape)")
        let d = shape.last!, rows = count / d
        var norms = [Float](repeating: 0, count: rows)
        let y = Tensor.filled(count) { py in
            data.withUnsafeBufferPointer { px in
                norms.withUnsafeMutableBufferPointer { pn in
                    Kernels.l2NormalizeRows(px.baseAddress!, rows: rows, d: d, eps: eps, py, norms: pn.baseAddress!)
                }
            }
        }
        return Tensor.make("l2_normalize", shape: shape, data: y, inputs: [self]) { [self] g in
            accumulateGrad { dx in
                Kernels.l2NormalizeRowsBackward(y: y, gradOut: g, norms: norms, rows: rows, d: d, eps: eps, dx: dx.baseAddress!)
            }
        }
    }
}
