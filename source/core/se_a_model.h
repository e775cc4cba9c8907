// Native evaluator of one branch of a frozen se_e2_a + energy-fitting model (internal header
// of the inference core; the public API is deep_pot.h).
//
// Math (one center atom i of type t_i, Nc = sum(sel) slots, M = neuron[-1], A = axis_neuron):
//   R̂        [Nc, 4]   normalized environment matrix (env_mat.h), 0 in padded slots
//   G        [Nc, M]   embedding net of the neighbor type (type_one_side) or of the pair
//                      (t_i, t_j), applied to the first column of R̂ (real neighbors only:
//                      padded rows of R̂ are zero, so they never reach T)
//   T        [4, M]    R̂ᵀ G / Nc
//   D        [M, A]    Tᵀ T[:, :A], flattened row-major
//   e_i                sum over fitting nets f of net_f[t_i](D) + bias_f[t_i]
// Backward (E = sum_i e_i): dE/dD from the fitting nets, dE/dT = T< dDᵀ + [T dD, 0], then
// dE/dG = R̂ dT / Nc and dE/dR̂ = G dTᵀ / Nc, the embedding backward adds dE/dŝ to column 0;
// env_mat_se_a_vjp turns dE/dR̂ into dE/dr_ij.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model_file.h"

namespace deepft {

// Sanity limits on header fields of (untrusted) model files, far above any real model; they
// keep a crafted header from requesting absurd allocations.
constexpr int64_t kMaxTypes = 256;      ///< atom types of a branch
constexpr int64_t kMaxSel = 16384;      ///< each sel entry and sum(sel)
constexpr double kMaxRcut = 100.0;      ///< Å
constexpr int64_t kMaxWidth = 4096;     ///< width of a network layer
constexpr int64_t kMaxPadTerm = int64_t(1) << 26;  ///< ntypes^2 * 4 * neuron[-1] values

/// Hyper-parameters of one branch, read (and validated) from the model header.
struct SeABranchConfig {
  std::string name;
  std::vector<std::string> type_map;
  std::vector<int64_t> sel;  ///< [ntypes], each >= 1
  std::vector<int64_t> neuron;          ///< embedding layer widths
  int64_t axis_neuron = 0;              ///< in [1, neuron[-1]]
  std::vector<int64_t> fitting_neuron;  ///< hidden widths of the fitting nets
  double rcut = 0;           ///< Å
  double rcut_smth = 0;      ///< Å
  bool type_one_side = true;
  std::string descriptor_activation = "tanh";
  std::string fitting_activation = "tanh";
  std::string precision = "float64";  ///< computation precision: float32 only when both nets are
  std::string descriptor_prefix;
  std::vector<std::string> fitting_prefixes;
};

/// Reads branch `branch` (empty: the default branch) of the header; throws ModelFileError.
SeABranchConfig read_branch_config(const ModelFile& file, const std::string& branch);

/// Neighbor data of `ncenter` centers, the input of Evaluator::evaluate.
struct PairInput {
  int64_t ncenter = 0;
  int64_t nnei = 0;                 ///< sum(sel)
  const int64_t* nlist = nullptr;    ///< [ncenter, nnei] neighbor index or -1
  const double* rij = nullptr;       ///< [ncenter, nnei, 3] x_j - x_i (Å)
  const int32_t* center_type = nullptr;  ///< [ncenter]; negative = virtual atom (no energy)
};

/// Outputs, caller-allocated (both overwritten).
struct PairOutput {
  double* atom_energy = nullptr;  ///< [ncenter] eV
  double* grad_rij = nullptr;     ///< [ncenter, nnei, 3] dE/dr_ij (eV/Å), 0 in padded slots
};

class Evaluator {
 public:
  virtual ~Evaluator() = default;
  /// Atomic energies and pair gradients; thread-parallel over centers (OpenMP).
  virtual void evaluate(const PairInput& in, const PairOutput& out) const = 0;
};

/// Builds the evaluator of a branch in its precision (float64, or float32 when the descriptor
/// and every fitting net are float32); throws ModelFileError on missing or misshaped tensors.
std::unique_ptr<Evaluator> make_evaluator(const ModelFile& file, const SeABranchConfig& cfg);

/// Atoms processed together by one thread (rows of the batched products); 0 (default) picks
/// about 4 chunks per thread, 8 to 32 atoms each. For benchmarks.
void set_chunk_atoms(int64_t n);

}  // namespace deepft
