#include "se_a_tabulated.h"

#include <algorithm>
#include <string>

#include "errors.h"
#include "multiversion.h"

namespace deepft {

namespace {

/// The rows of one center's block located in the table (scalar pass before the vector loops).
template <typename T>
struct Located {
  std::vector<const T*> c;  ///< [n] coefficients of the row's interval, [6, m]
  std::vector<T> t, r;      ///< [n] ŝ - x_q, [n, 4] R̂ row (forward: times the scale)
  std::vector<T> out;       ///< [n, 4] dE/dR̂ rows (backward)
  std::vector<uint8_t> held;
  std::vector<int64_t> slot;
  std::vector<const T*> gate;  ///< [n] strip gate rows (gated tables only)
  std::vector<T> f, gf;        ///< [n] gate factors, dE/df
};

// t[c, j] += r_c G_j over the rows (G from the table; kGated: G_j (1 + f_k gate_k[j]), the
// DPA-1 strip gate); vectorized over j.
template <bool kGated, typename T>
DEEPFT_INLINE void forward_impl(int64_t n, int64_t m, const T* const* cs, const T* tt,
                                const T* r, const T* const* gates, const T* fs,
                                T* __restrict t) {
  T* __restrict t0 = t;
  T* __restrict t1 = t + m;
  T* __restrict t2 = t + 2 * m;
  T* __restrict t3 = t + 3 * m;
  for (int64_t k = 0; k < n; ++k) {
    const T* __restrict c = cs[k];
    const T* __restrict gate = kGated ? gates[k] : nullptr;
    const T f = kGated ? fs[k] : T(0);
    const T x = tt[k], r0 = r[4 * k], r1 = r[4 * k + 1], r2 = r[4 * k + 2], r3 = r[4 * k + 3];
#pragma omp simd
    for (int64_t j = 0; j < m; ++j) {
      T g = c[j] + x * (c[m + j] + x * (c[2 * m + j] + x * (c[3 * m + j] +
            x * (c[4 * m + j] + x * c[5 * m + j]))));
      if constexpr (kGated) g *= T(1) + f * gate[j];
      t0[j] += r0 * g;
      t1[j] += r1 * g;
      t2[j] += r2 * g;
      t3[j] += r3 * g;
    }
  }
}

// out[k, c] = Σ_j G_j gt[c, j] (+ on c = 0: Σ_j G'_j Σ_c' r_c' gt[c', j]); reductions over j.
// kGated (G_j = g_j (1 + f gate_j)): also gf[k] = dE/df = Σ_j g_j gate_j Σ_c r_c gt[c, j].
template <bool kGated, typename T>
DEEPFT_INLINE void backward_impl(int64_t n, int64_t m, const T* const* cs, const T* tt,
                                 const uint8_t* held, const T* r, const T* const* gates,
                                 const T* fs, const T* __restrict gt, T* __restrict out,
                                 T* __restrict gf) {
  const T* g0 = gt;
  const T* g1 = gt + m;
  const T* g2 = gt + 2 * m;
  const T* g3 = gt + 3 * m;
  for (int64_t k = 0; k < n; ++k) {
    const T* __restrict c = cs[k];
    const T* __restrict gate = kGated ? gates[k] : nullptr;
    const T f = kGated ? fs[k] : T(0);
    const T x = tt[k], r0 = r[4 * k], r1 = r[4 * k + 1], r2 = r[4 * k + 2], r3 = r[4 * k + 3];
    T s0 = 0, s1 = 0, s2 = 0, s3 = 0, u = 0, v = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3, u, v)
    for (int64_t j = 0; j < m; ++j) {
      const T c1 = c[m + j], c2 = c[2 * m + j], c3 = c[3 * m + j], c4 = c[4 * m + j];
      const T c5 = c[5 * m + j];
      T g = c[j] + x * (c1 + x * (c2 + x * (c3 + x * (c4 + x * c5))));
      T dg = c1 + x * (T(2) * c2 + x * (T(3) * c3 + x * (T(4) * c4 + x * T(5) * c5)));
      const T a0 = g0[j], a1 = g1[j], a2 = g2[j], a3 = g3[j];
      const T ra = r0 * a0 + r1 * a1 + r2 * a2 + r3 * a3;
      if constexpr (kGated) {
        v += g * gate[j] * ra;
        const T gm = T(1) + f * gate[j];
        g *= gm;
        dg *= gm;
      }
      s0 += g * a0;
      s1 += g * a1;
      s2 += g * a2;
      s3 += g * a3;
      u += dg * ra;
    }
    out[4 * k] = s0 + (held[k] ? T(0) : u);
    out[4 * k + 1] = s1;
    out[4 * k + 2] = s2;
    out[4 * k + 3] = s3;
    if constexpr (kGated) gf[k] = v;
  }
}

#define DEEPFT_TABLE_WRAPPERS(T, SUFFIX, GATED)                                            \
  DEEPFT_MULTIVERSION void forward_##SUFFIX(int64_t n, int64_t m, const T* const* cs,          \
                                            const T* tt, const T* r, const T* const* gates,    \
                                            const T* fs, T* t) {                               \
    forward_impl<GATED, T>(n, m, cs, tt, r, gates, fs, t);                                     \
  }                                                                                            \
  DEEPFT_MULTIVERSION void backward_##SUFFIX(int64_t n, int64_t m, const T* const* cs,         \
                                             const T* tt, const uint8_t* held, const T* r,     \
                                             const T* const* gates, const T* fs, const T* gt,  \
                                             T* out, T* gf) {                                  \
    backward_impl<GATED, T>(n, m, cs, tt, held, r, gates, fs, gt, out, gf);                    \
  }

DEEPFT_TABLE_WRAPPERS(double, d, false)
DEEPFT_TABLE_WRAPPERS(float, f, false)
DEEPFT_TABLE_WRAPPERS(double, gated_d, true)
DEEPFT_TABLE_WRAPPERS(float, gated_f, true)

void forward_kernel(int64_t n, int64_t m, const double* const* cs, const double* tt,
                    const double* r, const Gate<double>& gate, double* t) {
  if (gate.rows) return forward_gated_d(n, m, cs, tt, r, gate.rows, gate.f, t);
  forward_d(n, m, cs, tt, r, nullptr, nullptr, t);
}
void forward_kernel(int64_t n, int64_t m, const float* const* cs, const float* tt,
                    const float* r, const Gate<float>& gate, float* t) {
  if (gate.rows) return forward_gated_f(n, m, cs, tt, r, gate.rows, gate.f, t);
  forward_f(n, m, cs, tt, r, nullptr, nullptr, t);
}
void backward_kernel(int64_t n, int64_t m, const double* const* cs, const double* tt,
                     const uint8_t* held, const double* r, const Gate<double>& gate,
                     const double* gt, double* out, double* gf) {
  if (gate.rows) return backward_gated_d(n, m, cs, tt, held, r, gate.rows, gate.f, gt, out, gf);
  backward_d(n, m, cs, tt, held, r, nullptr, nullptr, gt, out, gf);
}
void backward_kernel(int64_t n, int64_t m, const float* const* cs, const float* tt,
                     const uint8_t* held, const float* r, const Gate<float>& gate,
                     const float* gt, float* out, float* gf) {
  if (gate.rows) return backward_gated_f(n, m, cs, tt, held, r, gate.rows, gate.f, gt, out, gf);
  backward_f(n, m, cs, tt, held, r, nullptr, nullptr, gt, out, gf);
}

template <typename T>
Located<T>& scratch() {
  static thread_local Located<T> l;
  return l;
}

// The masked slots of one neighbor block gathered for a kernel (this thread's scratch):
// interval coefficients and offsets from `locate(ŝ)`, R̂ rows times `scale`, held flags, slot
// indices and, for gated tables, the gate rows and factors.
template <typename T, typename Locate>
Located<T>& gather(int64_t n, const T* em, const uint8_t* mask, T scale, const Gate<T>& gate,
                   Locate&& locate) {
  Located<T>& l = scratch<T>();
  l.c.clear();
  l.t.clear();
  l.r.clear();
  l.held.clear();
  l.slot.clear();
  l.gate.clear();
  l.f.clear();
  for (int64_t s = 0; s < n; ++s) {
    if (!mask[s]) continue;
    if (gate.rows) {
      l.gate.push_back(gate.rows[s]);
      l.f.push_back(gate.f[s]);
    }
    const auto w = locate(em[4 * s]);
    l.c.push_back(w.c);
    l.t.push_back(w.t);
    l.held.push_back(static_cast<uint8_t>(w.held));
    l.slot.push_back(s);
    for (int c = 0; c < 4; ++c) l.r.push_back(scale * em[4 * s + c]);
  }
  return l;
}

}  // namespace

template <typename T>
TabulatedEmbedding<T>::TabulatedEmbedding(const ModelFile& file, const BranchConfig& cfg,
                                          int64_t m)
    : m_(m) {
  const CompressionConfig& z = *cfg.compression;
  check_frequency_ = z.check_frequency;
  for (size_t k = 0; k < z.nets.size(); ++k) {
    const CompressionConfig::Net& e = z.nets[k];
    Net net;
    net.n_fine = e.n_fine;
    net.n_coarse = e.n_coarse;
    // the knots as deepft/compress/table.py places them: lower + i step, upper + k stride1
    net.lower = static_cast<T>(e.lower);
    net.step = static_cast<T>(z.step);
    net.inv_step = static_cast<T>(1.0 / z.step);
    net.upper = static_cast<T>(e.lower + static_cast<double>(e.n_fine) * z.step);
    net.stride1 = static_cast<T>(10.0 * z.step);
    net.inv_stride1 = static_cast<T>(1.0 / (10.0 * z.step));
    net.xmax = static_cast<T>(e.lower + static_cast<double>(e.n_fine) * z.step +
                              static_cast<double>(e.n_coarse) * 10.0 * z.step);
    net.t_end = net.stride1;
    // n_fine + n_coarse <= 2^24 (branch_config) and m <= kMaxWidth: no overflow
    net.coef = file.tensor<T, CacheLineAllocator<T>>(z.table_prefix + "table." + std::to_string(k),
                              {e.n_fine + e.n_coarse, 6, m});
    nets_.push_back(std::move(net));
  }
}

template <typename T>
typename TabulatedEmbedding<T>::Where TabulatedEmbedding<T>::locate(const Net& net, T x) const {
  const T* base = net.coef.data();
  const int64_t stride = 6 * m_;
  if (x >= net.lower && x < net.upper) {
    const int64_t q = std::min<int64_t>(static_cast<int64_t>((x - net.lower) * net.inv_step),
                                        net.n_fine - 1);
    return {base + q * stride, x - (net.lower + static_cast<T>(q) * net.step), false};
  }
  if (x >= net.upper && x < net.xmax) {
    const int64_t k = std::min<int64_t>(static_cast<int64_t>((x - net.upper) * net.inv_stride1),
                                        net.n_coarse - 1);
    return {base + (net.n_fine + k) * stride, x - (net.upper + static_cast<T>(k) * net.stride1),
            false};
  }
  if (x < net.lower) return {base, T(0), true};  // (ŝ >= lower always holds for s >= 0)
  return {base + (net.n_fine + net.n_coarse - 1) * stride, net.t_end, true};  // also NaN
}

template <typename T>
void TabulatedEmbedding<T>::value(int64_t net, T x, T* g) const {
  const Where w = locate(nets_[net], x);
  for (int64_t j = 0; j < m_; ++j) {
    T v = w.c[5 * m_ + j];
    for (int p = 4; p >= 0; --p) v = v * w.t + w.c[p * m_ + j];
    g[j] = v;
  }
}

template <typename T>
void TabulatedEmbedding<T>::accumulate(int64_t net, int64_t n, const T* em, const uint8_t* mask,
                                       T scale, T* t, TableCounts& counts,
                                       const Gate<T>& gate) const {
  const Net& tab = nets_[net];
  Located<T>& l = gather(n, em, mask, scale, gate, [&](T x) {
    const Where w = locate(tab, x);
    counts.neighbors += 1;
    counts.beyond_data += !(x < tab.upper);
    counts.beyond_table += w.held;
    return w;
  });
  const Gate<T> g{gate.rows ? l.gate.data() : nullptr, l.f.data()};
  forward_kernel(static_cast<int64_t>(l.t.size()), m_, l.c.data(), l.t.data(), l.r.data(), g, t);
}

template <typename T>
void TabulatedEmbedding<T>::backward(int64_t net, int64_t n, const T* em, const uint8_t* mask,
                                     const T* gt, T* g_em, const Gate<T>& gate, T* g_f) const {
  const Net& tab = nets_[net];
  Located<T>& l = gather(n, em, mask, T(1), gate, [&](T x) { return locate(tab, x); });
  const int64_t rows = static_cast<int64_t>(l.slot.size());
  l.out.resize(static_cast<size_t>(4 * rows));
  l.gf.resize(static_cast<size_t>(rows));
  const Gate<T> g{gate.rows ? l.gate.data() : nullptr, l.f.data()};
  backward_kernel(rows, m_, l.c.data(), l.t.data(), l.held.data(), l.r.data(), g, gt,
                  l.out.data(), l.gf.data());
  for (int64_t k = 0; k < rows; ++k) {
    for (int c = 0; c < 4; ++c) g_em[4 * l.slot[k] + c] = l.out[4 * k + c];
    if (gate.rows && g_f) g_f[l.slot[k]] = l.gf[k];
  }
}

template class TabulatedEmbedding<double>;
template class TabulatedEmbedding<float>;

}  // namespace deepft
