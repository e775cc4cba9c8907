// The small per-atom products of se_e2_a (4-row matrices): plain loops vectorized over the
// embedding width M. They replace per-atom OpenBLAS calls (10 per atom) whose call and packing
// overhead exceeded the arithmetic at these sizes.
//
// Shapes (row-major): r [rows, 4] normalized environment rows R̂, g [rows, M] embedding rows
// G, t [4, M], d [M, A] (A = axis_neuron), gd [M, A], gt [4, M], gg [rows, M], gr [rows, 4].
#pragma once

#include <cstdint>

namespace deepft::se_a {

/// t += scale * rᵀ g
template <typename T>
void t_accumulate(int64_t rows, int64_t m, const T* r, const T* g, T scale, T* t);

/// d = tᵀ t[:, :a]
template <typename T>
void descriptor(int64_t m, int64_t a, const T* t, T* d);

/// gt = scale * (t[:, :a] gdᵀ + [t gd, 0]), the gradient of d = tᵀ t[:, :a] w.r.t. t.
template <typename T>
void descriptor_backward(int64_t m, int64_t a, const T* t, const T* gd, T scale, T* gt);

/// gg = r gt (the gradient w.r.t. g of t = rᵀ g) and gr = g gtᵀ (w.r.t. r).
template <typename T>
void rows_backward(int64_t rows, int64_t m, const T* r, const T* g, const T* gt, T* gg, T* gr);

/// With the embedding's forward-mode tangents j [rows, M] = dG/dŝ (ŝ = r[:, 0]):
/// out [rows, 4] = dE/dR̂ = g gtᵀ + [(r (j gtᵀ)) summed over columns, 0, 0, 0], i.e. the
/// gradient through G (via ŝ, column 0) and through R̂ directly.
template <typename T>
void rows_backward_tangent(int64_t rows, int64_t m, const T* r, const T* g, const T* j,
                           const T* gt, T* out);

}  // namespace deepft::se_a
