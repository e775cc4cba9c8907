#include "threads.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace deepft {

int num_threads() noexcept {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

int threads_for(int64_t work) noexcept { return work < kMinParallelWork ? 1 : num_threads(); }

void set_num_threads(int n) noexcept {
#ifdef _OPENMP
  if (n >= 1) omp_set_num_threads(n);
#else
  (void)n;
#endif
}

int thread_id() noexcept {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

}  // namespace deepft
