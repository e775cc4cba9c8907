// CPU se_e2_a environment matrix and its derivative products (see env_mat.h).
#include "env_mat.h"

#include <algorithm>
#include <cmath>

#include "env_mat_pair.h"
#include "threads.h"

namespace deepft {
namespace {

template <typename T>
Status validate(const EnvMatInput<T>& in, const EnvMatParams<T>& p) {
  if (in.ncenter < 0 || in.nnei < 0)
    return Status::Error(StatusCode::kInvalidArgument, "ncenter and nnei must be >= 0");
  if (!(p.rcut > p.rcut_smth) || !(p.rcut_smth >= 0) || !std::isfinite(double(p.rcut)))
    return Status::Error(StatusCode::kInvalidArgument,
                         "need 0 <= rcut_smth < rcut, got rcut_smth = %g, rcut = %g",
                         double(p.rcut_smth), double(p.rcut));
  if (p.ntypes < 1 || p.davg == nullptr || p.dstd == nullptr)
    return Status::Error(StatusCode::kInvalidArgument, "need ntypes >= 1 and davg / dstd");
  if (in.ncenter * in.nnei > 0 &&
      (in.rij == nullptr || in.mask == nullptr || in.center_type == nullptr))
    return Status::Error(StatusCode::kInvalidArgument, "rij, mask and center_type are required");
  for (int64_t c = 0; c < in.ncenter; ++c)
    if (in.center_type[c] < 0 || in.center_type[c] >= p.ntypes)
      return Status::Error(StatusCode::kInvalidArgument,
                           "center %lld has type %d outside [0, %d)", static_cast<long long>(c),
                           in.center_type[c], p.ntypes);
  // r_ij = 0 (two atoms at the same position): s = 1/r is singular, refuse instead of NaN
  for (int64_t k = 0; k < in.ncenter * in.nnei; ++k) {
    const T* x = in.rij + 3 * k;
    if (in.mask[k] && x[0] == T(0) && x[1] == T(0) && x[2] == T(0))
      return Status::Error(StatusCode::kInvalidArgument,
                           "center %lld, neighbor slot %lld: r_ij = 0 (two atoms at the same "
                           "position; the se_e2_a environment matrix is singular there)",
                           static_cast<long long>(k / in.nnei),
                           static_cast<long long>(k % in.nnei));
  }
  return Status::Ok();
}

// Applies body(pair_index, avg, std) to every real pair and pad(pair_index) to every padded
// slot, in parallel over centers.
template <typename T, typename Body, typename Pad>
void for_each_pair(const EnvMatInput<T>& in, const EnvMatParams<T>& p, Body&& body, Pad&& pad) {
  const int nthreads = threads_for(in.ncenter * in.nnei);
#pragma omp parallel for schedule(static) num_threads(nthreads)
  for (int64_t c = 0; c < in.ncenter; ++c) {
    const T* avg = p.davg + 4 * in.center_type[c];
    const T* std_ = p.dstd + 4 * in.center_type[c];
    for (int64_t n = 0; n < in.nnei; ++n) {
      const int64_t k = c * in.nnei + n;
      if (in.mask[k]) {
        body(k, avg, std_);
      } else {
        pad(k);
      }
    }
  }
}

}  // namespace

template <typename T>
Status env_mat_se_a(const EnvMatInput<T>& in, const EnvMatParams<T>& p, T* em,
                    T* em_deriv) noexcept {
  Status st = validate(in, p);
  if (!st.ok()) return st;
  if (em == nullptr) return Status::Error(StatusCode::kInvalidArgument, "em output is required");
  for_each_pair(
      in, p,
      [&](int64_t k, const T* avg, const T* std_) {
        detail::pair_forward(in.rij + 3 * k, p.rcut, p.rcut_smth, avg, std_, em + 4 * k,
                             em_deriv ? em_deriv + 12 * k : nullptr);
      },
      [&](int64_t k) {
        std::fill(em + 4 * k, em + 4 * k + 4, T(0));
        if (em_deriv) std::fill(em_deriv + 12 * k, em_deriv + 12 * k + 12, T(0));
      });
  return Status::Ok();
}

template <typename T>
Status env_mat_se_a_vjp(const EnvMatInput<T>& in, const EnvMatParams<T>& p, const T* grad_em,
                        T* grad_rij) noexcept {
  Status st = validate(in, p);
  if (!st.ok()) return st;
  if (grad_rij == nullptr || (in.ncenter * in.nnei > 0 && grad_em == nullptr))
    return Status::Error(StatusCode::kInvalidArgument, "grad_em and grad_rij are required");
  for_each_pair(
      in, p,
      [&](int64_t k, const T*, const T* std_) {
        detail::pair_vjp(in.rij + 3 * k, p.rcut, p.rcut_smth, std_, grad_em + 4 * k,
                         grad_rij + 3 * k);
      },
      [&](int64_t k) { std::fill(grad_rij + 3 * k, grad_rij + 3 * k + 3, T(0)); });
  return Status::Ok();
}

template <typename T>
Status env_mat_se_a_jvp(const EnvMatInput<T>& in, const EnvMatParams<T>& p,
                        const T* tangent_rij, T* tangent_em) noexcept {
  Status st = validate(in, p);
  if (!st.ok()) return st;
  if (tangent_em == nullptr || (in.ncenter * in.nnei > 0 && tangent_rij == nullptr))
    return Status::Error(StatusCode::kInvalidArgument, "tangent_rij and tangent_em are required");
  for_each_pair(
      in, p,
      [&](int64_t k, const T*, const T* std_) {
        detail::pair_jvp(in.rij + 3 * k, p.rcut, p.rcut_smth, std_, tangent_rij + 3 * k,
                         tangent_em + 4 * k);
      },
      [&](int64_t k) { std::fill(tangent_em + 4 * k, tangent_em + 4 * k + 4, T(0)); });
  return Status::Ok();
}

template <typename T>
Status env_mat_se_a_hvp(const EnvMatInput<T>& in, const EnvMatParams<T>& p, const T* grad_em,
                        const T* tangent_rij, T* hvp) noexcept {
  Status st = validate(in, p);
  if (!st.ok()) return st;
  if (hvp == nullptr || (in.ncenter * in.nnei > 0 && (grad_em == nullptr || tangent_rij == nullptr)))
    return Status::Error(StatusCode::kInvalidArgument, "grad_em, tangent_rij and hvp are required");
  for_each_pair(
      in, p,
      [&](int64_t k, const T*, const T* std_) {
        detail::pair_hvp(in.rij + 3 * k, p.rcut, p.rcut_smth, std_, grad_em + 4 * k,
                         tangent_rij + 3 * k, hvp + 3 * k);
      },
      [&](int64_t k) { std::fill(hvp + 3 * k, hvp + 3 * k + 3, T(0)); });
  return Status::Ok();
}

#define DEEPFT_INSTANTIATE(T)                                                                   \
  template Status env_mat_se_a<T>(const EnvMatInput<T>&, const EnvMatParams<T>&, T*,            \
                                  T*) noexcept;                                                 \
  template Status env_mat_se_a_vjp<T>(const EnvMatInput<T>&, const EnvMatParams<T>&, const T*,  \
                                      T*) noexcept;                                             \
  template Status env_mat_se_a_jvp<T>(const EnvMatInput<T>&, const EnvMatParams<T>&, const T*,  \
                                      T*) noexcept;                                             \
  template Status env_mat_se_a_hvp<T>(const EnvMatInput<T>&, const EnvMatParams<T>&, const T*,  \
                                      const T*, T*) noexcept;
DEEPFT_INSTANTIATE(double)
DEEPFT_INSTANTIATE(float)
#undef DEEPFT_INSTANTIATE

}  // namespace deepft
