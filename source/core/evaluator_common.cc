#include "evaluator_common.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>

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

void begin_pair_output(const PairInput& in, int32_t ntypes, const PairOutput& out) {
  const int64_t nnei = in.nnei;
  for (int64_t i = 0; i < in.ncenter; ++i) {
    const int32_t t = in.center_type[i];
    if (t >= ntypes) throw InputError("atom type " + std::to_string(t) + " out of range");
    out.atom_energy[i] = 0.0;
    if (t < 0) std::fill_n(out.grad_rij + i * nnei * 3, nnei * 3, 0.0);
  }
}

template <typename T>
void ChunkEnvironment<T>::forward(const PairInput& in, const EnvMatParams<T>& p, int32_t type,
                                  const int64_t* centers, int64_t n) {
  const int64_t nnei = in.nnei;
  grow(rij, n * nnei * 3);
  grow(mask, n * nnei);
  ctype.assign(n, type);
  grow(em, n * nnei * 4);
  grow(g_em, n * nnei * 4);
  for (int64_t a = 0; a < n; ++a) {
    const int64_t c = centers[a];
    std::copy_n(in.rij + c * nnei * 3, nnei * 3, rij.data() + a * nnei * 3);  // double -> T
    for (int64_t s = 0; s < nnei; ++s) mask[a * nnei + s] = in.nlist[c * nnei + s] >= 0;
  }
  params = p;
  input = EnvMatInput<T>{rij.data(), mask.data(), ctype.data(), n, nnei};
  const Status st = env_mat_se_a<T>(input, params, em.data(), nullptr);
  if (st.ok()) return;
  for (int64_t a = 0; a < n; ++a) {  // name the failing center by its index in the PairInput
    const EnvMatInput<T> one{rij.data() + a * nnei * 3, mask.data() + a * nnei, ctype.data(), 1,
                             nnei};
    const std::string what = "env_mat_se_a (PairInput center " + std::to_string(centers[a]) + ")";
    check_status(env_mat_se_a<T>(one, params, em.data() + a * nnei * 4, nullptr), what.c_str());
  }
  check_status(st, "env_mat_se_a");
}

template <typename T>
void ChunkEnvironment<T>::backward(const int64_t* centers, double* grad_rij) {
  const int64_t n = input.ncenter, nnei = input.nnei;
  grow(grad, n * nnei * 3);
  check_status(env_mat_se_a_vjp<T>(input, params, g_em.data(), grad.data()), "env_mat_se_a_vjp");
  for (int64_t a = 0; a < n; ++a) {  // T -> double
    std::copy_n(grad.data() + a * nnei * 3, nnei * 3, grad_rij + centers[a] * nnei * 3);
  }
}

template struct ChunkEnvironment<double>;
template struct ChunkEnvironment<float>;

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
