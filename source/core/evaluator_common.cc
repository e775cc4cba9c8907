#include "evaluator_common.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <type_traits>

#include "errors.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace deepft {

namespace {
std::atomic<int64_t> g_chunk_atoms{0};  // 0: automatic
}  // namespace

void set_chunk_atoms(int64_t n) { g_chunk_atoms = std::max<int64_t>(0, n); }

void check_status(const Status& s, const char* what) {
  if (s.ok()) return;
  const std::string msg = std::string(what) + ": " + s.message;
  if (s.code == StatusCode::kInvalidArgument) throw InputError(msg);
  throw std::runtime_error(msg);
}

template <typename T>
PairEnvironment<T>::PairEnvironment(const PairInput& in, const EnvMatParams<T>& p) : params(p) {
  const int64_t nc = in.ncenter, nnei = in.nnei;
  mask.resize(nc * nnei);
  ctype.resize(nc);
  for (int64_t i = 0; i < nc; ++i) {
    const int32_t t = in.center_type[i];
    if (t >= p.ntypes) throw InputError("atom type " + std::to_string(t) + " out of range");
    ctype[i] = t < 0 ? 0 : t;
    for (int64_t s = 0; s < nnei; ++s) mask[i * nnei + s] = t >= 0 && in.nlist[i * nnei + s] >= 0;
  }
  const T* rij = nullptr;
  if constexpr (std::is_same_v<T, double>) {
    rij = in.rij;
  } else {
    rij_copy.assign(in.rij, in.rij + nc * nnei * 3);
    rij = rij_copy.data();
  }
  input = EnvMatInput<T>{rij, mask.data(), ctype.data(), nc, nnei};
  em.resize(nc * nnei * 4);
  check_status(env_mat_se_a<T>(input, params, em.data(), nullptr), "env_mat_se_a");
}

template <typename T>
void PairEnvironment<T>::backward(const T* g_em, double* grad_rij) const {
  if constexpr (std::is_same_v<T, double>) {
    check_status(env_mat_se_a_vjp<T>(input, params, g_em, grad_rij), "env_mat_se_a_vjp");
  } else {
    std::vector<T> g(input.ncenter * input.nnei * 3);
    check_status(env_mat_se_a_vjp<T>(input, params, g_em, g.data()), "env_mat_se_a_vjp");
    std::copy(g.begin(), g.end(), grad_rij);
  }
}

template struct PairEnvironment<double>;
template struct PairEnvironment<float>;

ChunkPlan::ChunkPlan(const int32_t* center_type, int64_t nc, int32_t ntypes, int64_t min_atoms,
                     int64_t max_atoms) {
  int64_t chunk_atoms = g_chunk_atoms;
  if (chunk_atoms <= 0) {
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    chunk_atoms = std::clamp<int64_t>(nc / (4 * static_cast<int64_t>(threads)), min_atoms,
                                      max_atoms);
  }
  for (int32_t t = 0; t < ntypes; ++t) {
    const int64_t begin = static_cast<int64_t>(order.size());
    for (int64_t i = 0; i < nc; ++i) {
      if (center_type[i] == t) order.push_back(i);
    }
    const int64_t end = static_cast<int64_t>(order.size());
    for (int64_t b = begin; b < end; b += chunk_atoms) {
      chunks.push_back({t, b, std::min(end, b + chunk_atoms)});
    }
  }
}

}  // namespace deepft
