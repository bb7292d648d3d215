import CBLAS

extension Kernels {
    /// C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C[m,n], row-major.
    /// `transA`/`transB` choose op(X) = X or X^T. Leading dimensions are those
    /// of the stored (untransposed) matrices.
    @inlinable
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        func sgemm(_ m: Int, _ n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) {
            cblas_sgemm(
                CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        }
        // OpenBLAS runs single-threaded (see `setBLASThreads`); a large
        // product is split across the pool by rows or columns of C, whichever
        // is longer, each part a product of its own.
        let threads = blasThreads
        guard threads > 1, m * n * k >= gemmParallelMinimum, Swift.max(m, n) >= 2 * threads else {
            sgemm(m, n, a, b, c)
            return
        }
        if m >= n {
            parallelChunks(m, chunks: threads) { _, rows in
                let r = rows.lowerBound
                sgemm(rows.count, n, transA ? a + r : a + r * lda, b, c + r * ldc)
            }
        } else {
            parallelChunks(n, chunks: threads) { _, cols in
                let j = cols.lowerBound
                sgemm(m, cols.count, a, transB ? b + j * ldb : b + j, c + j)
            }
        }
    }

    /// Multiply-adds from which `gemm` splits a product across threads (the
    /// threshold OpenBLAS uses for the same decision).
    @usableFromInline static let gemmParallelMinimum = 1 << 18

    /// Plain triple loop with the same contract as `gemm`, for tests.
    public static func gemmReference(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var s: Double = 0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    s += Double(av) * Double(bv)
                }
                let prev = beta == 0 ? 0 : beta * c[i * ldc + j]
                c[i * ldc + j] = alpha * Float(s) + prev
            }
        }
    }
}
