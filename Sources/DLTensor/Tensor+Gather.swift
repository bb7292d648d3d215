import DLKernels

/// Embedding lookup as a tensor op (PyTorch's `F.embedding`).
extension Tensor {
    /// Rows of `weight` [V, D] picked by integer ids held in a Float tensor
    /// of any shape S -> [S..., D]. Ids must be whole numbers in 0..<V.
    /// Backward scatter-adds the output gradient into the rows that were
    /// read (a repeated id accumulates); the `paddingIndex` row receives no
    /// gradient, as in PyTorch. The ids get no gradient.
    public static func embedding(_ ids: Tensor, weight: Tensor, paddingIndex: Int? = nil) -> Tensor {
        precondition(weight.rank == 2, "embedding: weight must be [V, D], got \(weight.shape)")
        let (v, d) = (weight.shape[0], weight.shape[1])
        precondition(ids.data.allSatisfy { $0 >= 0 && $0 < Float(v) && $0 == $0.rounded() },
                     "embedding: ids \(ids.shape) hold a value that is not a whole number in 0..<\(v)")
        let rows = ids.data.map { Int($0) }
        let out = Tensor.filled(rows.count * d) { po in
            weight.data.withUnsafeBufferPointer { pw in
                Kernels.gatherRows(pw.baseAddress!, rows: rows, count: rows.count, d: d, po)
            }
        }
        return make("embedding", shape: ids.shape + [d], data: out, inputs: [weight]) { g in
            weight.accumulateGrad { gw in
                g.withUnsafeBufferPointer { pg in
                    Kernels.scatterAddRows(pg.baseAddress!, rows: rows, count: rows.count, d: d, skip: paddingIndex,
                                           into: gw.baseAddress!)
                }
            }
        }
    }
}
