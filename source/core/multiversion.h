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
