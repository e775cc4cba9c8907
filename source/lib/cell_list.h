// Internal (not part of the public API): the binning grid behind the CPU neighbor searches in
// neighbor_list.cc. Positions are binned in the fractional coordinates of a "binning basis":
// the lattice vectors along periodic directions and an orthonormal completion along
// non-periodic ones, so orthorhombic, triclinic, thin (< 2 rcut) and partially or fully
// non-periodic systems all use the same search. Arithmetic is in double for any input type.
#pragma once

#include <cstdint>
#include <vector>

#include "status.h"

namespace deepft::detail {

/// Bins per cutoff length along each face normal: smaller cells test fewer far pairs at the
/// cost of more (pruned) cells per atom.
constexpr int kBinsPerCutoff = 2;

/// Candidates filtered per batch in the innermost loop.
constexpr int kChunk = 64;

class CellList {
 public:
  /// Bins `natoms` positions ([natoms, 3], C order). `box` ([9], lattice vectors as rows) may be
  /// nullptr only when no direction is periodic.
  template <typename T>
  Status build(const T* positions, int64_t natoms, const T* box, const bool periodic[3],
               double cutoff) noexcept;

  /// Calls emit(j, S, r2) for every neighbor (j, S) of atom i with r2 < cutoff^2, r2 the squared
  /// distance |x_j + S @ box - x_i|^2 computed from the wrapped positions. Excludes (i, S=0)
  /// unless self_interaction. Thread safe (read only).
  template <typename Emit>
  void for_each_neighbor(int64_t i, bool self_interaction, Emit&& emit) const;

  int64_t natoms() const noexcept { return natoms_; }

  /// Original index of the p-th atom in cell order (iterating p gives spatial locality).
  int64_t sorted_atom(int64_t p) const noexcept { return sorted_atom_[p]; }

 private:
  void cell_range_of(int64_t i, int k, int d, int64_t* bin, int32_t* shift) const;

  int64_t natoms_ = 0;
  double cutoff_ = 0, cutoff2_ = 0;
  bool periodic_[3] = {false, false, false};
  bool orthogonal_ = true;         // binning basis rows mutually orthogonal
  double basis_[3][3] = {};        // rows: binning basis vectors (Å)
  double inverse_[3][3] = {};      // f = x @ inverse_
  double lo_[3] = {0, 0, 0};       // fractional origin of bin 0
  double span_[3] = {1, 1, 1};     // fractional length covered by the nbin_ bins
  double width_[3] = {0, 0, 0};    // bin width along the face normal (Å)
  int64_t nbin_[3] = {1, 1, 1};
  int reach_[3] = {0, 0, 0};       // neighbor bins searched on each side
  std::vector<int64_t> cell_start_;  // [ncells + 1] offsets into the sorted arrays
  std::vector<double> sorted_pos_;   // [natoms, 3] wrapped positions, sorted by cell
  std::vector<int64_t> sorted_atom_;  // [natoms] original index of sorted entry p
  std::vector<int32_t> sorted_wrap_;  // [natoms, 3] per sorted entry: x_wrapped = x - wrap @ box
  std::vector<int64_t> slot_;        // [natoms] sorted position p of original atom i
  std::vector<double> frac_in_bin_;  // [natoms, 3] per original atom: position inside its bin in
                                     //   bin units (in [0, 1) up to rounding)
  std::vector<int64_t> bin_;         // [natoms, 3] per original atom: bin coordinates
};

// ---- inline implementation of the search loop (a template on the callback) -----------------

template <typename Emit>
void CellList::for_each_neighbor(int64_t i, bool self_interaction, Emit&& emit) const {
  constexpr int kMaxStack = 16;  // per-direction tables up to reach 16 live on the stack
  const int reach_max = reach_[0] > reach_[1] ? (reach_[0] > reach_[2] ? reach_[0] : reach_[2])
                                              : (reach_[1] > reach_[2] ? reach_[1] : reach_[2]);
  const int nd = 2 * reach_max + 1;
  // Per direction k and offset d (index d + reach_[k]): neighbor bin, periodic shift, face gap
  // and translation of that shift along basis_[k].
  int64_t bin_stack[3][2 * kMaxStack + 1];
  int32_t shift_stack[3][2 * kMaxStack + 1];
  double gap_stack[3][2 * kMaxStack + 1];
  std::vector<int64_t> bin_heap;
  std::vector<int32_t> shift_heap;
  std::vector<double> gap_heap;
  int64_t* bins[3];
  int32_t* shifts[3];
  double* gaps[3];
  if (reach_max <= kMaxStack) {
    for (int k = 0; k < 3; ++k) {
      bins[k] = bin_stack[k];
      shifts[k] = shift_stack[k];
      gaps[k] = gap_stack[k];
    }
  } else {
    bin_heap.resize(3 * nd);
    shift_heap.resize(3 * nd);
    gap_heap.resize(3 * nd);
    for (int k = 0; k < 3; ++k) {
      bins[k] = bin_heap.data() + k * nd;
      shifts[k] = shift_heap.data() + k * nd;
      gaps[k] = gap_heap.data() + k * nd;
    }
  }
  const double slack = 1e-9 * cutoff_;  // keeps the bin pruning conservative under rounding
  for (int k = 0; k < 3; ++k) {
    const double u = frac_in_bin_[3 * i + k];
    for (int d = -reach_[k]; d <= reach_[k]; ++d) {
      int64_t c = bin_[3 * i + k] + d;
      int32_t sh = 0;
      if (periodic_[k]) {
        int64_t q = c >= 0 ? c / nbin_[k] : -((-c + nbin_[k] - 1) / nbin_[k]);
        c -= q * nbin_[k];
        sh = static_cast<int32_t>(q);
      } else if (c < 0 || c >= nbin_[k]) {
        c = -1;  // outside a non-periodic direction: no such bin
      }
      double gap = d > 0 ? (d - u) * width_[k] : (d < 0 ? (u - d - 1) * width_[k] : 0.0);
      gap -= slack;
      gap = gap > 0 ? gap : 0.0;
      bins[k][d + reach_[k]] = c;
      shifts[k][d + reach_[k]] = sh;
      gaps[k][d + reach_[k]] = gap * gap;
    }
  }
  const int64_t pi = slot_[i];
  const double xi = sorted_pos_[3 * pi], yi = sorted_pos_[3 * pi + 1], zi = sorted_pos_[3 * pi + 2];
  const int32_t* wi = &sorted_wrap_[3 * pi];
  const double* pos = sorted_pos_.data();
  const int64_t* start = cell_start_.data();
  const double rc2 = cutoff2_;
  for (int d0 = -reach_[0]; d0 <= reach_[0]; ++d0) {
    const int64_t c0 = bins[0][d0 + reach_[0]];
    const double g0 = gaps[0][d0 + reach_[0]];
    if (c0 < 0 || g0 >= rc2) continue;
    const int32_t s0 = shifts[0][d0 + reach_[0]];
    for (int d1 = -reach_[1]; d1 <= reach_[1]; ++d1) {
      const int64_t c1 = bins[1][d1 + reach_[1]];
      const double g1 = gaps[1][d1 + reach_[1]];
      const double g01 = orthogonal_ ? g0 + g1 : (g0 > g1 ? g0 : g1);
      if (c1 < 0 || g01 >= rc2) continue;
      const int32_t s1 = shifts[1][d1 + reach_[1]];
      const int64_t row = (c0 * nbin_[1] + c1) * nbin_[2];
      int d2 = -reach_[2];
      while (d2 <= reach_[2]) {
        // a run of consecutive d2 with the same shift is one contiguous range of atoms
        const int64_t c2 = bins[2][d2 + reach_[2]];
        const double g2 = gaps[2][d2 + reach_[2]];
        const double g012 = orthogonal_ ? g01 + g2 : (g01 > g2 ? g01 : g2);
        if (c2 < 0 || g012 >= rc2) {
          ++d2;
          continue;
        }
        const int32_t s2 = shifts[2][d2 + reach_[2]];
        int d2_end = d2 + 1;
        while (d2_end <= reach_[2]) {
          const int64_t c2n = bins[2][d2_end + reach_[2]];
          const double g2n = gaps[2][d2_end + reach_[2]];
          const double gn = orthogonal_ ? g01 + g2n : (g01 > g2n ? g01 : g2n);
          if (c2n < 0 || gn >= rc2 || shifts[2][d2_end + reach_[2]] != s2) break;
          ++d2_end;
        }
        const int64_t c2_last = bins[2][d2_end - 1 + reach_[2]];
        const int64_t p_begin = start[row + c2], p_end = start[row + c2_last + 1];
        d2 = d2_end;
        if (p_begin == p_end) continue;
        // translation of the image: shift @ basis (zero along non-periodic directions)
        const double tx = s0 * basis_[0][0] + s1 * basis_[1][0] + s2 * basis_[2][0];
        const double ty = s0 * basis_[0][1] + s1 * basis_[1][1] + s2 * basis_[2][1];
        const double tz = s0 * basis_[0][2] + s1 * basis_[1][2] + s2 * basis_[2][2];
        const double ox = xi - tx, oy = yi - ty, oz = zi - tz;
        const bool zero_shift = (s0 | s1 | s2) == 0;
        // Branch-free filtering in chunks: distances are tested without a data-dependent
        // branch, the accepted entries compacted, then emitted.
        for (int64_t q0 = p_begin; q0 < p_end; q0 += kChunk) {
          const int64_t q1 = q0 + kChunk < p_end ? q0 + kChunk : p_end;
          int64_t accepted[kChunk];
          double accepted_r2[kChunk];
          int m = 0;
          for (int64_t p = q0; p < q1; ++p) {
            const double dx = pos[3 * p] - ox, dy = pos[3 * p + 1] - oy, dz = pos[3 * p + 2] - oz;
            const double r2 = dx * dx + dy * dy + dz * dz;
            accepted[m] = p;
            accepted_r2[m] = r2;
            m += r2 < rc2;
          }
          for (int a = 0; a < m; ++a) {
            const int64_t p = accepted[a];
            if (zero_shift && p == pi && !self_interaction) continue;
            const int32_t* wj = &sorted_wrap_[3 * p];
            const int32_t S[3] = {s0 - wj[0] + wi[0], s1 - wj[1] + wi[1], s2 - wj[2] + wi[2]};
            emit(sorted_atom_[p], S, accepted_r2[a]);
          }
        }
      }
    }
  }
}

}  // namespace deepft::detail
