// Native evaluator of one branch of a frozen se_e2_a + energy-fitting model (internal header
// of the inference core; the interface is evaluator.h, the public API deep_pot.h).
//
// Math (one center atom i of type t_i, Nc = sum(sel) slots, M = neuron[-1], A = axis_neuron):
//   R̂        [Nc, 4]   normalized environment matrix (env_mat.h), 0 in padded slots
//   G        [Nc, M]   embedding net of the neighbor type (type_one_side) or of the pair
//                      (t_i, t_j), applied to the first column of R̂ (real neighbors only:
//                      padded rows of R̂ are zero, so they never reach T)
//   T        [4, M]    R̂ᵀ G / Nc
//   D        [M, A]    Tᵀ T[:, :A], flattened row-major
//   e_i                the energy fitting of D (energy_fitting.h)
// Backward (E = sum_i e_i): dE/dD from the fitting nets, dE/dT = T< dDᵀ + [T dD, 0], then
// dE/dG = R̂ dT / Nc and dE/dR̂ = G dTᵀ / Nc, the embedding backward adds dE/dŝ to column 0;
// env_mat_se_a_vjp turns dE/dR̂ into dE/dr_ij.
#pragma once

#include <memory>

#include "branch_config.h"
#include "evaluator.h"
#include "model_file.h"

namespace deepft {

/// The evaluator of an se_e2_a branch (cfg.dpa1 unset); throws ModelFileError on missing or
/// misshaped tensors.
std::unique_ptr<Evaluator> make_se_a_evaluator(const ModelFile& file, const BranchConfig& cfg);

}  // namespace deepft
