// Neighbor lists: an O(N) cell-list search for periodic (orthorhombic or triclinic, including
// boxes thinner than the cutoff), partially periodic and non-periodic systems, with three
// outputs:
//   1. neighbor_pairs: the plain full pair list (i, j, S), both directions, like ASE's
//      neighbor_list("ijS") / vesin with full_list=true;
//   2. build_nlist: the DeePMD-style formatted per-atom table nlist[nframes, nloc, sum(sel)];
//   3. format_nlist_from_full_list: the same table from local+ghost coordinates and an external
//      full neighbor list in LAMMPS numneigh/firstneigh form (indices into local+ghost atoms).
//
// Conventions shared by every function here:
//   * Arrays are dense, C order (row-major), no padding, on the host for the functions in
//     namespace deepft and on the current CUDA device for those in namespace deepft::cuda.
//   * Coordinates and lengths are in the same unit (Å in deepft); T is double or float.
//   * box: 9 values per frame, row-major 3x3 whose ROWS are the lattice vectors a, b, c.
//   * An image shift S is an integer triple; the neighbor copy of atom j sits at
//       x_j + S[0] * a + S[1] * b + S[2] * c       (i.e. x_j + S @ box).
//     Shifts refer to the coordinates exactly as given (they are NOT wrapped first).
//   * A pair (i, j, S) is a neighbor pair when |x_j + S @ box - x_i| < cutoff (strict), and
//     i != j or S != 0. In boxes thinner than 2*cutoff an atom can meet several images of the
//     same neighbor and images of itself; each distinct (j, S) appears once.
//   * Formatted tables (nnei = sel[0] + ... + sel[ntypes-1] slots per center atom): slot block
//     t = [sel[0] + ... + sel[t-1], ... + sel[t]) holds the type-t neighbors sorted by the key
//     (distance, j, S[0], S[1], S[2]) ascending, then -1 padding. When an atom has more than
//     sel[t] type-t neighbors the nearest sel[t] are kept and the overflow is REPORTED via
//     max_neighbors / type_counts (never silently hidden).
//   * Atom types are int32 in [0, ntypes); a negative type marks a virtual atom that is
//     neither a center with neighbors nor anybody's neighbor (its table row is all -1).
//   * All functions are noexcept and return a Status (see status.h); on error the outputs
//     are unspecified.
#pragma once

#include <cstdint>
#include <vector>

#include "status.h"

namespace deepft {

// ---------------------------------------------------------------------------------------------
// 1. Plain full pair list
// ---------------------------------------------------------------------------------------------

/// Result of neighbor_pairs. Pairs are grouped by i in increasing order (all pairs of atom 0
/// first); the order inside one i is unspecified but deterministic.
template <typename T>
struct PairList {
  std::vector<int64_t> first;   ///< [npairs]      center index i
  std::vector<int64_t> second;  ///< [npairs]      neighbor index j
  std::vector<int32_t> shift;   ///< [npairs, 3]   image shift S of the neighbor copy
  std::vector<T> distance;      ///< [npairs]      |r_ij|, filled only if requested
  std::vector<T> vector;        ///< [npairs, 3]   r_ij = x_j + S @ box - x_i, only if requested
  int64_t size() const noexcept { return static_cast<int64_t>(first.size()); }
};

struct PairOptions {
  bool self_interaction = false;  ///< also emit (i, i, S=0) pairs (ASE's self_interaction)
  bool distances = false;         ///< fill PairList::distance
  bool vectors = false;           ///< fill PairList::vector
};

/// Full neighbor list of one configuration.
///   positions: [natoms, 3]
///   box:       [9] lattice vectors as rows; may be nullptr only when no direction is periodic.
///              A lattice vector along a non-periodic direction may be anything (even zero).
///   periodic:  [3] periodicity along a, b, c. Mixed periodicity is supported; shifts along
///              non-periodic directions are always 0.
///   cutoff:    > 0.
/// Uses OpenMP threads over atoms; the output order does not depend on the thread count.
template <typename T>
Status neighbor_pairs(const T* positions, int64_t natoms, const T* box, const bool periodic[3],
                      T cutoff, const PairOptions& options, PairList<T>& out) noexcept;

// ---------------------------------------------------------------------------------------------
// 2./3. Formatted per-atom neighbor tables
// ---------------------------------------------------------------------------------------------

/// Layout of the formatted table: nnei = sum(sel) slots per center, one block per type.
template <typename T>
struct NlistFormat {
  T rcut = 0;                   ///< cutoff radius (> 0)
  const int64_t* sel = nullptr;  ///< [ntypes] host array, slots reserved per neighbor type (>= 0)
  int32_t ntypes = 0;           ///< number of atom types (>= 1)
};

/// Caller-allocated outputs of the formatters. Only `nlist` is required; any other pointer may
/// be nullptr to skip that output. nrow = nframes * nloc rows, nnei = sum(sel).
template <typename T>
struct NlistOutput {
  int64_t* nlist = nullptr;          ///< [nframes, nloc, nnei] neighbor index or -1 (padding)
  int32_t* image = nullptr;          ///< [nframes, nloc, nnei, 3] image shift S, 0 in padding
                                     ///<   (build_nlist only; always 0 for the ghost form)
  T* rij = nullptr;                  ///< [nframes, nloc, nnei, 3] x_neighbor - x_center, 0 in padding
  int64_t* max_neighbors = nullptr;  ///< [ntypes] max over all rows of the number of type-t
                                     ///<   neighbors within rcut (> sel[t] means overflow)
  int64_t* type_counts = nullptr;    ///< [nframes, nloc, ntypes] number of type-t neighbors of
                                     ///<   each center within rcut (before truncation to sel)
};

/// Formatted table of periodic or non-periodic frames, by cell list.
///   coord: [nframes, nloc, 3]
///   box:   [nframes, 9] (fully periodic) or nullptr (no periodicity).
///   atype: [nloc] (the same types for every frame).
/// nlist holds indices in [0, nloc); the neighbor position is coord[j] + image @ box.
template <typename T>
Status build_nlist(const T* coord, const T* box, const int32_t* atype, int64_t nframes,
                   int64_t nloc, const NlistFormat<T>& format, const NlistOutput<T>& out) noexcept;

/// A full neighbor list over local+ghost atoms in LAMMPS form (`NeighList` of a full request).
/// Entries must be plain atom indices in [0, nall): clear LAMMPS' special-bond bits
/// (j & NEIGHMASK) before passing the list. Entries j == i are skipped; list each neighbor
/// index once per row (a repeated index would occupy two slots).
struct ExternalNeighborList {
  int64_t inum = 0;                      ///< number of rows in ilist
  const int* ilist = nullptr;            ///< [inum] local atom of row ii; nullptr means ii itself
  const int* numneigh = nullptr;         ///< [nloc] neighbor count of local atom i
  const int* const* firstneigh = nullptr;  ///< [nloc] firstneigh[i][0 .. numneigh[i]) neighbor
                                           ///<   indices of local atom i, in [0, nall)
};

/// Formatted table of one frame from local+ghost coordinates and an external full neighbor
/// list (LAMMPS). Candidates from the list are filtered by |x_j - x_i| < rcut.
///   coord: [nall, 3] local atoms first (0 .. nloc), then ghosts (nloc .. nall).
///   atype: [nall] types of local and ghost atoms.
/// Rows of local atoms that are not in ilist are all -1. nlist holds indices in [0, nall);
/// image (if requested) is all 0 since ghosts already carry their periodic position.
template <typename T>
Status format_nlist_from_full_list(const T* coord, const int32_t* atype, int64_t nloc,
                                   int64_t nall, const ExternalNeighborList& list,
                                   const NlistFormat<T>& format,
                                   const NlistOutput<T>& out) noexcept;

namespace cuda {

/// CUDA version of build_nlist: every array pointer (coord, box, atype and all outputs) is a
/// device pointer; format.sel stays a host array. `stream` is a cudaStream_t (nullptr = the
/// legacy default stream); the call is asynchronous with respect to the host except for the
/// small scratch allocations it makes. Returns kNotCompiled in builds without CUDA.
template <typename T>
Status build_nlist(const T* coord, const T* box, const int32_t* atype, int64_t nframes,
                   int64_t nloc, const NlistFormat<T>& format, const NlistOutput<T>& out,
                   void* stream) noexcept;

/// CUDA formatter from a neighbor list in CSR form (the device-friendly equivalent of
/// format_nlist_from_full_list): row i (local atom, 0 <= i < nloc) has candidate neighbors
/// indices[offsets[i] .. offsets[i + 1]), all in [0, nall).
///   coord [nall, 3], atype [nall], offsets [nloc + 1] (int64), indices [offsets[nloc]] (int32)
/// are device pointers, as are the outputs; image (if requested) is set to 0.
template <typename T>
Status format_nlist_from_csr(const T* coord, const int32_t* atype, int64_t nloc, int64_t nall,
                             const int64_t* offsets, const int32_t* indices,
                             const NlistFormat<T>& format, const NlistOutput<T>& out,
                             void* stream) noexcept;

}  // namespace cuda

}  // namespace deepft
