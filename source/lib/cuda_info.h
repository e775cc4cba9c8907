// Whether the CUDA kernels were compiled in, and whether a device can be used at run time.
#pragma once

namespace deepft {

/// True when this build contains the CUDA kernels (nvcc was found at build time).
bool cuda_compiled();

/// Number of visible CUDA devices; 0 when none, when the driver is absent, or in a CPU-only build.
int cuda_device_count();

}  // namespace deepft
