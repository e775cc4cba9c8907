// The tabulated embedding of a compressed se_e2_a branch (internal header of the inference
// core), fused into the environment-matrix contraction: no per-neighbor embedding row G is
// ever stored.
//
// Each embedding net K is a piecewise quintic in the normalized first column ŝ of R̂
// (deepft/compress/table.py builds it): on interval q starting at x_q,
//   G_j(ŝ) = sum_p c[q, p, j] (ŝ - x_q)^p,  p = 0..5, j < M,
// over [lower, xmax]; outside, G is held at the end value (dG/dŝ = 0) and the neighbor is
// counted (TableCounts).
//
// Forward, per center (rows r = R̂ of its real neighbors in the net's block, [n, 4]):
//   t [4, M] += scale * sum_rows r_cᵀ G(r_0)
// Backward, given gt = dE/d(sum_rows r_cᵀ G) [4, M] (the scale folded in):
//   dE/dr_c = sum_j G_j gt[c, j] + [c == 0] sum_j G'_j sum_c' r_c' gt[c', j]
// with G and G' recomputed from the table.
//
// A DPA-1 strip branch (attn_layer 0) tabulates its geometric net g(ŝ) and passes a Gate:
// G_j = g_j(ŝ) (1 + f gate_j), gate = embedding_strip(τ_j (, τ_i)) [M] per type pair (constant,
// precomputed at load), f = sw(r) (smooth_type_embedding) or 1. The kernels then also use
// dG/dŝ = g' (1 + f gate) and return dE/df = Σ_j g_j gate_j Σ_c r_c gt[c, j] per neighbor.
#pragma once

#include <cstdint>
#include <vector>

#include "branch_config.h"
#include "evaluator.h"
#include "model_file.h"

namespace deepft {

/// The strip gate of each slot (DPA-1; see above): rows[s] -> [m] gate, f[s] its factor.
/// rows == nullptr: no gate (se_e2_a).
template <typename T>
struct Gate {
  const T* const* rows = nullptr;
  const T* f = nullptr;
};

/// The tables of every embedding net of a branch, in precision T.
template <typename T>
class TabulatedEmbedding {
 public:
  /// Reads the tensors named by cfg.compression (shapes checked: [n_fine + n_coarse, 6, m]).
  TabulatedEmbedding(const ModelFile& file, const BranchConfig& cfg, int64_t m);

  /// t [4, m] += scale * Σ_rows rowᵀ G(row[0]) over the `n` slots of `em` ([n, 4], R̂) whose
  /// mask is set, with net `net`; counts the out-of-range inputs into `counts`.
  /// With a gate, G is multiplied by (1 + f gate) per slot.
  void accumulate(int64_t net, int64_t n, const T* em, const uint8_t* mask, T scale, T* t,
                  TableCounts& counts, const Gate<T>& gate = {}) const;

  /// g_em [n, 4] = dE/dR̂ of the masked slots (others untouched) given gt [4, m], the
  /// gradient w.r.t. Σ rowᵀ G(row[0]) (the forward's scale already folded into gt).
  /// With a gate and g_f: also g_f [n] = dE/df of the masked slots.
  void backward(int64_t net, int64_t n, const T* em, const uint8_t* mask, const T* gt,
                T* g_em, const Gate<T>& gate = {}, T* g_f = nullptr) const;

  /// g [m] = G(x) of net `net` (the constant term of empty slots).
  void value(int64_t net, T x, T* g) const;

  int64_t check_frequency() const noexcept { return check_frequency_; }

 private:
  struct Net {
    T lower, step, inv_step, upper, stride1, inv_stride1, xmax, t_end;
    int64_t n_fine, n_coarse;
    AlignedVector<T> coef;  ///< [n_fine + n_coarse, 6, m]
  };
  struct Where {
    const T* c;  ///< coefficients of the interval [6, m]
    T t;         ///< ŝ - x_q
    bool held;   ///< outside the table: dG/dŝ = 0
  };
  int64_t m_ = 0, check_frequency_ = -1;
  std::vector<Net> nets_;

  Where locate(const Net& net, T x) const;
};

}  // namespace deepft
