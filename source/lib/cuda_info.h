// Whether the CUDA kernels were compiled in, and whether a device can be used at run time.
#pragma once

#include "status.h"

namespace deepft {

/// True when this build contains the CUDA kernels (nvcc was found at build time).
bool cuda_compiled();

/// Number of visible CUDA devices; 0 when none, when the driver is absent, or in a CPU-only build.
int cuda_device_count();

/// Ok when `p` points to device (or managed) memory of the current CUDA device; otherwise
/// kInvalidArgument saying where it points (host memory, another device, unknown), or
/// kNotCompiled in a CPU-only build. Used to validate pointers before a kernel launch.
Status cuda_check_device_pointer(const void* p) noexcept;

#ifndef DEEPFT_WITH_CUDA
/// kNotCompiled status of every CUDA entry point of a CPU-only build.
Status cuda_not_compiled() noexcept;
#endif

}  // namespace deepft
