// Model deviation of an ensemble of models, as DeePMD-kit's LAMMPS interface reports it
// (pair_style deepmd m1 m2 ... out_file model_devi.out). Plain math, no LAMMPS types.
//
// Force deviation of atom i over M models:  eps_F,i = sqrt( 1/M sum_m |F_i^m - <F_i>|^2 ),
// optionally relative: eps_F,i / (|<F_i>| + eps).
// Virial deviation: per component c of the 3x3 virial divided by the total atom count,
//   eps_V,c = sqrt( 1/M sum_m (W_c^m - <W_c>)^2 ),   optionally / (|<W_c>| + eps_v);
// the file reports max_c, min_c and sqrt(mean_c eps_V,c^2) over the 9 components.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace deepft_lmp {

/// Per-atom force deviation.
///   forces: M pointers, each [n, 3] (eV/Å) of one model
///   out:    [n] eps_F,i (eV/Å)
///   relative_eps < 0: absolute deviation; >= 0: divided by |<F_i>| + relative_eps.
void force_deviation(const std::vector<const double*>& forces, int64_t n, double relative_eps,
                     double* out);

/// Max, min and quadratic mean over the 9 components of the virial deviation.
///   virials: M arrays of 9 (eV, row-major 3x3), already divided by the total atom count
///   relative_eps < 0: absolute; >= 0: each component divided by |<W_c>| + relative_eps.
struct DeviStats {
  double max = 0, min = 0, avg = 0;
};
DeviStats virial_deviation(const std::vector<std::vector<double>>& virials, double relative_eps);

/// Header line of the model deviation file (without newline); `atomic` appends the column
/// label of the per-atom force deviations.
std::string devi_header(bool atomic);

/// One data line (without newline): step, then max/min/avg virial deviation and max/min/avg
/// force deviation, in DeePMD-kit's layout (%12d, then " %18.6e" columns); then `atomic`
/// (per-atom force deviations ordered by atom ID) as further columns.
std::string devi_line(int64_t step, const DeviStats& v, const DeviStats& f,
                      const std::vector<double>& atomic);

}  // namespace deepft_lmp
