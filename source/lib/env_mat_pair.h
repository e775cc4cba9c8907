// Internal (not part of the public API): per-pair se_e2_a math shared by env_mat.cc and
// env_mat.cu, so the CPU and CUDA kernels evaluate the very same expressions.
//
// With r = |x|, raw row e = (s(r), q(r) x) where s = sw / r, q = sw / r^2 (see env_mat.h).
// Radial factors (primes are d/dr):
//   A = s' / r,  B = q' / r,  dA = A' / r = (s'' - A) / r^2,  dB = B' / r = (q'' - B) / r^2
// First derivatives:   d e0 / d x_b = A x_b,          d e_a / d x_b = B x_a x_b + q δ_ab
// Second derivatives:  d2 e0 / d x_b d x_c = dA x_b x_c + A δ_bc
//                      d2 e_a / d x_b d x_c = dB x_a x_b x_c + B (δ_ac x_b + δ_bc x_a + δ_ab x_c)
#pragma once

#ifdef __CUDACC__
#define DEEPFT_HD __host__ __device__ __forceinline__
#else
#define DEEPFT_HD inline
#endif

#include <cmath>

namespace deepft::detail {

/// Radial quantities of one pair; all zero at and beyond rcut.
template <typename T>
struct Radial {
  T s, q, A, B, dA, dB;
};

/// The smooth switch sw(r) of env_mat.h and its first two derivatives d/dr (1/Å, 1/Å²).
template <typename T>
struct Switch {
  T sw, dsw, d2sw;
};

/// sw = 1 below rcut_smth, the quintic in u = (r - rcut_smth) / (rcut - rcut_smth) up to
/// rcut, 0 at and beyond rcut (derivatives likewise).
template <typename T>
DEEPFT_HD Switch<T> switch_function(T r, T rcut, T rcut_smth) {
  if (!(r < rcut)) return {T(0), T(0), T(0)};
  if (r < rcut_smth) return {T(1), T(0), T(0)};
  const T kappa = T(1) / (rcut - rcut_smth);
  const T u = (r - rcut_smth) * kappa;
  const T u2 = u * u;
  const T um1 = u - T(1);
  return {u2 * u * (T(-6) * u2 + T(15) * u - T(10)) + T(1), T(-30) * kappa * u2 * um1 * um1,
          T(-60) * kappa * kappa * u * (T(2) * u - T(1)) * um1};
}

/// order 0: s, q only; 1: also A, B; 2: also dA, dB.
template <typename T, int order>
DEEPFT_HD Radial<T> radial(T r, T rcut, T rcut_smth) {
  Radial<T> out{T(0), T(0), T(0), T(0), T(0), T(0)};
  if (!(r < rcut)) return out;
  const T inv_r = T(1) / r;
  const Switch<T> w = switch_function(r, rcut, rcut_smth);
  const T sw = w.sw, dsw = w.dsw, d2sw = w.d2sw;
  out.s = sw * inv_r;
  out.q = out.s * inv_r;
  if (order >= 1) {
    const T ds = dsw * inv_r - out.s * inv_r;              // s'
    const T dq = dsw * inv_r * inv_r - T(2) * out.q * inv_r;  // q'
    out.A = ds * inv_r;
    out.B = dq * inv_r;
    if (order >= 2) {
      const T d2s = d2sw * inv_r - T(2) * dsw * inv_r * inv_r + T(2) * out.s * inv_r * inv_r;
      const T d2q = d2sw * inv_r * inv_r - T(4) * dsw * inv_r * inv_r * inv_r +
                    T(6) * out.q * inv_r * inv_r;
      out.dA = (d2s - out.A) * inv_r * inv_r;
      out.dB = (d2q - out.B) * inv_r * inv_r;
    }
  }
  return out;
}

template <typename T>
DEEPFT_HD T norm3(const T* x) {
  return sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
}

/// em [4] and, if deriv != nullptr, deriv [4, 3] of one real pair (normalized by avg / std).
template <typename T>
DEEPFT_HD void pair_forward(const T* x, T rcut, T rcut_smth, const T* avg, const T* std_,
                            T* em, T* deriv) {
  const T r = norm3(x);
  if (deriv) {
    const Radial<T> R = radial<T, 1>(r, rcut, rcut_smth);
    em[0] = (R.s - avg[0]) / std_[0];
    for (int a = 0; a < 3; ++a) em[1 + a] = (R.q * x[a] - avg[1 + a]) / std_[1 + a];
    for (int b = 0; b < 3; ++b) deriv[b] = R.A * x[b] / std_[0];
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b)
        deriv[(1 + a) * 3 + b] = (R.B * x[a] * x[b] + (a == b ? R.q : T(0))) / std_[1 + a];
  } else {
    const Radial<T> R = radial<T, 0>(r, rcut, rcut_smth);
    em[0] = (R.s - avg[0]) / std_[0];
    for (int a = 0; a < 3; ++a) em[1 + a] = (R.q * x[a] - avg[1 + a]) / std_[1 + a];
  }
}

/// out[b] = sum_k g[k] d em[k] / d x[b]
template <typename T>
DEEPFT_HD void pair_vjp(const T* x, T rcut, T rcut_smth, const T* std_, const T* g, T* out) {
  const Radial<T> R = radial<T, 1>(norm3(x), rcut, rcut_smth);
  const T g0 = g[0] / std_[0];
  const T gv[3] = {g[1] / std_[1], g[2] / std_[2], g[3] / std_[3]};
  const T gx = gv[0] * x[0] + gv[1] * x[1] + gv[2] * x[2];
  const T c = g0 * R.A + R.B * gx;
  for (int b = 0; b < 3; ++b) out[b] = c * x[b] + R.q * gv[b];
}

/// out[k] = sum_a d em[k] / d x[a] v[a]
template <typename T>
DEEPFT_HD void pair_jvp(const T* x, T rcut, T rcut_smth, const T* std_, const T* v, T* out) {
  const Radial<T> R = radial<T, 1>(norm3(x), rcut, rcut_smth);
  const T xv = x[0] * v[0] + x[1] * v[1] + x[2] * v[2];
  out[0] = R.A * xv / std_[0];
  for (int a = 0; a < 3; ++a) out[1 + a] = (R.B * x[a] * xv + R.q * v[a]) / std_[1 + a];
}

/// out[b] = sum_k g[k] sum_c d2 em[k] / (d x[b] d x[c]) v[c]
template <typename T>
DEEPFT_HD void pair_hvp(const T* x, T rcut, T rcut_smth, const T* std_, const T* g, const T* v,
                        T* out) {
  const Radial<T> R = radial<T, 2>(norm3(x), rcut, rcut_smth);
  const T g0 = g[0] / std_[0];
  const T gv[3] = {g[1] / std_[1], g[2] / std_[2], g[3] / std_[3]};
  const T xv = x[0] * v[0] + x[1] * v[1] + x[2] * v[2];
  const T gx = gv[0] * x[0] + gv[1] * x[1] + gv[2] * x[2];
  const T gvv = gv[0] * v[0] + gv[1] * v[1] + gv[2] * v[2];
  // g0 (dA x_b (x.v) + A v_b) + dB (g.x) x_b (x.v) + B ((g.v) x_b + (g.x) v_b + g_b (x.v))
  const T cx = g0 * R.dA * xv + R.dB * gx * xv + R.B * gvv;
  const T cv = g0 * R.A + R.B * gx;
  for (int b = 0; b < 3; ++b) out[b] = cx * x[b] + cv * v[b] + R.B * xv * gv[b];
}

}  // namespace deepft::detail
