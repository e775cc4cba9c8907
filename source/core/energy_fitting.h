// The energy fitting of a branch (internal): atomic energies from descriptor rows, summed over
// the branch's fitting prefixes, with their input gradient.
//
//   e_i = sum over prefixes f of net_f[t_i](D_i) + bias_f[t_i]    (eV)
// net_f[t] is nets.t of prefix f, or nets.0 for every type with fitting_net.mixed_types
// (DPA-1, whose descriptor carries the atom type). The nets run in T; bias_atom_e is float64.
#pragma once

#include <cstdint>
#include <vector>

#include "branch_config.h"
#include "model_file.h"
#include "network.h"

namespace deepft {

/// Per-thread scratch of EnergyFitting::evaluate.
template <typename T>
struct FittingWorkspace {
  AlignedVector<T> e, ge, gd_f, saved;
  MlpWorkspace<T> mlp;
};

template <typename T>
class EnergyFitting {
 public:
  /// Loads every fitting prefix of `cfg` for descriptor rows of width in_dim.
  EnergyFitting(const ModelFile& file, const BranchConfig& cfg, int64_t in_dim);

  int64_t in_dim() const { return in_dim_; }

  /// For n centers of type `type` (indices `centers`) with descriptor rows d [n, in_dim]:
  /// atom_energy[centers[a]] = e_a and gd [n, in_dim] = dE/dD, E = sum_a e_a.
  void evaluate(int32_t type, const int64_t* centers, int64_t n, const T* d,
                double* atom_energy, T* gd, FittingWorkspace<T>& w) const;

 private:
  struct Head {
    std::vector<Mlp<T>> nets;  ///< [ntypes], or [1] with mixed types
    std::vector<double> bias;  ///< [ntypes] eV
  };
  int64_t in_dim_ = 0;
  bool mixed_types_ = false;
  std::vector<Head> heads_;  ///< one per fitting prefix
};

}  // namespace deepft
