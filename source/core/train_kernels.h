// Fused loops of the training step (bound as deepft._core.train, used by deepft.ops.embedding):
// a tanh embedding layer in forward mode with its backward, and the per-atom contractions of
// se_e2_a. Each replaces a chain of torch operations that each streamed a [rows, M] array (tens
// of MB for a 192-atom water frame) through memory: the layer works on blocks of 128 rows that
// stay in cache, from the matrix product (the packed-weight kernel of packed_gemm.h) through
// the activation and its tangent.
//
// Shapes (row-major, contiguous): rows of an embedding layer [rows, in] -> [rows, out];
// per atom n of N: environment rows r [N, K, 4] (R̂ of its K neighbor slots), embedding rows
// g and their forward-mode tangents gt = dG/dŝ [N, K, M], the contraction t and its gradient
// a = dE/dT [N, 4, M].
//
// Sums over rows (weight, bias and timestep gradients) are taken over fixed groups of rows and
// added in group order, so every result is independent of the number of threads.
#pragma once

#include <cstdint>

namespace deepft::train {

/// Skip connection of a layer (deepft.model.network.Layer): none, y = x + h (out == in),
/// y = [x, x] + h (out == 2 in).
enum class Skip { kNone = 0, kSame = 1, kDouble = 2 };

/// One tanh layer of a net with a scalar input s in forward mode, matrix products included
/// (x, xt = dx/ds [rows, in]; w [in, out]; b [out]; idt [out] or nullptr for 1):
///   z = x w + b,  zt = xt w,  h = tanh(z),
///   y = idt h + skip(x),  yt = idt (1 - h²) zt + skip(xt)
/// Writes h and zt (what the backward needs) and y, yt, all [rows, out].
template <typename T>
void tanh_tangent_layer(int64_t rows, int64_t in, int64_t out, Skip skip, const T* w,
                        const T* b, const T* idt, const T* x, const T* xt, T* h, T* zt, T* y,
                        T* yt);

/// Backward of tanh_tangent_layer for dy, dyt [rows, out], with g = 1 - h²:
///   dz = g (idt dy - 2 h zt idt dyt),  dzt = g idt dyt
///   dw = xᵀ dz + xtᵀ dzt [in, out],  d_bias = Σ_rows dz,  d_idt = Σ_rows (dy h + dyt g zt),
///   dx = skipᵀ(dy) + dz wᵀ,  dxt = skipᵀ(dyt) + dzt wᵀ  [rows, in]
/// (skipᵀ: the adjoint of the skip connection). dw, d_idt and dx/dxt may be nullptr (not
/// wanted); d_bias is always written.
template <typename T>
void tanh_tangent_layer_backward(int64_t rows, int64_t in, int64_t out, Skip skip, const T* w,
                                 const T* idt, const T* x, const T* xt, const T* h, const T* zt,
                                 const T* dy, const T* dyt, T* dw, T* d_bias, T* d_idt, T* dx,
                                 T* dxt);

/// t[n] = Σ_j r[n, j]ᵀ g[n, j]  (t [N, 4, M]).
template <typename T>
void env_contract(int64_t n, int64_t k, int64_t m, const T* r, const T* g, T* t);

/// Backward of env_contract with respect to g: dg[n, j] = r[n, j] dt[n]  (dg [N, K, M]).
template <typename T>
void env_contract_backward(int64_t n, int64_t k, int64_t m, const T* r, const T* dt, T* dg);

/// dE/dR̂ of every slot [N, K, 4] given a = dE/dT: through G directly and through ŝ = R̂[0]:
///   out[n, j, c] = g[n, j] · a[n, c] + [c == 0] Σ_c' r[n, j, c'] (gt[n, j] · a[n, c'])
template <typename T>
void pair_grad(int64_t n, int64_t k, int64_t m, const T* r, const T* g, const T* gt,
               const T* a, T* out);

/// Backward of pair_grad for v = dL/dout [N, K, 4] (r is not differentiated):
///   da[n, c] = Σ_j (v[n, j, c] g[n, j] + v[n, j, 0] r[n, j, c] gt[n, j])     [N, 4, M]
///   dg[n, j] = Σ_c v[n, j, c] a[n, c],  dgt[n, j] = v[n, j, 0] Σ_c r[n, j, c] a[n, c]
template <typename T>
void pair_grad_backward(int64_t n, int64_t k, int64_t m, const T* r, const T* g, const T* gt,
                        const T* a, const T* v, T* da, T* dg, T* dgt);

}  // namespace deepft::train
