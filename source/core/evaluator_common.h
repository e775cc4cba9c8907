// What the se_e2_a and DPA-1 evaluators share (internal): the thread-parallel loop over chunks
// of center atoms, and the normalized environment matrix of one chunk and its backward pass.
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "aligned_vector.h"
#include "env_mat.h"
#include "evaluator.h"
#include "status.h"

namespace deepft {

/// Throws InputError (bad argument) or std::runtime_error for a failed kernel call.
void check_status(const Status& s, const char* what);

/// Checks every center type against ntypes (a type >= ntypes is an InputError: no chunk
/// would take its center) and sets what no chunk writes: atom_energy [nc] = 0 and the
/// grad_rij rows [nnei, 3] of virtual centers (type < 0) = 0.
void begin_pair_output(const PairInput& in, int32_t ntypes, const PairOutput& out);

/// The environment matrix of one chunk of centers (env_mat.h) in the evaluator's precision
/// T: the chunk's rows of a PairInput gathered into contiguous per-thread scratch, reused
/// between chunks, so that no [nc, nnei, 4] array exists and the chunk's R̂ stays in cache
/// from the forward pass to the backward one. Row a is center centers[a].
template <typename T>
struct ChunkEnvironment {
  AlignedVector<T> rij;          ///< [n, nnei, 3] r_ij (Å) converted to T
  std::vector<uint8_t> mask;   ///< [n, nnei] real neighbor (nlist >= 0)
  std::vector<int32_t> ctype;  ///< [n] the chunk's center type
  AlignedVector<T> em;           ///< [n, nnei, 4] R̂, 0 in empty slots
  /// [n, nnei, 4] dE/dR̂, written by the caller between forward and backward; only the
  /// real slots are read (empty ones may hold a previous chunk's values).
  AlignedVector<T> g_em;
  AlignedVector<T> grad;         ///< [n, nnei, 3] dE/dr_ij (eV/Å) in T
  EnvMatInput<T> input;        ///< points into the members above
  EnvMatParams<T> params;

  /// Gathers the rows of the n centers (all of type `type`, >= 0) and computes em; sizes
  /// g_em.
  void forward(const PairInput& in, const EnvMatParams<T>& p, int32_t type,
               const int64_t* centers, int64_t n);

  /// The VJP of the environment matrix: grad_rij rows of the chunk's centers (double,
  /// [nc, nnei, 3] of PairOutput) = dE/dr_ij from g_em (0 in empty slots).
  void backward(const int64_t* centers, double* grad_rij);
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

}  // namespace deepft
