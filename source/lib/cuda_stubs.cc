// CPU-only builds: the CUDA entry points exist (so callers and bindings need no #ifdef) and
// report kNotCompiled.
#ifndef DEEPFT_WITH_CUDA

#include "cuda_info.h"
#include "env_mat.h"
#include "neighbor_list.h"
#include "prod.h"

namespace deepft::cuda {
namespace {
Status not_compiled() { return cuda_not_compiled(); }
}  // namespace

template <typename T>
Status build_nlist(const T*, const T*, const int32_t*, int64_t, int64_t, const NlistFormat<T>&,
                   const NlistOutput<T>&, void*) noexcept {
  return not_compiled();
}
template <typename T>
Status format_nlist_from_csr(const T*, const int32_t*, int64_t, int64_t, const int64_t*,
                             const int32_t*, const NlistFormat<T>&, const NlistOutput<T>&,
                             void*) noexcept {
  return not_compiled();
}
template <typename T>
Status env_mat_se_a(const EnvMatInput<T>&, const EnvMatParams<T>&, T*, T*, void*) noexcept {
  return not_compiled();
}
template <typename T>
Status env_mat_se_a_vjp(const EnvMatInput<T>&, const EnvMatParams<T>&, const T*, T*,
                        void*) noexcept {
  return not_compiled();
}
template <typename T>
Status env_mat_se_a_jvp(const EnvMatInput<T>&, const EnvMatParams<T>&, const T*, T*,
                        void*) noexcept {
  return not_compiled();
}
template <typename T>
Status env_mat_se_a_hvp(const EnvMatInput<T>&, const EnvMatParams<T>&, const T*, const T*, T*,
                        void*) noexcept {
  return not_compiled();
}
template <typename T>
Status prod_force(const PairGradient<T>&, T*, void*) noexcept {
  return not_compiled();
}
template <typename T>
Status prod_virial(const PairGradient<T>&, T*, T*, void*) noexcept {
  return not_compiled();
}

#define DEEPFT_INSTANTIATE(T)                                                                   \
  template Status build_nlist<T>(const T*, const T*, const int32_t*, int64_t, int64_t,          \
                                 const NlistFormat<T>&, const NlistOutput<T>&, void*) noexcept; \
  template Status format_nlist_from_csr<T>(const T*, const int32_t*, int64_t, int64_t,          \
                                           const int64_t*, const int32_t*,                      \
                                           const NlistFormat<T>&, const NlistOutput<T>&,        \
                                           void*) noexcept;                                     \
  template Status env_mat_se_a<T>(const EnvMatInput<T>&, const EnvMatParams<T>&, T*, T*,        \
                                  void*) noexcept;                                              \
  template Status env_mat_se_a_vjp<T>(const EnvMatInput<T>&, const EnvMatParams<T>&, const T*,  \
                                      T*, void*) noexcept;                                      \
  template Status env_mat_se_a_jvp<T>(const EnvMatInput<T>&, const EnvMatParams<T>&, const T*,  \
                                      T*, void*) noexcept;                                      \
  template Status env_mat_se_a_hvp<T>(const EnvMatInput<T>&, const EnvMatParams<T>&, const T*,  \
                                      const T*, T*, void*) noexcept;                            \
  template Status prod_force<T>(const PairGradient<T>&, T*, void*) noexcept;                    \
  template Status prod_virial<T>(const PairGradient<T>&, T*, T*, void*) noexcept;
DEEPFT_INSTANTIATE(double)
DEEPFT_INSTANTIATE(float)
#undef DEEPFT_INSTANTIATE

}  // namespace deepft::cuda

#endif  // DEEPFT_WITH_CUDA
