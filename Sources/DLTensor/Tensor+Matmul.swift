import DLKernels

extension Tensor {
    /// Matrix product. a: [M, K] (or [B, M, K]), b: [K, N] (or [B, K, N]) -> [M, N] ([B, M, N]).
    /// A rank-3 `a` with a rank-2 `b` multiplies every batch by the same b.
    public func matmul(_ b: Tensor) -> Tensor {
        let a = self
        switch (a.rank, b.rank) {
        case (2, 2):
            return Tensor.batchedMatmul(a, b, batch: 1, m: a.shape[0], k: a.shape[1], n: b.shape[1],
                                        sharedB: true, outShape: [a.shape[0], b.shape[1]], bK: b.shape[0])
        case (3, 2):
            // Fold the batch into rows.
            let m = a.shape[0] * a.shape[1]
            return Tensor.batchedMatmul(a, b, batch: 1, m: m, k: a.shape[2], n: b.shape[1], sharedB: true,
                                        outShape: [a.shape[0], a.shape[1], b.shape[1]], bK: b.shape[0])
        case (3, 3):
            precondition(a.shape[0] == b.shape[0], "matmul: batch \(a.shape) vs \(b.shape)")
            return Tensor.batchedMatmul(a, b, batch: a.shape[0], m: a.shape[1], k: a.shape[2], n: b.shape[2],
                                        sharedB: false, outShape: [a.shape[0], a.shape[1], b.shape[2]], bK: b.shape[1])
        default:
            preconditionFailure("matmul: unsupported ranks \(a.shape) x \(b.shape)")
        }
    }

    static func batchedMatmul(
        _ a: Tensor, _ b: Tensor, batch: Int, m: Int, k: Int, n: Int, sharedB: Bool, outShape: [Int], bK: Int
    ) -> Tensor {
        precondition(k == bK, "matmul: inner dimensions differ, \(a.shape) x \(b.shape)")
        var out = [Float](repeating: 0, count: batch * m * n)
        a.data.withUnsafeBufferPointer { pa in
            b.data.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { pc in
                    for i in 0..<batch {
                        Kernels.gemm(transA: false, transB: false, m: m, n: n, k: k,
                                     a: pa.baseAddress! + i * m * k, lda: k,
                                     b: pb.baseAddress! + (sharedB ? 0 : i * k * n), ldb: n,
                                     c: pc.baseAddress! + i * m * n, ldc: n)
                    }
                }
            }
        }
        return make("matmul", shape: outShape, data: out, inputs: [a, b]) { g in
            g.withUnsafeBufferPointer { pg in
                if a.requiresGrad {
                    a.accumulateGrad { ga in
                        b.data.withUnsafeBufferPointer { pb in
                            for i in 0..<batch {
                                // dA = dC * B^T
                                Kernels.gemm(transA: false, transB: true, m: m, n: k, k: n,
                                             a: pg.baseAddress! + i * m * n, lda: n,
                                             b: pb.baseAddress! + (sharedB ? 0 : i * k * n), ldb: n,
                                             c: ga.baseAddress! + i * m * k, ldc: k)
                            }
                        }
                    }
                }
                if b.requiresGrad {
                    b.accumulateGrad { gb in
                        a.data.withUnsafeBufferPointer { pa in
                            for i in 0..<batch {
                                // dB = A^T * dC (accumulated over the batch when B is shared)
                                Kernels.gemm(transA: true, transB: false, m: k, n: n, k: m,
                                             a: pa.baseAddress! + i * m * k, lda: k,
                                             b: pg.baseAddress! + i * m * n, ldb: n,
                                             beta: sharedB && i > 0 ? 1 : 0,
                                             c: gb.baseAddress! + (sharedB ? 0 : i * k * n), ldc: n)
                            }
                        }
                    }
                }
            }
        }
    }
}
