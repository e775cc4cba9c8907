// CPU force and virial reductions (see prod.h). Scattered writes to neighbor atoms go to
// per-thread buffers that are summed afterwards, so results do not depend on scheduling races.
#include "prod.h"
#include "threads.h"

#include <algorithm>
#include <new>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace deepft {
namespace {

template <typename T>
Status validate(const PairGradient<T>& in, bool need_rij) {
  if (in.nframes < 0 || in.nloc < 0 || in.nnei < 0 || in.nall < in.nloc)
    return Status::Error(StatusCode::kInvalidArgument,
                         "need nframes, nloc, nnei >= 0 and nall >= nloc");
  const int64_t npairs = in.nframes * in.nloc * in.nnei;
  if (npairs > 0 && (in.grad_rij == nullptr || in.nlist == nullptr || (need_rij && !in.rij)))
    return Status::Error(StatusCode::kInvalidArgument, "grad_rij, nlist%s are required",
                         need_rij ? " and rij" : "");
  for (int64_t k = 0; k < npairs; ++k)
    if (in.nlist[k] >= in.nall || in.nlist[k] < -1)
      return Status::Error(StatusCode::kInvalidArgument,
                           "nlist entry %lld = %lld is outside [-1, nall = %lld)",
                           static_cast<long long>(k), static_cast<long long>(in.nlist[k]),
                           static_cast<long long>(in.nall));
  return Status::Ok();
}

// Runs body(center, buffer) over the centers of one frame, each thread scattering into its
// own zeroed buffer of `width` values per atom, then sums the buffers into `dst` (nall x width).
template <typename T, typename Body>
void scatter_reduce(int64_t nloc, int64_t nall, int width, int nthreads, T* dst, Body&& body) {
  if (nthreads <= 1) {
    for (int64_t i = 0; i < nloc; ++i) body(i, dst);
    return;
  }
  std::vector<T> buf(static_cast<size_t>(nthreads) * nall * width, T(0));
#pragma omp parallel num_threads(nthreads)
  {
    T* mine = buf.data() + static_cast<size_t>(thread_id()) * nall * width;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < nloc; ++i) body(i, mine);
#pragma omp for schedule(static)
    for (int64_t a = 0; a < nall * width; ++a) {
      T sum = 0;
      for (int t = 0; t < nthreads; ++t) sum += buf[static_cast<size_t>(t) * nall * width + a];
      dst[a] += sum;
    }
  }
}

}  // namespace

template <typename T>
Status prod_force(const PairGradient<T>& in, T* force) noexcept {
  try {
    Status st = validate(in, false);
    if (!st.ok()) return st;
    if (force == nullptr) return Status::Error(StatusCode::kInvalidArgument, "force is required");
    std::fill(force, force + in.nframes * in.nall * 3, T(0));
    const int nthreads = threads_for(in.nframes * in.nloc * in.nnei);
    for (int64_t f = 0; f < in.nframes; ++f) {
      const int64_t* nl = in.nlist + f * in.nloc * in.nnei;
      const T* g = in.grad_rij + f * in.nloc * in.nnei * 3;
      scatter_reduce(in.nloc, in.nall, 3, nthreads, force + f * in.nall * 3,
                     [&](int64_t i, T* F) {
                       T fi[3] = {0, 0, 0};
                       for (int64_t n = 0; n < in.nnei; ++n) {
                         const int64_t j = nl[i * in.nnei + n];
                         if (j < 0) continue;
                         const T* gij = g + (i * in.nnei + n) * 3;
                         for (int a = 0; a < 3; ++a) {
                           fi[a] += gij[a];
                           F[3 * j + a] -= gij[a];
                         }
                       }
                       for (int a = 0; a < 3; ++a) F[3 * i + a] += fi[a];
                     });
    }
  } catch (const std::bad_alloc&) {
    return Status::Error(StatusCode::kOutOfMemory, "out of memory in prod_force");
  } catch (...) {
    return Status::Error(StatusCode::kInternal, "unexpected error in prod_force");
  }
  return Status::Ok();
}

template <typename T>
Status prod_virial(const PairGradient<T>& in, T* virial, T* atom_virial) noexcept {
  try {
    Status st = validate(in, true);
    if (!st.ok()) return st;
    if (virial == nullptr)
      return Status::Error(StatusCode::kInvalidArgument, "virial is required");
    // The per-atom virial is accumulated per atom (scatter to j), the global one per frame as
    // the sum over atoms of the per-atom buffer, or directly when no per-atom output is wanted.
    std::vector<T> own;
    if (atom_virial == nullptr) own.resize(in.nall * 9);
    const int nthreads = threads_for(in.nframes * in.nloc * in.nnei);
    for (int64_t f = 0; f < in.nframes; ++f) {
      T* av = atom_virial ? atom_virial + f * in.nall * 9 : own.data();
      std::fill(av, av + in.nall * 9, T(0));
      const int64_t* nl = in.nlist + f * in.nloc * in.nnei;
      const T* g = in.grad_rij + f * in.nloc * in.nnei * 3;
      const T* r = in.rij + f * in.nloc * in.nnei * 3;
      scatter_reduce(in.nloc, in.nall, 9, nthreads, av, [&](int64_t i, T* V) {
        for (int64_t n = 0; n < in.nnei; ++n) {
          const int64_t j = nl[i * in.nnei + n];
          if (j < 0) continue;
          const T* gij = g + (i * in.nnei + n) * 3;
          const T* rij = r + (i * in.nnei + n) * 3;
          for (int a = 0; a < 3; ++a)
            for (int b = 0; b < 3; ++b) V[9 * j + 3 * a + b] -= gij[a] * rij[b];
        }
      });
      T* v = virial + f * 9;
      std::fill(v, v + 9, T(0));
      for (int64_t j = 0; j < in.nall; ++j)
        for (int c = 0; c < 9; ++c) v[c] += av[9 * j + c];
    }
  } catch (const std::bad_alloc&) {
    return Status::Error(StatusCode::kOutOfMemory, "out of memory in prod_virial");
  } catch (...) {
    return Status::Error(StatusCode::kInternal, "unexpected error in prod_virial");
  }
  return Status::Ok();
}

template Status prod_force<double>(const PairGradient<double>&, double*) noexcept;
template Status prod_force<float>(const PairGradient<float>&, float*) noexcept;
template Status prod_virial<double>(const PairGradient<double>&, double*, double*) noexcept;
template Status prod_virial<float>(const PairGradient<float>&, float*, float*) noexcept;

}  // namespace deepft
