// The evaluator of one branch (internal interface of the inference core; the public API is
// deep_pot.h): atomic energies and pair gradients dE/dr_ij from a formatted neighbor table.
// se_a_model.h and dpa1_model.h implement it for the two descriptors.
#pragma once

#include <cstdint>
#include <memory>

#include "branch_config.h"
#include "deep_pot.h"
#include "model_file.h"

namespace deepft {

/// Neighbor data of `ncenter` centers, the input of Evaluator::evaluate.
struct PairInput {
  int64_t ncenter = 0;
  int64_t nnei = 0;                      ///< sum(sel)
  const int64_t* nlist = nullptr;        ///< [ncenter, nnei] neighbor index or -1
  const double* rij = nullptr;           ///< [ncenter, nnei, 3] x_j - x_i (Å)
  const int32_t* center_type = nullptr;  ///< [ncenter]; negative = virtual atom (no energy)
  /// Type of every atom nlist can name: nlist[c, s] = j has type atom_type[j] ([natoms] of
  /// the coordinate form, whose frames share types; [nall] local + ghost atoms of the
  /// neighbor-list form). Read by mixed-type branches (DPA-1), whose table does not group
  /// neighbors by type; may be nullptr for se_e2_a.
  const int32_t* atom_type = nullptr;
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
  /// Whether the branch is compressed (tabulated embedding nets).
  virtual bool compressed() const { return false; }
  /// Out-of-table counts since construction (all zero for an uncompressed branch).
  virtual TableCounts table_counts() const { return {}; }
  /// MD steps between reports of table_counts (-1: no report), from the model file.
  virtual int64_t check_frequency() const { return -1; }
};

/// Builds the evaluator of a branch (se_e2_a or DPA-1) in its precision (float64, or float32
/// when the descriptor and every fitting net are float32); throws ModelFileError on missing
/// or misshaped tensors.
std::unique_ptr<Evaluator> make_evaluator(const ModelFile& file, const BranchConfig& cfg);

/// Atoms processed together by one thread (rows of the batched products); 0 (default) picks
/// about 4 chunks per thread, within the evaluator's own bounds. For benchmarks.
void set_chunk_atoms(int64_t n);

}  // namespace deepft
