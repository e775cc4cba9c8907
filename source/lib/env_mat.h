// se_e2_a environment matrix (DeePMD-kit's "se_e2_a" / "se_a" descriptor input) from the
// neighbor displacement vectors r_ij, with its first derivative and the products needed for
// double backward (training with a force loss).
//
// Definitions (r = |r_ij|, r_ij = x_j - x_i, units Å and 1/Å):
//   u  = (r - rcut_smth) / (rcut - rcut_smth)
//   sw = 1 (r < rcut_smth);  u^3 (-6 u^2 + 15 u - 10) + 1 (rcut_smth <= r < rcut);  0 (r >= rcut)
//   s  = sw / r
//   raw row  e = (s, s x / r, s y / r, s z / r)
//   em[k] = (e[k] - davg[t_i][k]) / dstd[t_i][k]     (t_i = type of the center atom)
//   em = 0 in padded slots (mask == 0), and all derivatives are 0 there.
//
// Shapes (C order; ncenter = nframes * nloc flattened centers, nnei slots per center):
//   rij          [ncenter, nnei, 3]     padded slots may hold anything (they are not read)
//   mask         [ncenter, nnei]        uint8, nonzero = real neighbor (a torch bool tensor)
//   center_type  [ncenter]              int32 in [0, ntypes)
//   davg, dstd   [ntypes, 4]            per-center-type statistics, dstd != 0
//   em           [ncenter, nnei, 4]
//   em_deriv     [ncenter, nnei, 4, 3]  d em[k] / d rij[a] at [.., k, a]
//   grad_em      [ncenter, nnei, 4]     an upstream gradient g = dL/d em
//   grad_rij     [ncenter, nnei, 3]     dL/d rij = sum_k g[k] d em[k] / d rij
//   tangent_rij  [ncenter, nnei, 3]     a direction v in rij space
//   tangent_em   [ncenter, nnei, 4]     sum_a d em[k] / d rij[a] v[a]
//   hvp          [ncenter, nnei, 3]     sum_k g[k] sum_a d^2 em[k] / (d rij[b] d rij[a]) v[a]
//                                      at [.., b]
// Every pair is independent: the CPU functions use OpenMP over centers, the CUDA functions one
// thread per (center, slot). All functions are noexcept and return a Status (status.h).
#pragma once

#include <cstdint>

#include "status.h"

namespace deepft {

/// Parameters of the se_e2_a environment matrix; davg/dstd are host pointers for the CPU
/// functions and device pointers for the CUDA ones.
template <typename T>
struct EnvMatParams {
  T rcut = 0;              ///< cutoff radius, > rcut_smth
  T rcut_smth = 0;         ///< start of the switching region, >= 0
  const T* davg = nullptr;  ///< [ntypes, 4]
  const T* dstd = nullptr;  ///< [ntypes, 4]
  int32_t ntypes = 0;
};

/// The pair geometry every env-matrix function reads (see the shapes above).
template <typename T>
struct EnvMatInput {
  const T* rij = nullptr;               ///< [ncenter, nnei, 3]
  const uint8_t* mask = nullptr;        ///< [ncenter, nnei]
  const int32_t* center_type = nullptr;  ///< [ncenter]
  int64_t ncenter = 0;
  int64_t nnei = 0;
};

/// em [ncenter, nnei, 4] (required) and, if em_deriv != nullptr, em_deriv [ncenter, nnei, 4, 3].
template <typename T>
Status env_mat_se_a(const EnvMatInput<T>& in, const EnvMatParams<T>& p, T* em,
                    T* em_deriv) noexcept;

/// Vector-Jacobian product (the backward pass): grad_rij = sum_k grad_em[k] d em[k] / d rij.
template <typename T>
Status env_mat_se_a_vjp(const EnvMatInput<T>& in, const EnvMatParams<T>& p, const T* grad_em,
                        T* grad_rij) noexcept;

/// Jacobian-vector product: tangent_em[k] = sum_a d em[k] / d rij[a] tangent_rij[a]
/// (the derivative of the backward pass with respect to its incoming gradient).
template <typename T>
Status env_mat_se_a_jvp(const EnvMatInput<T>& in, const EnvMatParams<T>& p,
                        const T* tangent_rij, T* tangent_em) noexcept;

/// Hessian-vector product (the derivative of the backward pass with respect to rij):
/// hvp[b] = sum_k grad_em[k] sum_a d^2 em[k] / (d rij[b] d rij[a]) tangent_rij[a].
template <typename T>
Status env_mat_se_a_hvp(const EnvMatInput<T>& in, const EnvMatParams<T>& p, const T* grad_em,
                        const T* tangent_rij, T* hvp) noexcept;

namespace cuda {

// CUDA versions: every array (including p.davg / p.dstd) is a device pointer; `stream` is a
// cudaStream_t (nullptr = legacy default stream). Launches are asynchronous. Return
// kNotCompiled in builds without CUDA.

template <typename T>
Status env_mat_se_a(const EnvMatInput<T>& in, const EnvMatParams<T>& p, T* em, T* em_deriv,
                    void* stream) noexcept;

template <typename T>
Status env_mat_se_a_vjp(const EnvMatInput<T>& in, const EnvMatParams<T>& p, const T* grad_em,
                        T* grad_rij, void* stream) noexcept;

template <typename T>
Status env_mat_se_a_jvp(const EnvMatInput<T>& in, const EnvMatParams<T>& p,
                        const T* tangent_rij, T* tangent_em, void* stream) noexcept;

template <typename T>
Status env_mat_se_a_hvp(const EnvMatInput<T>& in, const EnvMatParams<T>& p, const T* grad_em,
                        const T* tangent_rij, T* hvp, void* stream) noexcept;

}  // namespace cuda

}  // namespace deepft
