#include "cuda_info.h"

namespace deepft {

#ifndef DEEPFT_WITH_CUDA
bool cuda_compiled() { return false; }
int cuda_device_count() { return 0; }
#endif

}  // namespace deepft
