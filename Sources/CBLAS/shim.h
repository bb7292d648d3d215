#include <cblas.h>
// OpenBLAS extension: thread count is set deliberately so BLAS does not fight
// the inference worker pool.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

// For the kernels' thread pool (DLKernels/ChunkPool.swift): the spin-wait
// hint (PAUSE), which Swift cannot say, so that a spinning helper leaves the
// execution units to the thread beside it when the host puts both virtual
// CPUs on one physical core.
static inline void dl_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
