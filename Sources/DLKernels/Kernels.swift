import CBLAS

/// The narrow interface every layer calls for heavy math. BLAS calls and SIMD
/// loops appear only in this target; each fast kernel keeps a plain reference
/// (`*Reference`) beside it and a test holds the two together.
public enum Kernels {
    /// Sets OpenBLAS's own thread count. The daemon sets 1 per worker so BLAS
    /// does not fight the inference pool; training may use all cores.
    public static func setBLASThreads(_ n: Int) {
        openblas_set_num_threads(Int32(max(1, n)))
    }

    public static var blasThreads: Int { Int(openblas_get_num_threads()) }
}
