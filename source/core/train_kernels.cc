#include "train_kernels.h"

#include <algorithm>
#include <vector>

#include "multiversion.h"
#include "se_a_kernels.h"
#include "tanh_kernel.h"
#include "threads.h"

namespace deepft::train {

namespace {

using detail::tanh_kernel;

/// Rows per block: the block's z, zt, dz, dzt ([128, out]) stay in cache between the matrix
/// product and the element-wise work.
constexpr int64_t kBlockRows = 128;
/// Blocks per group of the sums over rows (fixed: the sums do not depend on the thread count).
constexpr int64_t kBlocksPerGroup = 8;

// Vectors of VW bytes (GCC/Clang vector extensions), loadable from any T-aligned address.
template <typename T, int VW>
struct Vec {
  typedef T type __attribute__((vector_size(VW), aligned(sizeof(T))));
};

// ---- tanh tangent layer: element-wise parts of one block (pointers at the block's first row) --

/// z [m, out] holds x w (no bias); writes h, y, yt. zt [m, out] holds xt w.
template <typename T, Skip S, bool HasIdt>
DEEPFT_INLINE void forward_rows(int64_t m, int64_t in, int64_t out, const T* __restrict b,
                                const T* __restrict idt, const T* x, const T* xt, const T* z,
                                const T* zt, T* h, T* y, T* yt) {
  for (int64_t r = 0; r < m; ++r) {
    const T* __restrict zr = z + r * out;
    const T* __restrict ztr = zt + r * out;
    T* __restrict hr = h + r * out;
    T* __restrict yr = y + r * out;
    T* __restrict ytr = yt + r * out;
    for (int64_t o = 0; o < out; ++o) {
      const T hv = static_cast<T>(tanh_kernel(static_cast<double>(zr[o] + b[o])));
      const T ht = (T(1) - hv * hv) * ztr[o];
      hr[o] = hv;
      yr[o] = HasIdt ? idt[o] * hv : hv;
      ytr[o] = HasIdt ? idt[o] * ht : ht;
    }
    if constexpr (S != Skip::kNone) {
      const T* __restrict xr = x + r * in;
      const T* __restrict xtr = xt + r * in;
      for (int64_t o = 0; o < in; ++o) {
        yr[o] += xr[o];
        ytr[o] += xtr[o];
      }
      if constexpr (S == Skip::kDouble) {
        for (int64_t o = 0; o < in; ++o) {
          yr[in + o] += xr[o];
          ytr[in + o] += xtr[o];
        }
      }
    }
  }
}

/// dz, dzt [m, out] of one block; adds its column sums to part [3, out] (bias, idt, and the
/// weight of a layer with one input: x dz + xt dzt).
template <typename T, bool HasIdt, bool OneInput>
DEEPFT_INLINE void backward_rows(int64_t m, int64_t out, const T* __restrict idt, const T* h,
                                 const T* zt,
                                 const T* dy, const T* dyt, const T* x, const T* xt, T* dz,
                                 T* dzt, T* part) {
  T* __restrict pb = part;
  T* __restrict pi = part + out;
  T* __restrict pw = part + 2 * out;
  for (int64_t r = 0; r < m; ++r) {
    const T* __restrict hr = h + r * out;
    const T* __restrict ztr = zt + r * out;
    const T* __restrict dyr = dy + r * out;
    const T* __restrict dytr = dyt + r * out;
    T* __restrict dzr = dz + r * out;
    T* __restrict dztr = dzt + r * out;
    T xr = 0, xtr = 0;
    if constexpr (OneInput) {
      xr = x[r];
      xtr = xt[r];
    }
    for (int64_t o = 0; o < out; ++o) {
      const T hv = hr[o], zv = ztr[o];
      const T g = T(1) - hv * hv;
      const T dh = HasIdt ? idt[o] * dyr[o] : dyr[o];
      const T dht = HasIdt ? idt[o] * dytr[o] : dytr[o];
      const T dzv = g * (dh - T(2) * hv * zv * dht);
      const T dztv = g * dht;
      dzr[o] = dzv;
      dztr[o] = dztv;
    }
    // the sums in loops of their own (in one loop with the stores above GCC vectorizes none)
    for (int64_t o = 0; o < out; ++o) pb[o] += dzr[o];
    if constexpr (HasIdt) {
      for (int64_t o = 0; o < out; ++o) {
        const T hv = hr[o];
        pi[o] += dyr[o] * hv + dytr[o] * ((T(1) - hv * hv) * ztr[o]);
      }
    }
    if constexpr (OneInput) {
      for (int64_t o = 0; o < out; ++o) pw[o] += xr * dzr[o] + xtr * dztr[o];
    }
  }
}

/// c [M, N] (row stride N) = or += a b for a small product inside a block: a [M, K] read with
/// strides (row stride sar, column stride sak, so aᵀ of a row-major array works too), b [K, N]
/// row-major. Register tiles of IR rows x NV vectors (12 accumulators: a tile of 2 x 4 vectors
/// measured 24 GFLOP/s on AVX2, 6 x 2 vectors 41), remainder rows one at a time, then one
/// vector of the remaining columns if it fits, the last columns scalar.
template <typename T, int VW, bool Accumulate>
DEEPFT_INLINE void small_gemm(int64_t M, int64_t N, int64_t K, const T* __restrict a,
                              int64_t sar, int64_t sak, const T* __restrict b,
                              T* __restrict c) {
  using V = typename Vec<T, VW>::type;
  constexpr int64_t L = VW / static_cast<int64_t>(sizeof(T));
  constexpr int IR = 6, NV = 2;
  constexpr int64_t CW = NV * L;
  const int64_t nv = N - N % CW;
  for (int64_t o = 0; o < nv; o += CW) {
    int64_t i = 0;
    for (; i + IR <= M; i += IR) {
      V s[IR][NV];
#pragma GCC unroll 6
      for (int q = 0; q < IR; ++q) {
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) {
          s[q][v] = Accumulate ? *reinterpret_cast<const V*>(c + (i + q) * N + o + v * L) : V{};
        }
      }
      for (int64_t k = 0; k < K; ++k) {
        V bv[NV];
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) bv[v] = *reinterpret_cast<const V*>(b + k * N + o + v * L);
#pragma GCC unroll 6
        for (int q = 0; q < IR; ++q) {
          const T aq = a[(i + q) * sar + k * sak];
#pragma GCC unroll 2
          for (int v = 0; v < NV; ++v) s[q][v] += aq * bv[v];
        }
      }
#pragma GCC unroll 6
      for (int q = 0; q < IR; ++q) {
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) *reinterpret_cast<V*>(c + (i + q) * N + o + v * L) = s[q][v];
      }
    }
    for (; i < M; ++i) {
      V s[NV];
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) {
        s[v] = Accumulate ? *reinterpret_cast<const V*>(c + i * N + o + v * L) : V{};
      }
      for (int64_t k = 0; k < K; ++k) {
        const T ai = a[i * sar + k * sak];
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) s[v] += ai * *reinterpret_cast<const V*>(b + k * N + o + v * L);
      }
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) *reinterpret_cast<V*>(c + i * N + o + v * L) = s[v];
    }
  }
  int64_t done = nv;
  if (N - nv >= L) {  // one more vector of columns
    for (int64_t i = 0; i < M; ++i) {
      V s = Accumulate ? *reinterpret_cast<const V*>(c + i * N + nv) : V{};
      for (int64_t k = 0; k < K; ++k) {
        s += a[i * sar + k * sak] * *reinterpret_cast<const V*>(b + k * N + nv);
      }
      *reinterpret_cast<V*>(c + i * N + nv) = s;
    }
    done += L;
  }
  for (int64_t i = 0; i < M && done < N; ++i) {
    for (int64_t o = done; o < N; ++o) {
      T s = Accumulate ? c[i * N + o] : T(0);
      for (int64_t k = 0; k < K; ++k) s += a[i * sar + k * sak] * b[k * N + o];
      c[i * N + o] = s;
    }
  }
}

#define DEEPFT_TANGENT_ROWS(T, SUFFIX)                                                         \
  DEEPFT_MULTIVERSION void forward_block_##SUFFIX(int64_t m, int64_t in, int64_t out,          \
                                                  Skip skip, const T* b, const T* idt,         \
                                                  const T* x, const T* xt, const T* z,         \
                                                  const T* zt, T* h, T* y, T* yt) {            \
    const bool i = idt != nullptr;                                                             \
    switch (skip) {                                                                            \
      case Skip::kNone:                                                                        \
        return i ? forward_rows<T, Skip::kNone, true>(m, in, out, b, idt, x, xt, z, zt, h, y,  \
                                                      yt)                                      \
                 : forward_rows<T, Skip::kNone, false>(m, in, out, b, idt, x, xt, z, zt, h, y,  \
                                                       yt);                                    \
      case Skip::kSame:                                                                        \
        return i ? forward_rows<T, Skip::kSame, true>(m, in, out, b, idt, x, xt, z, zt, h, y,  \
                                                      yt)                                      \
                 : forward_rows<T, Skip::kSame, false>(m, in, out, b, idt, x, xt, z, zt, h, y,  \
                                                       yt);                                    \
      case Skip::kDouble:                                                                      \
        return i ? forward_rows<T, Skip::kDouble, true>(m, in, out, b, idt, x, xt, z, zt, h,   \
                                                        y, yt)                                 \
                 : forward_rows<T, Skip::kDouble, false>(m, in, out, b, idt, x, xt, z, zt, h,  \
                                                         y, yt);                               \
    }                                                                                          \
  }                                                                                            \
  DEEPFT_MULTIVERSION void backward_block_##SUFFIX(int64_t m, int64_t out, const T* idt,       \
                                                   const T* h, const T* zt, const T* dy,       \
                                                   const T* dyt, const T* x1, const T* xt1,    \
                                                   T* dz, T* dzt, T* part) {                   \
    const bool i = idt != nullptr, w = x1 != nullptr;                                          \
    if (i && w) {                                                                              \
      backward_rows<T, true, true>(m, out, idt, h, zt, dy, dyt, x1, xt1, dz, dzt, part);       \
    } else if (i) {                                                                            \
      backward_rows<T, true, false>(m, out, idt, h, zt, dy, dyt, x1, xt1, dz, dzt, part);      \
    } else if (w) {                                                                            \
      backward_rows<T, false, true>(m, out, idt, h, zt, dy, dyt, x1, xt1, dz, dzt, part);      \
    } else {                                                                                   \
      backward_rows<T, false, false>(m, out, idt, h, zt, dy, dyt, x1, xt1, dz, dzt, part);     \
    }                                                                                          \
  }

DEEPFT_TANGENT_ROWS(double, d)
DEEPFT_TANGENT_ROWS(float, f)
#undef DEEPFT_TANGENT_ROWS

inline void forward_block(int64_t m, int64_t in, int64_t out, Skip skip, const double* b,
                          const double* idt, const double* x, const double* xt, const double* z,
                          const double* zt, double* h, double* y, double* yt) {
  forward_block_d(m, in, out, skip, b, idt, x, xt, z, zt, h, y, yt);
}
inline void forward_block(int64_t m, int64_t in, int64_t out, Skip skip, const float* b,
                          const float* idt, const float* x, const float* xt, const float* z,
                          const float* zt, float* h, float* y, float* yt) {
  forward_block_f(m, in, out, skip, b, idt, x, xt, z, zt, h, y, yt);
}
inline void backward_block(int64_t m, int64_t out, const double* idt, const double* h,
                           const double* zt, const double* dy, const double* dyt,
                           const double* x1, const double* xt1, double* dz, double* dzt,
                           double* part) {
  backward_block_d(m, out, idt, h, zt, dy, dyt, x1, xt1, dz, dzt, part);
}
inline void backward_block(int64_t m, int64_t out, const float* idt, const float* h,
                           const float* zt, const float* dy, const float* dyt, const float* x1,
                           const float* xt1, float* dz, float* dzt, float* part) {
  backward_block_f(m, out, idt, h, zt, dy, dyt, x1, xt1, dz, dzt, part);
}

// small_gemm, one kernel per instruction set, chosen once at run time.
template <typename T, int VW>
DEEPFT_INLINE void small_gemm_any(bool acc, int64_t M, int64_t N, int64_t K, const T* a,
                                  int64_t sar, int64_t sak, const T* b, T* c) {
  if (acc) {
    small_gemm<T, VW, true>(M, N, K, a, sar, sak, b, c);
  } else {
    small_gemm<T, VW, false>(M, N, K, a, sar, sak, b, c);
  }
}
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__APPLE__) && !defined(__clang__)
template <typename T>
__attribute__((target("arch=x86-64-v4"))) void gemm_v4(bool acc, int64_t M, int64_t N,
                                                       int64_t K, const T* a, int64_t sar,
                                                       int64_t sak, const T* b, T* c) {
  small_gemm_any<T, 64>(acc, M, N, K, a, sar, sak, b, c);
}
template <typename T>
__attribute__((target("arch=x86-64-v3"))) void gemm_v3(bool acc, int64_t M, int64_t N,
                                                       int64_t K, const T* a, int64_t sar,
                                                       int64_t sak, const T* b, T* c) {
  small_gemm_any<T, 32>(acc, M, N, K, a, sar, sak, b, c);
}
#endif
template <typename T>
void gemm_base(bool acc, int64_t M, int64_t N, int64_t K, const T* a, int64_t sar, int64_t sak,
               const T* b, T* c) {
  small_gemm_any<T, 16>(acc, M, N, K, a, sar, sak, b, c);
}

template <typename T>
using GemmFn = void (*)(bool, int64_t, int64_t, int64_t, const T*, int64_t, int64_t, const T*,
                        T*);

template <typename T>
GemmFn<T> pick_gemm() {
#ifdef DEEPFT_X86_LEVELS
  const int level = simd_level();
  if (level == 4) return &gemm_v4<T>;
  if (level == 3) return &gemm_v3<T>;
#endif
  return &gemm_base<T>;
}

/// c [M, N] (+)= a b with a read through strides (sar, sak); see small_gemm.
template <typename T>
void block_gemm(bool accumulate, int64_t M, int64_t N, int64_t K, const T* a, int64_t sar,
                int64_t sak, const T* b, T* c) {
  static const GemmFn<T> fn = pick_gemm<T>();
  fn(accumulate, M, N, K, a, sar, sak, b, c);
}

// ---- se_e2_a contractions ----------------------------------------------------------------------

template <typename T>
DEEPFT_INLINE void contract_backward_atom(int64_t k, int64_t m, const T* __restrict r,
                                          const T* __restrict dt, T* __restrict dg) {
  const T* d0 = dt;
  const T* d1 = dt + m;
  const T* d2 = dt + 2 * m;
  const T* d3 = dt + 3 * m;
  for (int64_t j = 0; j < k; ++j) {
    const T r0 = r[4 * j], r1 = r[4 * j + 1], r2 = r[4 * j + 2], r3 = r[4 * j + 3];
    T* dgj = dg + j * m;
    for (int64_t i = 0; i < m; ++i) dgj[i] = r0 * d0[i] + r1 * d1[i] + r2 * d2[i] + r3 * d3[i];
  }
}

template <typename T>
DEEPFT_INLINE void pair_backward_atom(int64_t k, int64_t m, const T* __restrict r,
                                      const T* __restrict g, const T* __restrict gt,
                                      const T* __restrict a, const T* __restrict v,
                                      T* __restrict da, T* __restrict dg, T* __restrict dgt) {
  const T* a0 = a;
  const T* a1 = a + m;
  const T* a2 = a + 2 * m;
  const T* a3 = a + 3 * m;
  T* da0 = da;
  T* da1 = da + m;
  T* da2 = da + 2 * m;
  T* da3 = da + 3 * m;
  std::fill(da, da + 4 * m, T(0));
  for (int64_t j = 0; j < k; ++j) {
    const T v0 = v[4 * j], v1 = v[4 * j + 1], v2 = v[4 * j + 2], v3 = v[4 * j + 3];
    const T w0 = v0 * r[4 * j], w1 = v0 * r[4 * j + 1];
    const T w2 = v0 * r[4 * j + 2], w3 = v0 * r[4 * j + 3];
    const T* gj = g + j * m;
    const T* tj = gt + j * m;
    T* dgj = dg + j * m;
    T* dtj = dgt + j * m;
    for (int64_t i = 0; i < m; ++i) {
      const T x0 = a0[i], x1 = a1[i], x2 = a2[i], x3 = a3[i];
      dgj[i] = v0 * x0 + v1 * x1 + v2 * x2 + v3 * x3;
      dtj[i] = w0 * x0 + w1 * x1 + w2 * x2 + w3 * x3;
      const T gv = gj[i], tv = tj[i];
      da0[i] += v0 * gv + w0 * tv;
      da1[i] += v1 * gv + w1 * tv;
      da2[i] += v2 * gv + w2 * tv;
      da3[i] += v3 * gv + w3 * tv;
    }
  }
}

#define DEEPFT_CONTRACT_ATOMS(T, SUFFIX)                                                       \
  DEEPFT_MULTIVERSION void contract_backward_atoms_##SUFFIX(int64_t n0, int64_t n1, int64_t k, \
                                                            int64_t m, const T* r,             \
                                                            const T* dt, T* dg) {              \
    for (int64_t n = n0; n < n1; ++n) {                                                        \
      contract_backward_atom<T>(k, m, r + n * k * 4, dt + n * 4 * m, dg + n * k * m);          \
    }                                                                                          \
  }                                                                                            \
  DEEPFT_MULTIVERSION void pair_backward_atoms_##SUFFIX(                                       \
      int64_t n0, int64_t n1, int64_t k, int64_t m, const T* r, const T* g, const T* gt,       \
      const T* a, const T* v, T* da, T* dg, T* dgt) {                                          \
    for (int64_t n = n0; n < n1; ++n) {                                                        \
      pair_backward_atom<T>(k, m, r + n * k * 4, g + n * k * m, gt + n * k * m, a + n * 4 * m, \
                            v + n * k * 4, da + n * 4 * m, dg + n * k * m, dgt + n * k * m);   \
    }                                                                                          \
  }

DEEPFT_CONTRACT_ATOMS(double, d)
DEEPFT_CONTRACT_ATOMS(float, f)
#undef DEEPFT_CONTRACT_ATOMS

inline void contract_backward_atoms(int64_t n0, int64_t n1, int64_t k, int64_t m,
                                    const double* r, const double* dt, double* dg) {
  contract_backward_atoms_d(n0, n1, k, m, r, dt, dg);
}
inline void contract_backward_atoms(int64_t n0, int64_t n1, int64_t k, int64_t m, const float* r,
                                    const float* dt, float* dg) {
  contract_backward_atoms_f(n0, n1, k, m, r, dt, dg);
}
inline void pair_backward_atoms(int64_t n0, int64_t n1, int64_t k, int64_t m, const double* r,
                                const double* g, const double* gt, const double* a,
                                const double* v, double* da, double* dg, double* dgt) {
  pair_backward_atoms_d(n0, n1, k, m, r, g, gt, a, v, da, dg, dgt);
}
inline void pair_backward_atoms(int64_t n0, int64_t n1, int64_t k, int64_t m, const float* r,
                                const float* g, const float* gt, const float* a, const float* v,
                                float* da, float* dg, float* dgt) {
  pair_backward_atoms_f(n0, n1, k, m, r, g, gt, a, v, da, dg, dgt);
}

/// Atoms per OpenMP task of the per-atom loops.
constexpr int64_t kAtomsPerTask = 4;

}  // namespace

template <typename T>
void tanh_tangent_layer(int64_t rows, int64_t in, int64_t out, Skip skip, const T* w,
                        const T* b, const T* idt, const T* x, const T* xt, T* h, T* zt, T* y,
                        T* yt) {
  const int64_t nb = (rows + kBlockRows - 1) / kBlockRows;
#pragma omp parallel num_threads(threads_for(rows * out))
  {
    std::vector<T> z(static_cast<size_t>(kBlockRows * out));
#pragma omp for schedule(static)
    for (int64_t blk = 0; blk < nb; ++blk) {
      const int64_t r0 = blk * kBlockRows, m = std::min(rows, r0 + kBlockRows) - r0;
      T* ztb = zt + r0 * out;
      if (in == 1) {  // an outer product: z = x w, zt = xt w
        for (int64_t r = 0; r < m; ++r) {
          for (int64_t o = 0; o < out; ++o) {
            z[r * out + o] = x[r0 + r] * w[o];
            ztb[r * out + o] = xt[r0 + r] * w[o];
          }
        }
      } else {
        block_gemm<T>(false, m, out, in, x + r0 * in, in, 1, w, z.data());
        block_gemm<T>(false, m, out, in, xt + r0 * in, in, 1, w, ztb);
      }
      forward_block(m, in, out, skip, b, idt, x + r0 * in, xt + r0 * in, z.data(), ztb,
                    h + r0 * out, y + r0 * out, yt + r0 * out);
    }
  }
}

namespace {

/// dx = skipᵀ(dy) + dz wᵀ for one block of m rows (dy [m, out], dz [m, out], dx [m, in]).
template <typename T>
void input_gradient(int64_t m, int64_t in, int64_t out, Skip skip, const T* wt, const T* w,
                    const T* dy, const T* dz, T* dx) {
  for (int64_t r = 0; r < m; ++r) {
    const T* dyr = dy + r * out;
    T* dxr = dx + r * in;
    if (skip == Skip::kDouble) {
      for (int64_t i = 0; i < in; ++i) dxr[i] = dyr[i] + dyr[in + i];
    } else if (skip == Skip::kSame) {
      for (int64_t i = 0; i < in; ++i) dxr[i] = dyr[i];
    } else {
      for (int64_t i = 0; i < in; ++i) dxr[i] = T(0);
    }
    if (in == 1) {  // a row reduction
      const T* dzr = dz + r * out;
      T s = 0;
      for (int64_t o = 0; o < out; ++o) s += dzr[o] * w[o];
      dxr[0] += s;
    }
  }
  if (in > 1) block_gemm<T>(true, m, in, out, dz, out, 1, wt, dx);
}

}  // namespace

template <typename T>
void tanh_tangent_layer_backward(int64_t rows, int64_t in, int64_t out, Skip skip, const T* w,
                                 const T* idt, const T* x, const T* xt, const T* h, const T* zt,
                                 const T* dy, const T* dyt, T* dw, T* d_bias, T* d_idt, T* dx,
                                 T* dxt) {
  const bool want_dx = dx != nullptr && dxt != nullptr;
  std::vector<T> wt;  // wᵀ [out, in] for dx = dz wᵀ
  if (want_dx && in > 1) {
    wt.resize(static_cast<size_t>(in * out));
    for (int64_t i = 0; i < in; ++i) {
      for (int64_t o = 0; o < out; ++o) wt[o * in + i] = w[i * out + o];
    }
  }
  const int64_t nb = (rows + kBlockRows - 1) / kBlockRows;
  const int64_t ngroups = (nb + kBlocksPerGroup - 1) / kBlocksPerGroup;
  // per group: [3, out] column sums (bias, idt, one-input weight), then [in, out] weight sums
  const int64_t stride = 3 * out + (in > 1 && dw != nullptr ? in * out : 0);
  std::vector<T> part(static_cast<size_t>(ngroups * stride), T(0));
  const T* x1 = in == 1 && dw != nullptr ? x : nullptr;
  const T* xt1 = in == 1 && dw != nullptr ? xt : nullptr;
#pragma omp parallel num_threads(threads_for(rows * out))
  {
    std::vector<T> dz(static_cast<size_t>(kBlockRows * out)), dzt(dz.size());
#pragma omp for schedule(static)
    for (int64_t grp = 0; grp < ngroups; ++grp) {
      T* gp = part.data() + grp * stride;
      for (int64_t blk = grp * kBlocksPerGroup; blk < std::min(nb, (grp + 1) * kBlocksPerGroup);
           ++blk) {
        const int64_t r0 = blk * kBlockRows, m = std::min(rows, r0 + kBlockRows) - r0;
        backward_block(m, out, idt, h + r0 * out, zt + r0 * out, dy + r0 * out,
                       dyt + r0 * out, x1 == nullptr ? nullptr : x1 + r0,
                       xt1 == nullptr ? nullptr : xt1 + r0, dz.data(), dzt.data(), gp);
        if (in > 1 && dw != nullptr) {
          // dw += xᵀ dz + xtᵀ dzt: a = xᵀ read through the strides of x
          block_gemm<T>(true, in, out, m, x + r0 * in, 1, in, dz.data(), gp + 3 * out);
          block_gemm<T>(true, in, out, m, xt + r0 * in, 1, in, dzt.data(), gp + 3 * out);
        }
        if (want_dx) {
          input_gradient<T>(m, in, out, skip, wt.data(), w, dy + r0 * out, dz.data(),
                            dx + r0 * in);
          input_gradient<T>(m, in, out, skip, wt.data(), w, dyt + r0 * out, dzt.data(),
                            dxt + r0 * in);
        }
      }
    }
  }
  // the groups' sums in group order
  T* sums[3] = {d_bias, d_idt, in == 1 ? dw : nullptr};
  for (int s = 0; s < 3; ++s) {
    if (sums[s] == nullptr) continue;
    std::fill(sums[s], sums[s] + out, T(0));
    for (int64_t grp = 0; grp < ngroups; ++grp) {
      const T* p = part.data() + grp * stride + s * out;
      for (int64_t o = 0; o < out; ++o) sums[s][o] += p[o];
    }
  }
  if (in > 1 && dw != nullptr) {
    std::fill(dw, dw + in * out, T(0));
    for (int64_t grp = 0; grp < ngroups; ++grp) {
      const T* p = part.data() + grp * stride + 3 * out;
      for (int64_t k = 0; k < in * out; ++k) dw[k] += p[k];
    }
  }
}

template <typename T>
void env_contract(int64_t n, int64_t k, int64_t m, const T* r, const T* g, T* t) {
  const int64_t tasks = (n + kAtomsPerTask - 1) / kAtomsPerTask;
#pragma omp parallel for schedule(static) num_threads(threads_for(n * k * m))
  for (int64_t task = 0; task < tasks; ++task) {
    for (int64_t i = task * kAtomsPerTask; i < std::min(n, (task + 1) * kAtomsPerTask); ++i) {
      T* ti = t + i * 4 * m;
      std::fill(ti, ti + 4 * m, T(0));
      se_a::t_accumulate<T>(k, m, r + i * k * 4, g + i * k * m, T(1), ti);
    }
  }
}

template <typename T>
void env_contract_backward(int64_t n, int64_t k, int64_t m, const T* r, const T* dt, T* dg) {
  const int64_t tasks = (n + kAtomsPerTask - 1) / kAtomsPerTask;
#pragma omp parallel for schedule(static) num_threads(threads_for(n * k * m))
  for (int64_t task = 0; task < tasks; ++task) {
    contract_backward_atoms(task * kAtomsPerTask, std::min(n, (task + 1) * kAtomsPerTask), k, m,
                            r, dt, dg);
  }
}

template <typename T>
void pair_grad(int64_t n, int64_t k, int64_t m, const T* r, const T* g, const T* gt, const T* a,
               T* out) {
  const int64_t tasks = (n + kAtomsPerTask - 1) / kAtomsPerTask;
#pragma omp parallel for schedule(static) num_threads(threads_for(n * k * m))
  for (int64_t task = 0; task < tasks; ++task) {
    for (int64_t i = task * kAtomsPerTask; i < std::min(n, (task + 1) * kAtomsPerTask); ++i) {
      se_a::rows_backward_tangent<T>(k, m, r + i * k * 4, g + i * k * m, gt + i * k * m,
                                     a + i * 4 * m, out + i * k * 4);
    }
  }
}

template <typename T>
void pair_grad_backward(int64_t n, int64_t k, int64_t m, const T* r, const T* g, const T* gt,
                        const T* a, const T* v, T* da, T* dg, T* dgt) {
  const int64_t tasks = (n + kAtomsPerTask - 1) / kAtomsPerTask;
#pragma omp parallel for schedule(static) num_threads(threads_for(n * k * m))
  for (int64_t task = 0; task < tasks; ++task) {
    pair_backward_atoms(task * kAtomsPerTask, std::min(n, (task + 1) * kAtomsPerTask), k, m, r,
                        g, gt, a, v, da, dg, dgt);
  }
}

#define DEEPFT_TRAIN_INSTANTIATE(T)                                                            \
  template void tanh_tangent_layer<T>(int64_t, int64_t, int64_t, Skip, const T*, const T*,     \
                                      const T*, const T*, const T*, T*, T*, T*, T*);           \
  template void tanh_tangent_layer_backward<T>(int64_t, int64_t, int64_t, Skip, const T*,      \
                                               const T*, const T*, const T*, const T*,         \
                                               const T*, const T*, const T*, T*, T*, T*, T*,   \
                                               T*);                                            \
  template void env_contract<T>(int64_t, int64_t, int64_t, const T*, const T*, T*);            \
  template void env_contract_backward<T>(int64_t, int64_t, int64_t, const T*, const T*, T*);   \
  template void pair_grad<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*,          \
                             const T*, T*);                                                    \
  template void pair_grad_backward<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*, \
                                      const T*, const T*, T*, T*, T*);

DEEPFT_TRAIN_INSTANTIATE(double)
DEEPFT_TRAIN_INSTANTIATE(float)
#undef DEEPFT_TRAIN_INSTANTIATE

}  // namespace deepft::train
