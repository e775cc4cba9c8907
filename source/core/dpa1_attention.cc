#include "dpa1_attention.h"

#include <algorithm>
#include <cmath>

#include "evaluator_common.h"
#include "gemm.h"

namespace deepft::dpa1 {

namespace {

using blas::Op;

constexpr double kShift = 20.0;       ///< shift of the smooth logits (DeePMD-kit's attnw_shift)
constexpr double kNormEps = 1e-12;    ///< torch.nn.functional.normalize's eps

/// x [n] <- x / max(|x|, eps); returns |x|.
template <typename T>
T normalize_row(T* x, int64_t n) {
  T ss = 0;
  for (int64_t k = 0; k < n; ++k) ss += x[k] * x[k];
  const T norm = std::sqrt(ss);
  const T inv = T(1) / std::max(norm, T(kNormEps));
  for (int64_t k = 0; k < n; ++k) x[k] *= inv;
  return norm;
}

/// dy [n] <- dE/dx for y = x / max(|x|, eps) (y the normalized row, norm = |x|).
template <typename T>
void normalize_row_backward(const T* y, T norm, int64_t n, T* dy) {
  if (!(norm > T(kNormEps))) {
    for (int64_t k = 0; k < n; ++k) dy[k] /= T(kNormEps);
    return;
  }
  T yd = 0;
  for (int64_t k = 0; k < n; ++k) yd += y[k] * dy[k];
  for (int64_t k = 0; k < n; ++k) dy[k] = (dy[k] - y[k] * yd) / norm;
}

/// y [m] <- LayerNorm(x) γ + β; keeps xhat [m] and returns 1 / sqrt(var + eps).
template <typename T>
T layer_norm(const T* x, int64_t m, const AttentionLayer<T>& l, T eps, T* xhat, T* y) {
  T mean = 0;
  for (int64_t k = 0; k < m; ++k) mean += x[k];
  mean /= static_cast<T>(m);
  T var = 0;
  for (int64_t k = 0; k < m; ++k) var += (x[k] - mean) * (x[k] - mean);
  var /= static_cast<T>(m);
  const T inv = T(1) / std::sqrt(var + eps);
  for (int64_t k = 0; k < m; ++k) {
    xhat[k] = (x[k] - mean) * inv;
    y[k] = xhat[k] * l.ln_weight[k] + l.ln_bias[k];
  }
  return inv;
}

/// S_ij D_ij: the factors of W_ij besides P_ij (smooth: sw_i sw_j; dotr: r̂_i · r̂_j).
template <typename T>
T gate(const AttentionSettings<T>& s, const T* sw, const T* rhat, int64_t i, int64_t j) {
  T f = T(1);
  if (s.smooth) f *= sw[i] * sw[j];
  if (s.dotr) {
    const T* a = rhat + i * 3;
    const T* b = rhat + j * 3;
    f *= a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  }
  return f;
}

/// P [nr, nr] from the logits l of one atom (see the header for the smooth form).
template <typename T>
void softmax_rows(const AttentionSettings<T>& s, int64_t nr, int64_t npad, const T* sw,
                  const T* l, T* p) {
  const T shift = T(kShift);
  for (int64_t i = 0; i < nr; ++i) {
    T* pi = p + i * nr;
    const T* li = l + i * nr;
    for (int64_t j = 0; j < nr; ++j) {
      pi[j] = s.smooth ? (li[j] + shift) * sw[i] * sw[j] - shift : li[j];
    }
    const bool pad_columns = s.smooth && npad > 0;  // logit -20 each (else -inf: no term)
    T mx = pad_columns ? -shift : pi[0];
    for (int64_t j = 0; j < nr; ++j) mx = std::max(mx, pi[j]);
    T sum = pad_columns ? static_cast<T>(npad) * std::exp(-shift - mx) : T(0);
    for (int64_t j = 0; j < nr; ++j) {
      pi[j] = std::exp(pi[j] - mx);
      sum += pi[j];
    }
    const T inv = T(1) / sum;
    for (int64_t j = 0; j < nr; ++j) pi[j] *= inv;
  }
}

}  // namespace

template <typename T>
void attention_forward(const AttentionLayer<T>& layer, const AttentionSettings<T>& s,
                       const AttentionRows<T>& rows, T* g, AttentionSaved<T>& saved,
                       AttentionScratch<T>& scratch) {
  const int64_t nrows = rows.row_begin[rows.natoms], a3 = 3 * s.attn, m = layer.out_proj.out;
  grow(saved.qkv, nrows * a3);
  grow(saved.norms, nrows * 3);
  grow(saved.prob, rows.pair_begin[rows.natoms]);
  grow(saved.logit, rows.pair_begin[rows.natoms]);
  grow(saved.xhat, nrows * m);
  grow(saved.inv_std, nrows);
  grow(scratch.o, nrows * s.attn);
  grow(scratch.proj, nrows * m);
  T* qkv = saved.qkv.data();
  layer_product(layer.in_proj, g, nrows, qkv);
  for (int64_t r = 0; r < nrows; ++r) {
    T* row = qkv + r * a3;
    for (int64_t k = 0; k < a3; ++k) row[k] += layer.in_proj.bias[k];
    if (!s.normalize) continue;
    for (int part = 0; part < 3; ++part) {
      saved.norms[r * 3 + part] = normalize_row(row + part * s.attn, s.attn);
    }
  }
  for (int64_t a = 0; a < rows.natoms; ++a) {
    const int64_t r0 = rows.row_begin[a], nr = rows.row_begin[a + 1] - r0;
    if (nr == 0) continue;
    const T* q = qkv + r0 * a3;
    T* l = saved.logit.data() + rows.pair_begin[a];
    T* p = saved.prob.data() + rows.pair_begin[a];
    blas::gemm<T>(Op::kN, Op::kT, nr, nr, s.attn, s.scale, q, a3, q + s.attn, a3, T(0), l, nr);
    const T* sw = rows.sw + r0;
    const T* rhat = rows.rhat + r0 * 3;
    softmax_rows(s, nr, rows.npad[a], sw, l, p);
    grow(scratch.w, nr * nr);
    for (int64_t i = 0; i < nr; ++i) {
      for (int64_t j = 0; j < nr; ++j) {
        scratch.w[i * nr + j] = p[i * nr + j] * gate(s, sw, rhat, i, j);
      }
    }
    blas::gemm<T>(Op::kN, Op::kN, nr, s.attn, nr, T(1), scratch.w.data(), nr, q + 2 * s.attn,
                  a3, T(0), scratch.o.data() + r0 * s.attn, s.attn);
  }
  layer_product(layer.out_proj, scratch.o.data(), nrows, scratch.proj.data());
  for (int64_t r = 0; r < nrows; ++r) {
    T* x = scratch.proj.data() + r * m;  // x = G + out
    for (int64_t k = 0; k < m; ++k) x[k] += layer.out_proj.bias[k] + g[r * m + k];
    saved.inv_std[r] = layer_norm(x, m, layer, s.ln_eps, saved.xhat.data() + r * m, g + r * m);
  }
}

template <typename T>
void attention_backward(const AttentionLayer<T>& layer, const AttentionSettings<T>& s,
                        const AttentionRows<T>& rows, const AttentionSaved<T>& saved, T* dg,
                        T* dsw, T* drhat, AttentionScratch<T>& scratch) {
  const int64_t nrows = rows.row_begin[rows.natoms], a3 = 3 * s.attn, m = layer.out_proj.out;
  const T shift = T(kShift);
  // layer norm: dg <- dE/dx (which is also dE/dG through the residual, and dE/d(out))
  for (int64_t r = 0; r < nrows; ++r) {
    T* d = dg + r * m;
    const T* xh = saved.xhat.data() + r * m;
    T m1 = 0, m2 = 0;
    for (int64_t k = 0; k < m; ++k) {
      d[k] *= layer.ln_weight[k];
      m1 += d[k];
      m2 += d[k] * xh[k];
    }
    m1 /= static_cast<T>(m);
    m2 /= static_cast<T>(m);
    for (int64_t k = 0; k < m; ++k) d[k] = saved.inv_std[r] * (d[k] - m1 - xh[k] * m2);
  }
  grow(scratch.o, nrows * s.attn);
  grow(scratch.dqkv, nrows * a3);
  std::fill(scratch.o.begin(), scratch.o.begin() + nrows * s.attn, T(0));
  layer_product_transposed_acc(layer.out_proj, dg, nrows, scratch.o.data());  // dE/d(W v)
  const T* qkv = saved.qkv.data();
  for (int64_t a = 0; a < rows.natoms; ++a) {
    const int64_t r0 = rows.row_begin[a], nr = rows.row_begin[a + 1] - r0;
    if (nr == 0) continue;
    const T* q = qkv + r0 * a3;
    const T* p = saved.prob.data() + rows.pair_begin[a];
    const T* l = saved.logit.data() + rows.pair_begin[a];
    const T* sw = rows.sw + r0;
    const T* rhat = rows.rhat + r0 * 3;
    T* dsw_a = dsw + r0;
    T* drhat_a = drhat + r0 * 3;
    const T* dout = scratch.o.data() + r0 * s.attn;
    T* dq = scratch.dqkv.data() + r0 * a3;
    grow(scratch.w, nr * nr);
    grow(scratch.dw, nr * nr);
    grow(scratch.dl, nr * nr);
    T* w = scratch.w.data();
    T* dw = scratch.dw.data();
    T* dl = scratch.dl.data();
    for (int64_t i = 0; i < nr; ++i) {
      for (int64_t j = 0; j < nr; ++j) w[i * nr + j] = p[i * nr + j] * gate(s, sw, rhat, i, j);
    }
    // dW = dout vᵀ, dv = Wᵀ dout
    blas::gemm<T>(Op::kN, Op::kT, nr, nr, s.attn, T(1), dout, s.attn, q + 2 * s.attn, a3, T(0),
                  dw, nr);
    blas::gemm<T>(Op::kT, Op::kN, nr, s.attn, nr, T(1), w, nr, dout, s.attn, T(0),
                  dq + 2 * s.attn, a3);
    // W = P S D: dP, and the S (sw) and D (r̂) parts
    for (int64_t i = 0; i < nr; ++i) {
      for (int64_t j = 0; j < nr; ++j) {
        const int64_t ij = i * nr + j;
        T sij = T(1), dij = T(1);
        if (s.smooth) sij = sw[i] * sw[j];
        if (s.dotr) {
          dij = rhat[i * 3] * rhat[j * 3] + rhat[i * 3 + 1] * rhat[j * 3 + 1] +
                rhat[i * 3 + 2] * rhat[j * 3 + 2];
        }
        if (s.smooth) {
          const T c = dw[ij] * p[ij] * dij;
          dsw_a[i] += c * sw[j];
          dsw_a[j] += c * sw[i];
        }
        if (s.dotr) {
          const T c = dw[ij] * p[ij] * sij;
          for (int k = 0; k < 3; ++k) {
            drhat_a[i * 3 + k] += c * rhat[j * 3 + k];
            drhat_a[j * 3 + k] += c * rhat[i * 3 + k];
          }
        }
        dw[ij] *= sij * dij;  // dE/dP
      }
    }
    // softmax, then the smooth logits: dl = dE/dl
    for (int64_t i = 0; i < nr; ++i) {
      T dot = 0;
      for (int64_t j = 0; j < nr; ++j) dot += p[i * nr + j] * dw[i * nr + j];
      for (int64_t j = 0; j < nr; ++j) {
        const int64_t ij = i * nr + j;
        const T da = p[ij] * (dw[ij] - dot);
        if (s.smooth) {
          dl[ij] = da * sw[i] * sw[j];
          const T c = da * (l[ij] + shift);
          dsw_a[i] += c * sw[j];
          dsw_a[j] += c * sw[i];
        } else {
          dl[ij] = da;
        }
      }
    }
    // l = scale q kᵀ: dq = scale dl k, dk = scale dlᵀ q
    blas::gemm<T>(Op::kN, Op::kN, nr, s.attn, nr, s.scale, dl, nr, q + s.attn, a3, T(0), dq, a3);
    blas::gemm<T>(Op::kT, Op::kN, nr, s.attn, nr, s.scale, dl, nr, q, a3, T(0), dq + s.attn,
                  a3);
  }
  if (s.normalize) {
    for (int64_t r = 0; r < nrows; ++r) {
      for (int part = 0; part < 3; ++part) {
        const int64_t off = r * a3 + part * s.attn;
        normalize_row_backward(qkv + off, saved.norms[r * 3 + part], s.attn,
                               scratch.dqkv.data() + off);
      }
    }
  }
  layer_product_transposed_acc(layer.in_proj, scratch.dqkv.data(), nrows, dg);  // + residual
}

template <typename T>
void attention_pad_row(const AttentionLayer<T>& layer, const AttentionSettings<T>& s, T* g) {
  const int64_t m = layer.out_proj.out;
  std::vector<T> x(m), xhat(m);
  for (int64_t k = 0; k < m; ++k) x[k] = g[k] + layer.out_proj.bias[k];
  layer_norm(x.data(), m, layer, s.ln_eps, xhat.data(), g);
}

#define DEEPFT_DPA1_ATTENTION(T)                                                              \
  template void attention_forward<T>(const AttentionLayer<T>&, const AttentionSettings<T>&,  \
                                     const AttentionRows<T>&, T*, AttentionSaved<T>&,         \
                                     AttentionScratch<T>&);                                   \
  template void attention_backward<T>(const AttentionLayer<T>&, const AttentionSettings<T>&, \
                                      const AttentionRows<T>&, const AttentionSaved<T>&, T*,  \
                                      T*, T*, AttentionScratch<T>&);                          \
  template void attention_pad_row<T>(const AttentionLayer<T>&, const AttentionSettings<T>&,  \
                                     T*);
DEEPFT_DPA1_ATTENTION(double)
DEEPFT_DPA1_ATTENTION(float)
#undef DEEPFT_DPA1_ATTENTION

}  // namespace deepft::dpa1
