// What the se_e2_a and DPA-1 evaluators share (internal): the normalized environment matrix of
// a PairInput and its backward pass, and the thread-parallel loop over chunks of center atoms.
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "env_mat.h"
#include "evaluator.h"
#include "status.h"

namespace deepft {

/// Throws InputError (bad argument) or std::runtime_error for a failed kernel call.
void check_status(const Status& s, const char* what);

/// The environment matrix of every slot in the evaluator's precision T (env_mat.h).
template <typename T>
struct PairEnvironment {
  std::vector<uint8_t> mask;   ///< [nc, nnei] real neighbor (center not virtual, nlist >= 0)
  std::vector<int32_t> ctype;  ///< [nc] center type, virtual atoms as 0
  std::vector<T> rij_copy;     ///< [nc, nnei, 3] rij converted to T (float32 only)
  std::vector<T> em;           ///< [nc, nnei, 4] R̂, 0 in empty slots
  EnvMatInput<T> input;        ///< points into the members above (and PairInput::rij)
  EnvMatParams<T> params;

  /// Checks the center types against ntypes and computes em.
  PairEnvironment(const PairInput& in, const EnvMatParams<T>& p);
  PairEnvironment(const PairEnvironment&) = delete;
  PairEnvironment& operator=(const PairEnvironment&) = delete;

  /// grad_rij (double, [nc, nnei, 3]) = dE/dr_ij from g_em = dE/dR̂ [nc, nnei, 4]: the VJP
  /// of the environment matrix (real slots; 0 in empty ones).
  void backward(const T* g_em, double* grad_rij) const;
};

/// A run of centers of one type in the type-sorted order.
struct Chunk {
  int32_t type;
  int64_t begin, end;
};

/// Centers sorted by type (virtual atoms dropped), cut into chunks of one type: about 4 chunks
/// per thread for dynamic load balance, each of min_atoms to max_atoms centers (or the
/// set_chunk_atoms value).
struct ChunkPlan {
  std::vector<int64_t> order;
  std::vector<Chunk> chunks;
  ChunkPlan(const int32_t* center_type, int64_t nc, int32_t ntypes, int64_t min_atoms,
            int64_t max_atoms);
};

/// Calls fn(chunk, centers, n) for every chunk on the OpenMP threads (dynamic schedule); the
/// first exception thrown by any call is rethrown once all threads are done.
template <typename Fn>
void for_each_chunk(const ChunkPlan& plan, Fn&& fn) {
  std::exception_ptr error = nullptr;
  const int64_t nchunks = static_cast<int64_t>(plan.chunks.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t c = 0; c < nchunks; ++c) {
    try {
      const Chunk& ch = plan.chunks[c];
      fn(ch, plan.order.data() + ch.begin, ch.end - ch.begin);
    } catch (...) {
#pragma omp critical(deepft_core_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

/// Grows v to at least n elements (scratch buffers reused between chunks).
template <typename T>
void grow(std::vector<T>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
}

}  // namespace deepft
