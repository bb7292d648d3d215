/// Batched matrix products: `batch` independent row-major products
/// C_i = alpha op(A_i) op(B_i) + beta C_i, each matrix at a fixed stride from
/// the previous one (a stride of 0 shares one matrix across the batch), as
/// attention needs for [B, H, T, D] x [B, H, D, S].
extension Kernels {
    /// Every product goes through `gemm`. A batch of small products (attention
    /// heads) is spread over the pool a chunk of batches per thread; a batch
    /// of one large product lets `gemm` split it instead. `strideC` must not
    /// be 0 (each product writes its own C) unless batch == 1.
    public static func batchedGemm(
        batch: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, strideA: Int,
        b: UnsafePointer<Float>, ldb: Int, strideB: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int
    ) {
        precondition(batch <= 1 || strideC != 0, "batchedGemm: \(batch) products cannot share one C")
        func run(_ range: Range<Int>) {
            for i in range {
                gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                     a: a + i * strideA, lda: lda, b: b + i * strideB, ldb: ldb,
                     beta: beta, c: c + i * strideC, ldc: ldc)
            }
        }
        let threads = blasThreads
        let work = batch * m * n * k
        guard threads > 1, batch >= threads, work >= gemmParallelMinimum else {
            run(0..<batch)
            return
        }
        parallelChunks(batch, chunks: threads) { _, range in run(range) }
    }

    /// Plain triple loops with the same contract as `batchedGemm`, for tests.
    public static func batchedGemmReference(
        batch: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, strideA: Int,
        b: UnsafePointer<Float>, ldb: Int, strideB: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int
    ) {
        for i in 0..<batch {
            gemmReference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                          a: a + i * strideA, lda: lda, b: b + i * strideB, ldb: ldb,
                          beta: beta, c: c + i * strideC, ldc: ldc)
        }
    }
}
