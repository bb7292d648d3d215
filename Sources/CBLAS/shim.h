#include <cblas.h>
// OpenBLAS extension: thread count is set deliberately so BLAS does not fight
// the inference worker pool.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
