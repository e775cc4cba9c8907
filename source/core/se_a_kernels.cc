#include "se_a_kernels.h"

#include "multiversion.h"

namespace deepft::se_a {

namespace {

template <typename T>
DEEPFT_INLINE void t_accumulate_impl(int64_t rows, int64_t m, const T* __restrict r,
                                     const T* __restrict g, T scale, T* __restrict t) {
  T* t0 = t;
  T* t1 = t + m;
  T* t2 = t + 2 * m;
  T* t3 = t + 3 * m;
  for (int64_t k = 0; k < rows; ++k) {
    const T* gk = g + k * m;
    const T r0 = scale * r[4 * k], r1 = scale * r[4 * k + 1];
    const T r2 = scale * r[4 * k + 2], r3 = scale * r[4 * k + 3];
    for (int64_t j = 0; j < m; ++j) {
      const T v = gk[j];
      t0[j] += r0 * v;
      t1[j] += r1 * v;
      t2[j] += r2 * v;
      t3[j] += r3 * v;
    }
  }
}

template <typename T>
DEEPFT_INLINE void descriptor_impl(int64_t m, int64_t a, const T* __restrict t, T* __restrict d) {
  for (int64_t i = 0; i < m; ++i) {
    const T c0 = t[i], c1 = t[m + i], c2 = t[2 * m + i], c3 = t[3 * m + i];
    T* di = d + i * a;
    for (int64_t j = 0; j < a; ++j) {
      di[j] = c0 * t[j] + c1 * t[m + j] + c2 * t[2 * m + j] + c3 * t[3 * m + j];
    }
  }
}

template <typename T>
DEEPFT_INLINE void descriptor_backward_impl(int64_t m, int64_t a, const T* __restrict t,
                                            const T* __restrict gd, T scale, T* __restrict gt) {
  // gt[c, i] = sum_j t[c, j] gd[i, j]                 (i < m, j < a)
  for (int c = 0; c < 4; ++c) {
    const T* tc = t + c * m;
    T* gc = gt + c * m;
    for (int64_t i = 0; i < m; ++i) {
      const T* gdi = gd + i * a;
      T s = 0;
      for (int64_t j = 0; j < a; ++j) s += tc[j] * gdi[j];
      gc[i] = scale * s;
    }
  }
  // gt[c, j] += sum_i t[c, i] gd[i, j]                (j < a)
  for (int c = 0; c < 4; ++c) {
    const T* tc = t + c * m;
    T acc[64];
    for (int64_t j0 = 0; j0 < a; j0 += 64) {
      const int64_t j1 = a - j0 < 64 ? a - j0 : 64;
      for (int64_t j = 0; j < j1; ++j) acc[j] = 0;
      for (int64_t i = 0; i < m; ++i) {
        const T ti = tc[i];
        const T* gdi = gd + i * a + j0;
        for (int64_t j = 0; j < j1; ++j) acc[j] += ti * gdi[j];
      }
      for (int64_t j = 0; j < j1; ++j) gt[c * m + j0 + j] += scale * acc[j];
    }
  }
}

template <typename T>
DEEPFT_INLINE void rows_backward_impl(int64_t rows, int64_t m, const T* __restrict r,
                                      const T* __restrict g, const T* __restrict gt,
                                      T* __restrict gg, T* __restrict gr) {
  const T* g0 = gt;
  const T* g1 = gt + m;
  const T* g2 = gt + 2 * m;
  const T* g3 = gt + 3 * m;
  for (int64_t k = 0; k < rows; ++k) {
    const T r0 = r[4 * k], r1 = r[4 * k + 1], r2 = r[4 * k + 2], r3 = r[4 * k + 3];
    const T* gk = g + k * m;
    T* ggk = gg + k * m;
    T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int64_t j = 0; j < m; ++j) {
      ggk[j] = r0 * g0[j] + r1 * g1[j] + r2 * g2[j] + r3 * g3[j];
      const T v = gk[j];
      s0 += v * g0[j];
      s1 += v * g1[j];
      s2 += v * g2[j];
      s3 += v * g3[j];
    }
    gr[4 * k] = s0;
    gr[4 * k + 1] = s1;
    gr[4 * k + 2] = s2;
    gr[4 * k + 3] = s3;
  }
}

// Vectors of VW bytes (GCC/Clang vector extensions), loadable from any T-aligned address. The
// reductions below are written with explicit vector accumulators: without -ffast-math the
// compiler may only vectorize a floating-point sum in its sequential order (no speed-up).
template <typename T, int VW>
struct Vec {
  typedef T type __attribute__((vector_size(VW), aligned(sizeof(T))));
};

template <typename T, int VW>
DEEPFT_INLINE void rows_backward_tangent_impl(int64_t rows, int64_t m, const T* __restrict r,
                                              const T* __restrict g, const T* __restrict j,
                                              const T* __restrict gt, T* __restrict out) {
  using V = typename Vec<T, VW>::type;
  constexpr int64_t L = VW / sizeof(T);
  const int64_t mv = m - m % L;
  for (int64_t k = 0; k < rows; ++k) {
    const T* gk = g + k * m;
    const T* jk = j + k * m;
    V s[4] = {}, u[4] = {};
    for (int64_t i = 0; i < mv; i += L) {
      const V v = *reinterpret_cast<const V*>(gk + i);
      const V w = *reinterpret_cast<const V*>(jk + i);
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) {
        const V b = *reinterpret_cast<const V*>(gt + c * m + i);
        s[c] += v * b;
        u[c] += w * b;
      }
    }
    T ss[4], uu[4];
    for (int c = 0; c < 4; ++c) {
      T a = 0, b = 0;
      for (int64_t i = mv; i < m; ++i) {
        a += gk[i] * gt[c * m + i];
        b += jk[i] * gt[c * m + i];
      }
      for (int64_t l = 0; l < L; ++l) {
        a += s[c][l];
        b += u[c][l];
      }
      ss[c] = a;
      uu[c] = b;
    }
    const T* rk = r + 4 * k;
    out[4 * k] = ss[0] + rk[0] * uu[0] + rk[1] * uu[1] + rk[2] * uu[2] + rk[3] * uu[3];
    out[4 * k + 1] = ss[1];
    out[4 * k + 2] = ss[2];
    out[4 * k + 3] = ss[3];
  }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__APPLE__) && !defined(__clang__)
template <typename T>
__attribute__((target("arch=x86-64-v4"))) void rbt_v4(int64_t rows, int64_t m, const T* r,
                                                      const T* g, const T* j, const T* gt,
                                                      T* out) {
  rows_backward_tangent_impl<T, 64>(rows, m, r, g, j, gt, out);
}
template <typename T>
__attribute__((target("arch=x86-64-v3"))) void rbt_v3(int64_t rows, int64_t m, const T* r,
                                                      const T* g, const T* j, const T* gt,
                                                      T* out) {
  rows_backward_tangent_impl<T, 32>(rows, m, r, g, j, gt, out);
}
#endif
template <typename T>
void rbt_base(int64_t rows, int64_t m, const T* r, const T* g, const T* j, const T* gt, T* out) {
  rows_backward_tangent_impl<T, 16>(rows, m, r, g, j, gt, out);
}

template <typename T>
using RbtFn = void (*)(int64_t, int64_t, const T*, const T*, const T*, const T*, T*);

template <typename T>
RbtFn<T> pick_rbt() {
#ifdef DEEPFT_X86_LEVELS
  const int level = simd_level();
  if (level == 4) return &rbt_v4<T>;
  if (level == 3) return &rbt_v3<T>;
#endif
  return &rbt_base<T>;
}

#define DEEPFT_SE_A_WRAPPERS(T, SUFFIX)                                                        \
  DEEPFT_MULTIVERSION void t_accumulate_##SUFFIX(int64_t rows, int64_t m, const T* r,          \
                                                 const T* g, T scale, T* t) {                  \
    t_accumulate_impl<T>(rows, m, r, g, scale, t);                                             \
  }                                                                                            \
  DEEPFT_MULTIVERSION void descriptor_##SUFFIX(int64_t m, int64_t a, const T* t, T* d) {       \
    descriptor_impl<T>(m, a, t, d);                                                            \
  }                                                                                            \
  DEEPFT_MULTIVERSION void descriptor_backward_##SUFFIX(int64_t m, int64_t a, const T* t,      \
                                                        const T* gd, T scale, T* gt) {         \
    descriptor_backward_impl<T>(m, a, t, gd, scale, gt);                                       \
  }                                                                                            \
  DEEPFT_MULTIVERSION void rows_backward_##SUFFIX(int64_t rows, int64_t m, const T* r,         \
                                                  const T* g, const T* gt, T* gg, T* gr) {     \
    rows_backward_impl<T>(rows, m, r, g, gt, gg, gr);                                          \
  }

DEEPFT_SE_A_WRAPPERS(double, d)
DEEPFT_SE_A_WRAPPERS(float, f)

}  // namespace

template <>
void t_accumulate<double>(int64_t rows, int64_t m, const double* r, const double* g,
                          double scale, double* t) {
  t_accumulate_d(rows, m, r, g, scale, t);
}
template <>
void t_accumulate<float>(int64_t rows, int64_t m, const float* r, const float* g, float scale,
                         float* t) {
  t_accumulate_f(rows, m, r, g, scale, t);
}
template <>
void descriptor<double>(int64_t m, int64_t a, const double* t, double* d) {
  descriptor_d(m, a, t, d);
}
template <>
void descriptor<float>(int64_t m, int64_t a, const float* t, float* d) {
  descriptor_f(m, a, t, d);
}
template <>
void descriptor_backward<double>(int64_t m, int64_t a, const double* t, const double* gd,
                                 double scale, double* gt) {
  descriptor_backward_d(m, a, t, gd, scale, gt);
}
template <>
void descriptor_backward<float>(int64_t m, int64_t a, const float* t, const float* gd,
                                float scale, float* gt) {
  descriptor_backward_f(m, a, t, gd, scale, gt);
}
template <>
void rows_backward<double>(int64_t rows, int64_t m, const double* r, const double* g,
                           const double* gt, double* gg, double* gr) {
  rows_backward_d(rows, m, r, g, gt, gg, gr);
}
template <>
void rows_backward<float>(int64_t rows, int64_t m, const float* r, const float* g,
                          const float* gt, float* gg, float* gr) {
  rows_backward_f(rows, m, r, g, gt, gg, gr);
}

template <>
void rows_backward_tangent<double>(int64_t rows, int64_t m, const double* r, const double* g,
                                   const double* j, const double* gt, double* out) {
  static const RbtFn<double> fn = pick_rbt<double>();
  fn(rows, m, r, g, j, gt, out);
}
template <>
void rows_backward_tangent<float>(int64_t rows, int64_t m, const float* r, const float* g,
                                  const float* j, const float* gt, float* out) {
  static const RbtFn<float> fn = pick_rbt<float>();
  fn(rows, m, r, g, j, gt, out);
}

}  // namespace deepft::se_a
