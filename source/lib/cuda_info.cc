#include "cuda_info.h"

namespace deepft {

#ifndef DEEPFT_WITH_CUDA
bool cuda_compiled() { return false; }
int cuda_device_count() { return 0; }
Status cuda_not_compiled() noexcept {
  return Status::Error(StatusCode::kNotCompiled,
                       "deepft was built without CUDA kernels (nvcc was not found at build time)");
}
Status cuda_check_device_pointer(const void*) noexcept { return cuda_not_compiled(); }
#endif

}  // namespace deepft
