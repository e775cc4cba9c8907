// Native evaluator of one branch of a frozen DPA-1 + energy-fitting model (internal header of
// the inference core; the interface is evaluator.h, the public API deep_pot.h). The math is
// deepft/model/descriptor/dpa1.py's (its module docstring), evaluated on the real neighbors
// only, with the empty slots as constants of the center type.
//
// One center atom i of type t_i, N = nsel slots of which Nr hold real neighbors j (type t_j,
// switch sw_j = sw(r_ij)), M = neuron[-1], A = axis_neuron, τ the type-embedding table
// (row ntypes: the padding type, τ = 0):
//   R̂_j      normalized environment row (env_mat.h); ŝ_j = R̂_j0, r̂_j = R̂_j[1:4] / |R̂_j[1:4]|
//   G_j      concat: embedding([ŝ_j, τ_tj (, τ_ti)]);
//            strip:  g_j (1 + gate(t_i, t_j) [smooth] sw_j),  g_j = embedding(ŝ_j),
//                    gate = embedding_strip(τ_tj (, τ_ti)), a table per type pair
//   G        <- LayerNorm(G + Attn(G)), attn_layer times (dpa1_attention.h)
//   T        [4, M] = (sum_j R̂_jᵀ G_j + (N - Nr) R̂_padᵀ G_pad) / N, R̂_pad = -davg/dstd[t_i]
//            and G_pad the output row of an empty slot (both depend on t_i only: pad_term)
//   D        Tᵀ T[:, :A] flattened (+ τ_ti with concat_output_tebd); e_i = fitting(D)
// Backward: dE/dD -> dE/dT -> dE/dG_j and dE/dR̂_j -> through the attention layers (adding
// dE/dsw_j and dE/dr̂_j) -> through the gate (dE/dsw_j) and the embedding net (dE/dŝ_j) ->
// dE/dR̂_j, turned into dE/dr_ij by env_mat_se_a_vjp, plus dE/dsw_j sw'(r) r_ij / r.
#pragma once

#include <memory>

#include "branch_config.h"
#include "evaluator.h"
#include "model_file.h"

namespace deepft {

/// The evaluator of a DPA-1 branch (cfg.dpa1 set); throws ModelFileError on missing or
/// misshaped tensors. Its PairInput needs atom_type.
std::unique_ptr<Evaluator> make_dpa1_evaluator(const ModelFile& file, const BranchConfig& cfg);

}  // namespace deepft
