import DLKernels

/// Batched matrix products over the last two axes with transpose flags, for
/// attention: scores = Q K^T is `q.matmul(k, transposeA: false, transposeB: true)`
/// on [B, H, T, D] x [B, H, S, D] -> [B, H, T, S]. Forward and backward run
/// through `Kernels.batchedGemm`.
extension Tensor {
    /// op(a) op(b) per batch entry, op(x) = x^T when its flag is set.
    /// a [..., M, K] ([..., K, M] with `transposeA`), b [..., K, N]
    /// ([..., N, K] with `transposeB`) -> [..., M, N]. Both of rank 2, 3 or 4
    /// with equal leading (batch) dimensions.
    ///
    /// Backward, with G = dL/dC and stored (untransposed) layouts:
    /// dA = G op(B)^T (stored transposed when `transposeA`),
    /// dB = op(A)^T G (stored transposed when `transposeB`).
    public func matmul(_ b: Tensor, transposeA tA: Bool, transposeB tB: Bool) -> Tensor {
        let a = self
        precondition(a.rank == b.rank && (2...4).contains(a.rank) && a.shape.dropLast(2) == b.shape.dropLast(2),
                     "matmul: \(a.shape) x \(b.shape) need equal ranks 2...4 and equal batch dimensions")
        let r = a.rank
        let m = tA ? a.shape[r - 1] : a.shape[r - 2], k = tA ? a.shape[r - 2] : a.shape[r - 1]
        let n = tB ? b.shape[r - 2] : b.shape[r - 1], bk = tB ? b.shape[r - 1] : b.shape[r - 2]
        precondition(k == bk, "matmul: inner dimensions differ, \(a.shape)\(tA ? "^T" : "") x \(b.shape)\(tB ? "^T" : "")")
        let batch = a.shape.dropLast(2).product
        // Leading dimensions of the stored matrices.
        let lda = tA ? m : k, ldb = tB ? k : n
        let outShape = Array(a.shape.dropLast(2)) + [m, n]
        let out = [Float](unsafeUninitializedCapacity: batch * m * n) { pc, initialized in
            a.data.withUnsafeBufferPointer { pa in
                b.data.withUnsafeBufferPointer { pb in
                    if batch * m * n > 0 {
                        Kernels.batchedGemm(batch: batch, transA: tA, transB: tB, m: m, n: n, k: k,
                                            a: pa.baseAddress!, lda: lda, strideA: m * k,
                                            b: pb.baseAddress!, ldb: ldb, strideB: k * n,
                                            c: pc.baseAddress!, ldc: n, strideC: m * n)
                    }
                }
            }
            initialized = batch * m * n
        }
        return Tensor.make("batched_matmul", shape: outShape, data: out, inputs: [a, b]) { g in
            guard batch * m * n * k > 0 else { return }
            g.withUnsafeBufferPointer { pg in
                let g0 = pg.baseAddress!
                if a.requiresGrad {
                    a.accumulateGrad { ga in
                        b.data.withUnsafeBufferPointer { pb in
                            if tA {
                                // dA^T [k, m] = op(B) G^T.
                                Kernels.batchedGemm(batch: batch, transA: tB, transB: true, m: k, n: m, k: n,
                                                    a: pb.baseAddress!, lda: ldb, strideA: k * n,
                                                    b: g0, ldb: n, strideB: m * n,
                                                    c: ga.baseAddress!, ldc: m, strideC: m * k)
                            } else {
                                // dA [m, k] = G op(B)^T.
                                Kernels.batchedGemm(batch: batch, transA: false, transB: !tB, m: m, n: k, k: n,
                                                    a: g0, lda: n, strideA: m * n,
                                                    b: pb.baseAddress!, ldb: ldb, strideB: k * n,
                                                    c: ga.baseAddress!, ldc: k, strideC: m * k)
                            }
                        }
                    }
                }
                if b.requiresGrad {
                    b.accumulateGrad { gb in
                        a.data.withUnsafeBufferPointer { pa in
                            if tB {
                                // dB^T [n, k] = G^T op(A).
                                Kernels.batchedGemm(batch: batch, transA: true, transB: tA, m: n, n: k, k: m,
                                                    a: g0, lda: n, strideA: m * n,
                                                    b: pa.baseAddress!, ldb: lda, strideB: m * k,
                                                    c: gb.baseAddress!, ldc: k, strideC: k * n)
                            } else {
                                // dB [k, n] = op(A)^T G.
                                Kernels.batchedGemm(batch: batch, transA: !tA, transB: false, m: k, n: n, k: m,
                                                    a: pa.baseAddress!, lda: lda, strideA: m * k,
                                                    b: g0, ldb: n, strideB: m * n,
                                                    c: gb.baseAddress!, ldc: n, strideC: k * n)
                            }
                        }
                    }
                }
            }
        }
    }
}
