// Function multi-versioning of the core's hot loops (internal): DEEPFT_MULTIVERSION compiles a
// function for several x86-64 levels (AVX-512, AVX2+FMA, baseline) and picks one at load time
// (GCC's target_clones); elsewhere (Clang, macOS, other CPUs) it is the plain build.
// DEEPFT_INLINE forces inlining of the templated bodies into each clone.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__APPLE__) && !defined(__clang__)
#define DEEPFT_MULTIVERSION \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DEEPFT_MULTIVERSION
#endif
#define DEEPFT_INLINE inline __attribute__((always_inline))

// Explicit per-level kernels (loops over GCC vector types, whose width must be known at compile
// time) pick their level once at run time with simd_level().
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__APPLE__) && !defined(__clang__)
#define DEEPFT_X86_LEVELS 1
#endif

namespace deepft {

/// 4: AVX-512 (F, VL, DQ), 3: AVX2 + FMA, 0: neither (or not an x86-64 GCC build).
inline int simd_level() {
#ifdef DEEPFT_X86_LEVELS
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq")) {
    return 4;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 3;
#endif
  return 0;
}

}  // namespace deepft
