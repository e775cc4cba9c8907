// Thread control of the CPU kernels (OpenMP). Without OpenMP both are no-ops / return 1.
#pragma once

namespace deepft {

/// Number of threads the CPU kernels use (OpenMP's max threads).
int num_threads() noexcept;

/// Sets the number of threads the CPU kernels use (n >= 1; values < 1 are ignored).
void set_num_threads(int n) noexcept;

}  // namespace deepft
