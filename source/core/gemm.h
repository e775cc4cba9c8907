// Dense matrix products of the inference core.
//
// With DEEPFT_HAVE_OPENBLAS (CMake found the scipy-openblas32 wheel) gemm() calls OpenBLAS'
// cblas_{d,s}gemm (exported with the "scipy_" symbol prefix by that wheel), opened at run time
// from libscipy_openblas.so (its kernels follow OPENBLAS_CORETYPE or the CPU, unless
// DEEPFT_OPENBLAS_CORETYPE names others for deepft's copy). Without it, or when the library
// cannot be opened, a plain
// blocked loop is used: correct, but several times slower (CMake says so at configure time,
// backend() at run time). The core calls gemm() from inside its own OpenMP threads, so OpenBLAS is switched to
// one thread per call (set_blas_single_threaded) when a model is loaded.
#pragma once

#include <cstdint>

namespace deepft::blas {

enum class Op { kN, kT };  ///< use the operand as stored, or its transpose

/// Row-major C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C[m, n].
/// lda/ldb/ldc are the row strides of A, B, C as stored (op(A) = A^T reads A as [k, m]).
/// beta == 0 overwrites C (NaN in C is not propagated).
template <typename T>
void gemm(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

/// The plain-loop product (always compiled; used when OpenBLAS is absent, and in tests).
template <typename T>
void gemm_reference(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                    int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

/// "OpenBLAS x.y.z <core>" or "plain loops (no BLAS found at build time)".
const char* backend();

/// Makes every gemm() call single-threaded (the core parallelizes over atoms instead).
void set_blas_single_threaded();

}  // namespace deepft::blas
