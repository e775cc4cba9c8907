#include "gemm.h"

#include <algorithm>
#include <string>
#include <vector>

#ifdef DEEPFT_HAVE_OPENBLAS
#include <dlfcn.h>

#include <cstdlib>

#include <cblas.h>  // scipy-openblas32: declares the prefixed scipy_cblas_* symbols
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

// OpenBLAS is opened at run time (dlopen through this object's RUNPATH, see
// source/core/CMakeLists.txt) rather than linked: a missing library then degrades to the plain
// loops instead of failing to import, and deepft can choose the kernels of its own copy
// (OpenBLAS picks them once, when loaded, from OPENBLAS_CORETYPE or the CPU):
// DEEPFT_OPENBLAS_CORETYPE=SKYLAKEX (HASWELL, ZEN, ...) applies to deepft's copy only.
using DgemmFn = decltype(&scipy_cblas_dgemm);
using SgemmFn = decltype(&scipy_cblas_sgemm);
using SetThreadsFn = decltype(&scipy_openblas_set_num_threads);
using ConfigFn = decltype(&scipy_openblas_get_config);
using CorenameFn = decltype(&scipy_openblas_get_corename);

struct OpenBlas {
  DgemmFn dgemm = nullptr;
  SgemmFn sgemm = nullptr;
  SetThreadsFn set_num_threads = nullptr;
  std::string name;
};

/// Sets an environment variable for the lifetime of the object (value nullptr: no change).
class EnvOverride {
 public:
  EnvOverride(const char* name, const char* value) : name_(name), active_(value != nullptr) {
    if (!active_) return;
    const char* old = std::getenv(name);
    had_old_ = old != nullptr;
    if (had_old_) old_ = old;
    setenv(name, value, 1);
  }
  ~EnvOverride() {
    if (!active_) return;
    if (had_old_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  EnvOverride(const EnvOverride&) = delete;
  EnvOverride& operator=(const EnvOverride&) = delete;

 private:
  const char* name_;
  bool active_;
  bool had_old_ = false;
  std::string old_;
};

OpenBlas load_openblas() {
  OpenBlas ob;
  // The core calls OpenBLAS from its own OpenMP threads, one product per thread: ask for a
  // single-threaded library (no idle worker threads) and, if DEEPFT_OPENBLAS_CORETYPE is set,
  // for those kernels; both variables are read by OpenBLAS when it loads, then restored.
  const EnvOverride threads("OPENBLAS_NUM_THREADS", "1");
  const char* core = std::getenv("DEEPFT_OPENBLAS_CORETYPE");
  const EnvOverride coretype("OPENBLAS_CORETYPE", core);
  void* handle = dlopen("libscipy_openblas.so", RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = dlerror();
    ob.name = std::string("plain loops (libscipy_openblas.so could not be loaded: ") +
              (err ? err : "?") + ")";
    return ob;
  }
  ob.dgemm = reinterpret_cast<DgemmFn>(dlsym(handle, "scipy_cblas_dgemm"));
  ob.sgemm = reinterpret_cast<SgemmFn>(dlsym(handle, "scipy_cblas_sgemm"));
  ob.set_num_threads =
      reinterpret_cast<SetThreadsFn>(dlsym(handle, "scipy_openblas_set_num_threads"));
  auto config = reinterpret_cast<ConfigFn>(dlsym(handle, "scipy_openblas_get_config"));
  if (ob.dgemm == nullptr || ob.sgemm == nullptr || ob.set_num_threads == nullptr) {
    ob = OpenBlas{};
    ob.name = "plain loops (libscipy_openblas.so lacks the cblas symbols)";
    return ob;
  }
  auto corename = reinterpret_cast<CorenameFn>(dlsym(handle, "scipy_openblas_get_corename"));
  ob.name = std::string("OpenBLAS (scipy-openblas32): ") + (config ? config() : "?") +
            ", kernels " + (corename ? corename() : "?");
  return ob;
}

const OpenBlas& openblas() {
  static const OpenBlas ob = load_openblas();  // thread-safe one-time initialization
  return ob;
}

CBLAS_TRANSPOSE to_cblas(Op op) { return op == Op::kN ? CblasNoTrans : CblasTrans; }

}  // namespace

template <>
void gemm<double>(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, double alpha,
                  const double* a, int64_t lda, const double* b, int64_t ldb, double beta,
                  double* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  const OpenBlas& ob = openblas();
  if (ob.dgemm == nullptr) {
    return plain_gemm(op_a, op_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  ob.dgemm(CblasRowMajor, to_cblas(op_a), to_cblas(op_b), static_cast<blasint>(m),
           static_cast<blasint>(n), static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda),
           b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

template <>
void gemm<float>(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  const OpenBlas& ob = openblas();
  if (ob.sgemm == nullptr) {
    return plain_gemm(op_a, op_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  ob.sgemm(CblasRowMajor, to_cblas(op_a), to_cblas(op_b), static_cast<blasint>(m),
           static_cast<blasint>(n), static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda),
           b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

const char* backend() { return openblas().name.c_str(); }

void set_blas_single_threaded() {
  if (openblas().set_num_threads != nullptr) openblas().set_num_threads(1);
}

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
