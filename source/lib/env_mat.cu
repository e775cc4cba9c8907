// CUDA se_e2_a environment matrix and its derivative products (see env_mat.h): one thread per
// (center, slot), sharing the per-pair math of env_mat_pair.h with the CPU kernels.
#include <cmath>

#include "cuda_common.cuh"
#include "env_mat.h"
#include "env_mat_pair.h"

namespace deepft::cuda {
namespace {

using detail::blocks_for;
using detail::kBlock;

// Loads the statistics of the center of pair k; false for a padded slot or an invalid center
// type (whose outputs are then written as 0, respectively NaN).
template <typename T>
__device__ bool load_pair(const EnvMatInput<T>& in, const EnvMatParams<T>& p, int64_t k,
                          T* avg, T* std_, bool* invalid) {
  *invalid = false;
  if (!in.mask[k]) return false;
  const int32_t t = in.center_type[k / in.nnei];
  if (t < 0 || t >= p.ntypes) {
    *invalid = true;
    return false;
  }
  for (int a = 0; a < 4; ++a) {
    avg[a] = p.davg[4 * t + a];
    std_[a] = p.dstd[4 * t + a];
  }
  return true;
}

template <typename T>
__device__ void fill(T* out, int n, bool invalid) {
  const T v = invalid ? static_cast<T>(nan("")) : T(0);
  for (int a = 0; a < n; ++a) out[a] = v;
}

template <typename T>
__global__ void forward_kernel(EnvMatInput<T> in, EnvMatParams<T> p, T* em, T* deriv) {
  const int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (k >= in.ncenter * in.nnei) return;
  T avg[4], std_[4];
  bool invalid;
  if (!load_pair(in, p, k, avg, std_, &invalid)) {
    fill(em + 4 * k, 4, invalid);
    if (deriv) fill(deriv + 12 * k, 12, invalid);
    return;
  }
  deepft::detail::pair_forward(in.rij + 3 * k, p.rcut, p.rcut_smth, avg, std_, em + 4 * k,
                               deriv ? deriv + 12 * k : nullptr);
}

template <typename T>
__global__ void vjp_kernel(EnvMatInput<T> in, EnvMatParams<T> p, const T* g, T* out) {
  const int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (k >= in.ncenter * in.nnei) return;
  T avg[4], std_[4];
  bool invalid;
  if (!load_pair(in, p, k, avg, std_, &invalid)) return fill(out + 3 * k, 3, invalid);
  deepft::detail::pair_vjp(in.rij + 3 * k, p.rcut, p.rcut_smth, std_, g + 4 * k, out + 3 * k);
}

template <typename T>
__global__ void jvp_kernel(EnvMatInput<T> in, EnvMatParams<T> p, const T* v, T* out) {
  const int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (k >= in.ncenter * in.nnei) return;
  T avg[4], std_[4];
  bool invalid;
  if (!load_pair(in, p, k, avg, std_, &invalid)) return fill(out + 4 * k, 4, invalid);
  deepft::detail::pair_jvp(in.rij + 3 * k, p.rcut, p.rcut_smth, std_, v + 3 * k, out + 4 * k);
}

template <typename T>
__global__ void hvp_kernel(EnvMatInput<T> in, EnvMatParams<T> p, const T* g, const T* v, T* out) {
  const int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (k >= in.ncenter * in.nnei) return;
  T avg[4], std_[4];
  bool invalid;
  if (!load_pair(in, p, k, avg, std_, &invalid)) return fill(out + 3 * k, 3, invalid);
  deepft::detail::pair_hvp(in.rij + 3 * k, p.rcut, p.rcut_smth, std_, g + 4 * k, v + 3 * k,
                           out + 3 * k);
}

template <typename T>
Status validate(const EnvMatInput<T>& in, const EnvMatParams<T>& p, bool ok_outputs) {
  if (in.ncenter < 0 || in.nnei < 0)
    return Status::Error(StatusCode::kInvalidArgument, "ncenter and nnei must be >= 0");
  if (!(p.rcut > p.rcut_smth) || !(p.rcut_smth >= 0))
    return Status::Error(StatusCode::kInvalidArgument, "need 0 <= rcut_smth < rcut");
  if (p.ntypes < 1 || (in.ncenter * in.nnei > 0 &&
                       (!in.rij || !in.mask || !in.center_type || !p.davg || !p.dstd || !ok_outputs)))
    return Status::Error(StatusCode::kInvalidArgument,
                         "need ntypes >= 1 and non-null device arrays");
  return Status::Ok();
}

}  // namespace

// Invalid center types are not checked on the host (that would need a copy); their outputs
// are NaN so the error cannot pass unnoticed.

template <typename T>
Status env_mat_se_a(const EnvMatInput<T>& in, const EnvMatParams<T>& p, T* em, T* em_deriv,
                    void* stream) noexcept {
  Status st = validate(in, p, em != nullptr);
  if (!st.ok() || in.ncenter * in.nnei == 0) return st;
  forward_kernel<T><<<blocks_for(in.ncenter * in.nnei), kBlock, 0, detail::as_stream(stream)>>>(
      in, p, em, em_deriv);
  return detail::last_error("env_mat_se_a launch");
}

template <typename T>
Status env_mat_se_a_vjp(const EnvMatInput<T>& in, const EnvMatParams<T>& p, const T* grad_em,
                        T* grad_rij, void* stream) noexcept {
  Status st = validate(in, p, grad_em && grad_rij);
  if (!st.ok() || in.ncenter * in.nnei == 0) return st;
  vjp_kernel<T><<<blocks_for(in.ncenter * in.nnei), kBlock, 0, detail::as_stream(stream)>>>(
      in, p, grad_em, grad_rij);
  return detail::last_error("env_mat_se_a_vjp launch");
}

template <typename T>
Status env_mat_se_a_jvp(const EnvMatInput<T>& in, const EnvMatParams<T>& p,
                        const T* tangent_rij, T* tangent_em, void* stream) noexcept {
  Status st = validate(in, p, tangent_rij && tangent_em);
  if (!st.ok() || in.ncenter * in.nnei == 0) return st;
  jvp_kernel<T><<<blocks_for(in.ncenter * in.nnei), kBlock, 0, detail::as_stream(stream)>>>(
      in, p, tangent_rij, tangent_em);
  return detail::last_error("env_mat_se_a_jvp launch");
}

template <typename T>
Status env_mat_se_a_hvp(const EnvMatInput<T>& in, const EnvMatParams<T>& p, const T* grad_em,
                        const T* tangent_rij, T* hvp, void* stream) noexcept {
  Status st = validate(in, p, grad_em && tangent_rij && hvp);
  if (!st.ok() || in.ncenter * in.nnei == 0) return st;
  hvp_kernel<T><<<blocks_for(in.ncenter * in.nnei), kBlock, 0, detail::as_stream(stream)>>>(
      in, p, grad_em, tangent_rij, hvp);
  return detail::last_error("env_mat_se_a_hvp launch");
}

#define DEEPFT_INSTANTIATE(T)                                                                   \
  template Status env_mat_se_a<T>(const EnvMatInput<T>&, const EnvMatParams<T>&, T*, T*,        \
                                  void*) noexcept;                                              \
  template Status env_mat_se_a_vjp<T>(const EnvMatInput<T>&, const EnvMatParams<T>&, const T*,  \
                                      T*, void*) noexcept;                                      \
  template Status env_mat_se_a_jvp<T>(const EnvMatInput<T>&, const EnvMatParams<T>&, const T*,  \
                                      T*, void*) noexcept;                                      \
  template Status env_mat_se_a_hvp<T>(const EnvMatInput<T>&, const EnvMatParams<T>&, const T*,  \
                                      const T*, T*, void*) noexcept;
DEEPFT_INSTANTIATE(double)
DEEPFT_INSTANTIATE(float)
#undef DEEPFT_INSTANTIATE

}  // namespace deepft::cuda
