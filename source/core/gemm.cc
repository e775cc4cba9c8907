#include "gemm.h"

#include <algorithm>
#include <string>
#include <vector>

#ifdef DEEPFT_HAVE_OPENBLAS
#include <cblas.h>  // the scipy-openblas32 header declares scipy_cblas_* (prefixed symbols)
#endif

namespace deepft::blas {

namespace {

// C[m, n] (row-major, ldc) = alpha * A' B' + beta * C, where A' = op(A) is m x k and
// B' = op(B) is k x n. Loops ordered so the innermost one runs over contiguous memory of C and
// (for op_b == kN) of B; blocked over k to keep a panel of B in cache.
template <typename T>
void plain_gemm(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    if (beta == T(0)) {
      std::fill(ci, ci + n, T(0));
    } else if (beta != T(1)) {
      for (int64_t j = 0; j < n; ++j) ci[j] *= beta;
    }
  }
  constexpr int64_t kBlock = 256;
  for (int64_t p0 = 0; p0 < k; p0 += kBlock) {
    const int64_t p1 = std::min(k, p0 + kBlock);
    for (int64_t i = 0; i < m; ++i) {
      T* ci = c + i * ldc;
      for (int64_t p = p0; p < p1; ++p) {
        const T aip = alpha * (op_a == Op::kN ? a[i * lda + p] : a[p * lda + i]);
        if (aip == T(0)) continue;
        if (op_b == Op::kN) {
          const T* bp = b + p * ldb;
          for (int64_t j = 0; j < n; ++j) ci[j] += aip * bp[j];
        } else {
          for (int64_t j = 0; j < n; ++j) ci[j] += aip * b[j * ldb + p];
        }
      }
    }
  }
}

}  // namespace

template <typename T>
void gemm_reference(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                    int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  plain_gemm(op_a, op_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

#ifdef DEEPFT_HAVE_OPENBLAS

namespace {
CBLAS_TRANSPOSE to_cblas(Op op) { return op == Op::kN ? CblasNoTrans : CblasTrans; }
}  // namespace

template <>
void gemm<double>(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, double alpha,
                  const double* a, int64_t lda, const double* b, int64_t ldb, double beta,
                  double* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  scipy_cblas_dgemm(CblasRowMajor, to_cblas(op_a), to_cblas(op_b), static_cast<blasint>(m),
                    static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
                    static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
                    static_cast<blasint>(ldc));
}

template <>
void gemm<float>(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  scipy_cblas_sgemm(CblasRowMajor, to_cblas(op_a), to_cblas(op_b), static_cast<blasint>(m),
                    static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
                    static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
                    static_cast<blasint>(ldc));
}

const char* backend() {
  static const std::string name = std::string("OpenBLAS (scipy-openblas32): ") +
                                  scipy_openblas_get_config();
  return name.c_str();
}

void set_blas_single_threaded() { scipy_openblas_set_num_threads(1); }

#else  // plain loops

template <typename T>
void gemm(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  plain_gemm(op_a, op_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
template void gemm<double>(Op, Op, int64_t, int64_t, int64_t, double, const double*, int64_t,
                           const double*, int64_t, double, double*, int64_t);
template void gemm<float>(Op, Op, int64_t, int64_t, int64_t, float, const float*, int64_t,
                          const float*, int64_t, float, float*, int64_t);

const char* backend() { return "plain loops (no BLAS found at build time)"; }

void set_blas_single_threaded() {}

#endif

template void gemm_reference<double>(Op, Op, int64_t, int64_t, int64_t, double, const double*,
                                     int64_t, const double*, int64_t, double, double*, int64_t);
template void gemm_reference<float>(Op, Op, int64_t, int64_t, int64_t, float, const float*,
                                    int64_t, const float*, int64_t, float, float*, int64_t);

}  // namespace deepft::blas
