// Reductions from pair gradients to forces and virials (inference: energy -> forces, virial).
//
// Input is the gradient of the energy with respect to every neighbor displacement,
//   g_ij = dE / d r_ij,   r_ij = x_j(+image) - x_i,
// typically obtained with env_mat_se_a_vjp from dE/d em. Since E depends on x_i through
// -r_ij and on x_j through +r_ij, with F = -dE/dx:
//   force[i] += sum_j g_ij        force[j] -= g_ij              (j may be a ghost atom)
// Virial in DeePMD-kit's convention (eV; equal to -dE/d(strain) for a homogeneous deformation
// x -> x (1 + eps) applied to positions and box, and to sum_atoms F (x) x for an isolated
// configuration):
//   virial[a * 3 + b] = - sum_pairs g_ij[a] * r_ij[b]
// The per-atom virial assigns each pair term to the NEIGHBOR atom j (DeePMD-kit's prod_virial
// convention, translation invariant):  atom_virial[j][a * 3 + b] -= g_ij[a] * r_ij[b];
// summing atom_virial over atoms (ghosts included) gives virial.
//
// Shapes (C order): grad_rij, rij [nframes, nloc, nnei, 3]; nlist [nframes, nloc, nnei] with
// indices in [0, nall) or -1 (padding slots are skipped); force [nframes, nall, 3];
// virial [nframes, 9]; atom_virial [nframes, nall, 9]. The functions OVERWRITE their outputs
// (they zero them first). When nlist uses image shifts (build_nlist) nall = nloc; with ghost
// atoms the caller folds ghost forces / virials back onto their owners (or LAMMPS does, with
// reverse communication).
#pragma once

#include <cstdint>

#include "status.h"

namespace deepft {

/// The pair data the reductions read.
template <typename T>
struct PairGradient {
  const T* grad_rij = nullptr;    ///< [nframes, nloc, nnei, 3]  dE/d r_ij
  const T* rij = nullptr;         ///< [nframes, nloc, nnei, 3]  (prod_virial only)
  const int64_t* nlist = nullptr;  ///< [nframes, nloc, nnei]     neighbor index or -1
  int64_t nframes = 0;
  int64_t nloc = 0;
  int64_t nnei = 0;
  int64_t nall = 0;  ///< number of atoms a neighbor index may refer to (>= nloc)
};

/// force [nframes, nall, 3] = -dE/dx (overwritten).
template <typename T>
Status prod_force(const PairGradient<T>& in, T* force) noexcept;

/// virial [nframes, 9] (overwritten); atom_virial [nframes, nall, 9] (overwritten) unless
/// nullptr.
template <typename T>
Status prod_virial(const PairGradient<T>& in, T* virial, T* atom_virial) noexcept;

namespace cuda {

// CUDA versions: all arrays are device pointers, `stream` a cudaStream_t (nullptr = legacy
// default stream); asynchronous. Accumulation order differs from the CPU (atomics), so results
// agree to rounding. Return kNotCompiled in builds without CUDA.

template <typename T>
Status prod_force(const PairGradient<T>& in, T* force, void* stream) noexcept;

template <typename T>
Status prod_virial(const PairGradient<T>& in, T* virial, T* atom_virial, void* stream) noexcept;

}  // namespace cuda

}  // namespace deepft
