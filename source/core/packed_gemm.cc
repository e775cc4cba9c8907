#include "packed_gemm.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>
#include <cstdlib>
#include <string>

namespace deepft {

namespace {

std::atomic<bool> g_packed{true};

// Vectors of VW bytes (GCC/Clang vector extensions), loadable from any T-aligned address. Each
// kernel uses the width its instruction set holds in one register (64: AVX-512, 32: AVX2,
// 16: SSE2/NEON); wider generic vectors would be spilled to memory by GCC.
template <typename T, int VW>
struct Vec {
  typedef T type __attribute__((vector_size(VW), aligned(sizeof(T))));
};

/// MR rows x one panel of PW columns (PW = kPanel, or kPanel / 2 for a narrow last panel) of
/// y = x · W; the MR x NV accumulators stay in registers over the whole k loop (AVX-512: 8 x 2,
/// AVX2: 2 x 4, SSE2: 1 x 8 vectors for a full panel).
template <typename T, int VW, int MR, int64_t PW>
inline __attribute__((always_inline)) void micro(int64_t k, const T* __restrict x, int64_t ldx,
                                                 const T* __restrict panel, T* __restrict y,
                                                 int64_t ldy, int64_t ncols, bool accumulate) {
  using V = typename Vec<T, VW>::type;
  constexpr int64_t L = VW / sizeof(T);       // lanes per vector
  constexpr int NV = static_cast<int>(PW / L);  // vectors per panel row
  V c[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) c[i][v] = V{};
  }
  for (int64_t kk = 0; kk < k; ++kk) {
    V b[NV];
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) b[v] = *reinterpret_cast<const V*>(panel + kk * PW + v * L);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const T a = x[i * ldx + kk];
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) c[i][v] += a * b[v];
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    T* yi = y + i * ldy;
    if (ncols == PW) {
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) {
        V* out = reinterpret_cast<V*>(yi + v * L);
        *out = accumulate ? *out + c[i][v] : c[i][v];
      }
      continue;
    }
    T tmp[PW];
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) *reinterpret_cast<V*>(tmp + v * L) = c[i][v];
    if (accumulate) {
      for (int64_t j = 0; j < ncols; ++j) yi[j] += tmp[j];
    } else {
      for (int64_t j = 0; j < ncols; ++j) yi[j] = tmp[j];
    }
  }
}

/// All m rows times one panel: blocks of MR rows, then 4, 2, 1.
template <typename T, int VW, int MR, int64_t PW>
inline __attribute__((always_inline)) void panel_rows(const T* panel, int64_t k, const T* x,
                                                      int64_t m, int64_t ldx, T* y, int64_t ldy,
                                                      int64_t nc, bool accumulate) {
  int64_t i = 0;
  for (; i + MR <= m; i += MR) {
    micro<T, VW, MR, PW>(k, x + i * ldx, ldx, panel, y + i * ldy, ldy, nc, accumulate);
  }
  if constexpr (MR > 4) {
    if (i + 4 <= m) {
      micro<T, VW, 4, PW>(k, x + i * ldx, ldx, panel, y + i * ldy, ldy, nc, accumulate);
      i += 4;
    }
  }
  if constexpr (MR > 2) {
    if (i + 2 <= m) {
      micro<T, VW, 2, PW>(k, x + i * ldx, ldx, panel, y + i * ldy, ldy, nc, accumulate);
      i += 2;
    }
  }
  for (; i < m; ++i) {
    micro<T, VW, 1, PW>(k, x + i * ldx, ldx, panel, y + i * ldy, ldy, nc, accumulate);
  }
}

template <typename T, int VW, int MR>
inline __attribute__((always_inline)) void multiply_impl(const T* panels, int64_t k, int64_t n,
                                                         const T* x, int64_t m, int64_t ldx,
                                                         T* y, int64_t ldy, bool accumulate) {
  constexpr int64_t P = PackedWeights<T>::kPanel;
  const int64_t nfull = PackedWeights<T>::full_panels(n);
  for (int64_t p = 0; p < nfull; ++p) {
    const int64_t p0 = p * P;
    panel_rows<T, VW, MR, P>(panels + p * k * P, k, x, m, ldx, y + p0, ldy,
                             std::min(P, n - p0), accumulate);
  }
  if (nfull * P < n) {  // a narrow last panel of P / 2 columns
    panel_rows<T, VW, MR, P / 2>(panels + nfull * k * P, k, x, m, ldx, y + nfull * P, ldy,
                                 n - nfull * P, accumulate);
  }
}

#ifndef DEEPFT_PACKED_MR
#define DEEPFT_PACKED_MR 8
#endif

// One kernel per instruction set, chosen once at run time.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__APPLE__) && !defined(__clang__)
template <typename T>
__attribute__((target("arch=x86-64-v4"))) void multiply_v4(const T* panels, int64_t k, int64_t n,
    const T* x, int64_t m, int64_t ldx, T* y, int64_t ldy, bool acc) {
  multiply_impl<T, 64, DEEPFT_PACKED_MR>(panels, k, n, x, m, ldx, y, ldy, acc);
}
template <typename T>
__attribute__((target("arch=x86-64-v3"))) void multiply_v3(const T* panels, int64_t k, int64_t n,
    const T* x, int64_t m, int64_t ldx, T* y, int64_t ldy, bool acc) {
  multiply_impl<T, 32, 2>(panels, k, n, x, m, ldx, y, ldy, acc);
}
#endif
template <typename T>
void multiply_base(const T* panels, int64_t k, int64_t n, const T* x, int64_t m, int64_t ldx,
                   T* y, int64_t ldy, bool acc) {
  multiply_impl<T, 16, 1>(panels, k, n, x, m, ldx, y, ldy, acc);
}

template <typename T>
using MultiplyFn = void (*)(const T*, int64_t, int64_t, const T*, int64_t, int64_t, T*, int64_t,
                            bool);

/// The widest kernel the CPU runs; DEEPFT_PACKED_KERNEL=v3 or base forces a narrower one
/// (tests).
template <typename T>
MultiplyFn<T> pick_kernel() {
  const char* forced = std::getenv("DEEPFT_PACKED_KERNEL");
  const std::string want = forced != nullptr ? forced : "";
  if (want == "base") return &multiply_base<T>;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__APPLE__) && !defined(__clang__)
  __builtin_cpu_init();
  if (want != "v3" && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")) {
    return &multiply_v4<T>;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &multiply_v3<T>;
#endif
  return &multiply_base<T>;
}

template <typename T>
void multiply_dispatch(const T* panels, int64_t k, int64_t n, const T* x, int64_t m, int64_t ldx,
                       T* y, int64_t ldy, bool acc) {
  static const MultiplyFn<T> fn = pick_kernel<T>();
  fn(panels, k, n, x, m, ldx, y, ldy, acc);
}

}  // namespace

template <typename T>
PackedWeights<T>::PackedWeights(const T* w, int64_t k, int64_t n, bool transpose) {
  // the product's W is [k_, n_]: w itself, or wᵀ when transpose (w is then [n_, k_])
  k_ = transpose ? n : k;
  n_ = transpose ? k : n;
  const int64_t nfull = full_panels(n_);
  const bool narrow = nfull * kPanel < n_;
  panels_.assign(static_cast<size_t>((nfull * kPanel + (narrow ? kPanel / 2 : 0)) * k_), T(0));
  for (int64_t r = 0; r < k_; ++r) {
    for (int64_t c = 0; c < n_; ++c) {
      const T v = transpose ? w[c * n + r] : w[r * n + c];
      const int64_t p = c / kPanel;
      if (p < nfull) {
        panels_[p * k_ * kPanel + r * kPanel + c % kPanel] = v;
      } else {  // narrow last panel, row stride kPanel / 2
        panels_[nfull * k_ * kPanel + r * (kPanel / 2) + (c - nfull * kPanel)] = v;
      }
    }
  }
}

template <>
void PackedWeights<double>::multiply(const double* x, int64_t m, int64_t ldx, double* y,
                                     int64_t ldy, bool accumulate) const {
  multiply_dispatch<double>(panels_.data(), k_, n_, x, m, ldx, y, ldy, accumulate);
}

template <>
void PackedWeights<float>::multiply(const float* x, int64_t m, int64_t ldx, float* y,
                                    int64_t ldy, bool accumulate) const {
  multiply_dispatch<float>(panels_.data(), k_, n_, x, m, ldx, y, ldy, accumulate);
}

template class PackedWeights<double>;
template class PackedWeights<float>;

double packed_peak_gflops(int64_t m, int64_t k, int64_t n, int repeat) {
  std::vector<double> w(k * n), x(m * k), y(m * n);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 1e-3 * static_cast<double>(i % 97);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 1e-3 * static_cast<double>(i % 89);
  const PackedWeights<double> packed(w.data(), k, n);
  double best = 1e300;
  for (int r = 0; r < std::max(repeat, 1); ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    packed.multiply(x.data(), m, k, y.data(), n, false);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
                              .count());
  }
  return 2.0 * static_cast<double>(m * k * n) / best * 1e-9;
}

void set_packed_layers(bool on) { g_packed = on; }
bool packed_layers() { return g_packed; }

}  // namespace deepft
