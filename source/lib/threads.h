// Thread control of the CPU kernels (OpenMP). Without OpenMP both are no-ops / return 1.
#pragma once

#include <cstdint>

namespace deepft {

/// Work (pairs, or atoms x 100 for neighbor searches) below which a CPU kernel runs on one
/// thread: for training-size frames OpenMP start-up, and the competition with torch's own
/// OpenMP pool in the same process, cost more than the parallel loop saves.
constexpr int64_t kMinParallelWork = int64_t{1} << 18;

/// Threads a CPU kernel uses for `work` units: 1 below kMinParallelWork, else num_threads().
int threads_for(int64_t work) noexcept;

/// Number of threads the CPU kernels use (OpenMP's max threads).
int num_threads() noexcept;

/// Sets the number of threads the CPU kernels use (n >= 1; values < 1 are ignored).
void set_num_threads(int n) noexcept;

/// Index of the calling thread inside the current parallel region (0 outside one).
int thread_id() noexcept;

}  // namespace deepft
