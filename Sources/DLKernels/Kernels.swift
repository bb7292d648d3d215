import CBLAS
import Synchronization

/// The narrow interface every layer calls for heavy math. BLAS calls and SIMD
/// loops appear only in this target; each fast kernel keeps a plain reference
/// (`*Reference`) beside it and a test holds the two together.
public enum Kernels {
    /// Sets the kernels' thread budget: how many threads a parallel region
    /// (`parallelChunks`, a large `gemm`) uses. The daemon sets 1 per worker so
    /// that kernels do not fight the inference pool; training may use all cores.
    ///
    /// Every thread comes from one pool (`ChunkPool`); OpenBLAS itself always
    /// runs single-threaded and `gemm` splits large products over the pool.
    /// Two pools would compete for the same cores: OpenBLAS's idle workers
    /// spin (sched_yield) for about 0.1 s after each threaded call, while
    /// the pool's helpers spin for the next region.
    public static func setBLASThreads(_ n: Int) {
        pinOpenBLAS
        budget.store(max(1, n), ordering: .relaxed)
    }

    /// The thread budget a kernel called now may use: 1 inside a parallel
    /// region (of any caller), else the budget `setBLASThreads` set.
    public static var blasThreads: Int {
        pinOpenBLAS
        return activeRegions.active ? 1 : budget.load(ordering: .relaxed)
    }

    static let budget = Atomic<Int>(1)

    /// OpenBLAS on one thread, once per process.
    static let pinOpenBLAS: Void = openblas_set_num_threads(1)
}
