// deepft kernels: the whole public API of source/lib in one include.
//
//   status.h         Status / StatusCode: every entry point is noexcept and returns a Status.
//   neighbor_list.h  cell-list neighbor search: full pair list (i, j, S); formatted per-atom
//                    tables nlist[nframes, nloc, sum(sel)] from coordinates + box, or from
//                    local+ghost coordinates and an external (LAMMPS) full list.
//   env_mat.h        se_e2_a environment matrix from r_ij, its derivative, and the VJP / JVP /
//                    HVP products for first and second order autograd.
//   prod.h           forces and (atomic) virials from dE/dr_ij.
//   threads.h        OpenMP thread control of the CPU kernels.
//
// Host functions live in namespace deepft, CUDA ones (device pointers, a cudaStream_t passed
// as void*) in deepft::cuda with the same names; in builds without CUDA the latter return
// StatusCode::kNotCompiled. No header includes CUDA, Python or torch headers.
#pragma once

#include "env_mat.h"
#include "neighbor_list.h"
#include "prod.h"
#include "status.h"
#include "threads.h"
