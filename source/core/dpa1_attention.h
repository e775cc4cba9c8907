// One DPA-1 attention layer, G <- LayerNorm(G + Attn(G)), forward and backward (input
// gradients only) over the neighbor rows of a chunk of center atoms (internal).
//
// The rows of a chunk are the REAL neighbors of its atoms, atom after atom: atom a owns rows
// [row_begin[a], row_begin[a + 1]) (Nr of them) and has npad[a] empty slots. For one atom,
// with G [Nr, M], the switch sw [Nr] and the directions r̂ [Nr, 3] of its neighbors:
//   q, k, v   = split(G W_in + b_in)             [Nr, A] each (A = attn)
//               each row scaled to unit length with `normalize` (x / max(|x|, 1e-12))
//   l_ij      = scale q_i · k_j
//   a_ij      = (l_ij + 20) sw_i sw_j - 20  (smooth)  or  l_ij
//   P_ij      = exp(a_ij) / (sum_j' exp(a_ij') + [smooth] npad exp(-20))
//   W_ij      = P_ij [smooth] sw_i sw_j [dotr] r̂_i · r̂_j
//   x         = G + (W v) W_out + b_out;   G' = (x - mean x) / sqrt(var x + eps) γ + β
// This equals deepft/model/descriptor/dpa1.py over all nsel slots: an empty slot's column
// has a = -20 (smooth: it stays in the softmax denominator, and W = 0 through sw = 0) or -inf
// (P = 0), and its row has W = 0, so its output row, LayerNorm(G + b_out), depends on the
// center type alone (pad_row below; the evaluator precomputes it).
#pragma once

#include <cstdint>
#include <vector>

#include "network.h"

namespace deepft::dpa1 {

/// Weights of one layer (tensors attention.K.{in_proj,out_proj}.{matrix,bias} and
/// attention.K.layer_norm.{weight,bias}).
template <typename T>
struct AttentionLayer {
  DenseLayer<T> in_proj;   ///< [M, 3A]
  DenseLayer<T> out_proj;  ///< [A, M]
  std::vector<T> ln_weight, ln_bias;  ///< [M]
};

/// Settings shared by the layers of a descriptor.
template <typename T>
struct AttentionSettings {
  int64_t attn = 0;  ///< A
  bool dotr = true, normalize = true, smooth = true;
  T scale = 1;       ///< factor of q
  T ln_eps = 1e-5;
};

/// The neighbor rows of a chunk (see the header comment).
template <typename T>
struct AttentionRows {
  int64_t natoms = 0;
  const int64_t* row_begin = nullptr;   ///< [natoms + 1]
  const int64_t* pair_begin = nullptr;  ///< [natoms + 1] offsets of the per-atom [Nr, Nr] blocks
  const int64_t* npad = nullptr;        ///< [natoms] empty slots of each atom
  const T* sw = nullptr;                ///< [rows] switch weight of each neighbor
  const T* rhat = nullptr;              ///< [rows, 3] r̂ (used with dotr)
};

/// What forward keeps of one layer for backward.
template <typename T>
struct AttentionSaved {
  std::vector<T> qkv;      ///< [rows, 3A] q, k, v (normalized with `normalize`)
  std::vector<T> norms;    ///< [rows, 3] |q|, |k|, |v| before normalization
  std::vector<T> prob;     ///< per atom [Nr, Nr] P at pair_begin[a]
  std::vector<T> logit;    ///< per atom [Nr, Nr] l at pair_begin[a]
  std::vector<T> xhat;     ///< [rows, M] normalized x of the layer norm
  std::vector<T> inv_std;  ///< [rows] 1 / sqrt(var x + eps)
};

/// Per-thread scratch of both passes.
template <typename T>
struct AttentionScratch {
  std::vector<T> o, proj;      ///< [rows, A] W v (forward) or its gradient, [rows, M]
  std::vector<T> dqkv;         ///< [rows, 3A]
  std::vector<T> w, dw, dl;    ///< [Nr, Nr] of one atom
};

/// g [rows, M] <- the layer's output; fills `saved`.
template <typename T>
void attention_forward(const AttentionLayer<T>& layer, const AttentionSettings<T>& s,
                       const AttentionRows<T>& rows, T* g, AttentionSaved<T>& saved,
                       AttentionScratch<T>& scratch);

/// dg [rows, M]: dE/d(output) on entry, dE/d(input G) on return; adds dE/dsw to dsw [rows]
/// (smooth) and dE/dr̂ to drhat [rows, 3] (dotr).
template <typename T>
void attention_backward(const AttentionLayer<T>& layer, const AttentionSettings<T>& s,
                        const AttentionRows<T>& rows, const AttentionSaved<T>& saved, T* dg,
                        T* dsw, T* drhat, AttentionScratch<T>& scratch);

/// The output row of an empty slot: g [M] <- LayerNorm(g + b_out) (its attention weights
/// are all 0).
template <typename T>
void attention_pad_row(const AttentionLayer<T>& layer, const AttentionSettings<T>& s, T* g);

}  // namespace deepft::dpa1
