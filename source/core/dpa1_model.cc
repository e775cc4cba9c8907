#include "dpa1_model.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>

#include "dpa1_attention.h"
#include "energy_fitting.h"
#include "env_mat.h"
#include "env_mat_pair.h"
#include "errors.h"
#include "evaluator_common.h"
#include "network.h"
#include "network_loader.h"
#include "se_a_tabulated.h"
#include "se_a_kernels.h"

namespace deepft {

namespace {

using dpa1::AttentionLayer;
using dpa1::AttentionRows;
using dpa1::AttentionSaved;
using dpa1::AttentionScratch;
using dpa1::AttentionSettings;

constexpr double kNormEps = 1e-12;  ///< torch.nn.functional.normalize's eps (r̂)

/// Per-thread scratch of one chunk of center atoms (all of one type). Rows are the real
/// neighbors of the chunk's atoms, atom after atom.
template <typename T>
struct ChunkWorkspace {
  ChunkEnvironment<T> env;          ///< R̂ [n, nnei, 4] of the chunk and its backward
  std::vector<int64_t> slot;        ///< [rows] chunk slot index a * nnei + s (a < n)
  std::vector<int64_t> row_begin;   ///< [n + 1]
  std::vector<int64_t> pair_begin;  ///< [n + 1] offsets of the per-atom [Nr, Nr] blocks
  std::vector<int64_t> npad;        ///< [n] empty slots per atom
  std::vector<int32_t> ntype;       ///< [rows] neighbor type
  std::vector<T> r, sw, rhat;       ///< [rows, 4] R̂, [rows] sw, [rows, 3] r̂
  std::vector<T> x;                 ///< [rows, in] input of the embedding net
  std::vector<T> g0;                ///< [rows, M] strip: embedding output before the gate
  std::vector<T> g;                 ///< [rows, M] G, after the attention layers
  std::vector<T> emb_saved;         ///< [rows, saved width] of the embedding net
  std::vector<AttentionSaved<T>> layers;  ///< [attn_layer]
  AttentionScratch<T> attn;
  std::vector<T> tmat, d, gd, gt;   ///< [n, 4, M], [n, dim], [n, dim], [4, M]
  std::vector<T> gg, gr, gx;        ///< [rows, M] dE/dG, [rows, 4] dE/dR̂, [rows, in]
  std::vector<T> dsw, drhat;        ///< [rows], [rows, 3]
  std::vector<const T*> gate;       ///< [rows] compressed: strip gate row of each neighbor
  std::vector<T> gate_f;            ///< [rows] compressed: its factor (sw or 1)
  std::vector<uint8_t> ones;        ///< [rows] compressed: every row is a real neighbor
  MlpWorkspace<T> mlp;
  FittingWorkspace<T> fit;
};

template <typename T>
class Dpa1Evaluator final : public Evaluator {
 public:
  Dpa1Evaluator(const ModelFile& file, const BranchConfig& cfg);
  void evaluate(const PairInput& in, const PairOutput& out) const override;
  bool compressed() const override { return table_ != nullptr; }
  TableCounts table_counts() const override {
    return {counts_[0].load(), counts_[1].load(), counts_[2].load()};
  }
  int64_t check_frequency() const override { return table_ ? table_->check_frequency() : -1; }

 private:
  int32_t ntypes_ = 0;
  int64_t nnei_ = 0, m_ = 0, axis_ = 0, tebd_dim_ = 0, emb_in_ = 1;
  bool type_one_side_ = false, strip_ = false, smooth_ = true;
  bool concat_output_tebd_ = true;
  T rcut_ = 0, rcut_smth_ = 0;
  std::vector<T> davg_, dstd_;
  std::vector<T> tebd_;  ///< [ntypes + 1, tebd_dim] τ per type, the last row 0 (padding type)
  Mlp<T> embedding_;     ///< input [ŝ, τ_j (, τ_i)] (concat) or ŝ (strip); empty if compressed
  std::vector<T> gate_;  ///< strip: [(ntypes if two-sided, else 1) x (ntypes + 1), M]
  AttentionSettings<T> attn_settings_;
  std::vector<AttentionLayer<T>> layers_;
  std::unique_ptr<EnergyFitting<T>> fitting_;
  /// [ntypes, 4, M]: R̂_padᵀ G_pad of one empty slot of a type-t_i center.
  std::vector<T> pad_term_;
  /// Compressed (strip, attn_layer 0): the table of g(ŝ); null: the net is evaluated.
  std::unique_ptr<TabulatedEmbedding<T>> table_;
  mutable std::atomic<int64_t> counts_[3] = {};  ///< TableCounts, summed over evaluations

  void load_type_embedding(const ModelFile& file, const BranchConfig& cfg);
  void load_attention(const ModelFile& file, const BranchConfig& cfg);
  void init_padding();

  /// The strip gate embedding_strip(τ_tj (, τ_ti)), [M].
  const T* gate_row(int32_t ti, int32_t tj) const {
    const int64_t row = type_one_side_ ? tj : int64_t(ti) * (ntypes_ + 1) + tj;
    return gate_.data() + row * m_;
  }
  /// One input row of the embedding net: [ŝ, τ_tj (, τ_ti)] (concat) or ŝ (strip).
  void embedding_input(T s_hat, int32_t ti, int32_t tj, T* x) const;
  /// G before attention from the embedding output g [M] (strip: the gate; concat: g itself).
  void apply_gate(int32_t ti, int32_t tj, T sw, const T* g, T* out) const;

  /// Rows of the chunk from w.env (computed) and the neighbor types of `in`.
  void gather(const int64_t* centers, int64_t n, const PairInput& in,
              ChunkWorkspace<T>& w) const;
  void embed_forward(int32_t ti, int64_t n, ChunkWorkspace<T>& w) const;
  void descriptor_forward(int32_t ti, int64_t n, ChunkWorkspace<T>& w) const;
  void backward(int32_t ti, int64_t n, ChunkWorkspace<T>& w) const;
  /// Compressed form of embed_forward + descriptor_forward + fitting + backward.
  void tabulated_chunk(int32_t ti, const int64_t* centers, int64_t n, double* atom_energy,
                       ChunkWorkspace<T>& w) const;
  /// grad_rij rows of the chunk's centers += dE/dsw dsw/dr r_ij / r (the smooth attention
  /// and gate), from w.dsw.
  void add_switch_gradient(const int64_t* centers, int64_t n, const ChunkWorkspace<T>& w,
                           double* grad_rij) const;
};

template <typename T>
Dpa1Evaluator<T>::Dpa1Evaluator(const ModelFile& file, const BranchConfig& cfg) {
  const Dpa1Config& p = *cfg.dpa1;
  ntypes_ = static_cast<int32_t>(cfg.type_map.size());
  nnei_ = cfg.sel[0];
  m_ = cfg.neuron.back();
  axis_ = cfg.axis_neuron;
  tebd_dim_ = p.tebd_dim;
  type_one_side_ = cfg.type_one_side;
  strip_ = p.strip;
  smooth_ = p.smooth;
  concat_output_tebd_ = p.concat_output_tebd;
  rcut_ = static_cast<T>(cfg.rcut);
  rcut_smth_ = static_cast<T>(cfg.rcut_smth);
  const std::string& dp = cfg.descriptor_prefix;
  davg_ = file.tensor<T>(dp + "davg", {ntypes_, 4});
  dstd_ = file.tensor<T>(dp + "dstd", {ntypes_, 4});
  for (T s : dstd_) {
    if (s == T(0)) file.fail("tensor '" + dp + "dstd' contains a zero");
  }
  load_type_embedding(file, cfg);
  const int64_t pair_tebd = tebd_dim_ * (type_one_side_ ? 1 : 2);
  const Activation act = parse_activation(cfg.descriptor_activation);
  emb_in_ = strip_ ? 1 : 1 + pair_tebd;
  // branch_config accepts a compression entry only with strip and attn_layer 0; its table
  // replaces the geometric net, which is not loaded
  if (cfg.compression) {
    table_ = std::make_unique<TabulatedEmbedding<T>>(file, cfg, m_);
  } else {
    embedding_ = load_mlp<T>(file, dp + "embedding.", {emb_in_, cfg.neuron, act});
  }
  const std::string strip_net = dp + "embedding_strip.";
  if (strip_) {
    // the gate of every (center, neighbor) type pair, the padding neighbor type included
    const Mlp<T> net = load_mlp<T>(file, strip_net, {pair_tebd, cfg.neuron, act});
    const int64_t ncenter = type_one_side_ ? 1 : ntypes_, nrow = ncenter * (ntypes_ + 1);
    std::vector<T> in(nrow * pair_tebd);
    for (int64_t ti = 0; ti < ncenter; ++ti) {
      for (int64_t tj = 0; tj <= ntypes_; ++tj) {
        T* row = in.data() + (ti * (ntypes_ + 1) + tj) * pair_tebd;
        std::copy_n(tebd_.data() + tj * tebd_dim_, tebd_dim_, row);  // [τ_j, τ_i]
        if (!type_one_side_) std::copy_n(tebd_.data() + ti * tebd_dim_, tebd_dim_, row + tebd_dim_);
      }
    }
    gate_.resize(nrow * m_);
    MlpWorkspace<T> ws;
    net.forward(in.data(), nrow, gate_.data(), nullptr, ws);
  } else if (file.has_tensor(strip_net + "layers.0.matrix")) {
    file.fail("tensor '" + strip_net + "layers.0.matrix' exists but the header's "
              "tebd_input_mode is 'concat'");
  }
  load_attention(file, cfg);
  fitting_ = std::make_unique<EnergyFitting<T>>(
      file, cfg, m_ * axis_ + (concat_output_tebd_ ? tebd_dim_ : 0));
  init_padding();
}

/// τ_t = onehot(t) W (+ b) (+ onehot(t) by the skip rule): the net on the identity rows.
template <typename T>
void Dpa1Evaluator<T>::load_type_embedding(const ModelFile& file, const BranchConfig& cfg) {
  const MlpShape shape{ntypes_, {tebd_dim_}, Activation::kLinear, false,
                       cfg.dpa1->use_tebd_bias};
  const Mlp<T> net = load_mlp<T>(file, cfg.descriptor_prefix + "type_embedding.", shape);
  std::vector<T> eye(int64_t(ntypes_) * ntypes_, T(0));
  for (int32_t t = 0; t < ntypes_; ++t) eye[t * ntypes_ + t] = T(1);
  tebd_.assign((ntypes_ + 1) * tebd_dim_, T(0));
  MlpWorkspace<T> ws;
  net.forward(eye.data(), ntypes_, tebd_.data(), nullptr, ws);
}

template <typename T>
void Dpa1Evaluator<T>::load_attention(const ModelFile& file, const BranchConfig& cfg) {
  const Dpa1Config& p = *cfg.dpa1;
  attn_settings_ = {p.attn, p.attn_dotr, p.normalize, p.smooth, static_cast<T>(p.attn_scale),
                    static_cast<T>(p.ln_eps)};
  const std::string base = cfg.descriptor_prefix + "attention.";
  for (int64_t k = 0; k <= p.attn_layer; ++k) {
    const std::string lp = base + std::to_string(k) + ".";
    if (k == p.attn_layer) {
      if (file.has_tensor(lp + "in_proj.matrix")) {
        file.fail("tensor '" + lp + "in_proj.matrix' exists but the header's attn_layer is " +
                  std::to_string(p.attn_layer));
      }
      break;
    }
    AttentionLayer<T> l;
    l.in_proj = load_linear<T>(file, lp + "in_proj.", m_, 3 * p.attn);
    l.out_proj = load_linear<T>(file, lp + "out_proj.", p.attn, m_);
    l.ln_weight = file.tensor<T>(lp + "layer_norm.weight", {m_});
    l.ln_bias = file.tensor<T>(lp + "layer_norm.bias", {m_});
    layers_.push_back(std::move(l));
  }
}

template <typename T>
void Dpa1Evaluator<T>::embedding_input(T s_hat, int32_t ti, int32_t tj, T* x) const {
  x[0] = s_hat;
  if (strip_) return;
  std::copy_n(tebd_.data() + tj * tebd_dim_, tebd_dim_, x + 1);
  if (!type_one_side_) std::copy_n(tebd_.data() + ti * tebd_dim_, tebd_dim_, x + 1 + tebd_dim_);
}

template <typename T>
void Dpa1Evaluator<T>::apply_gate(int32_t ti, int32_t tj, T sw, const T* g, T* out) const {
  if (!strip_) {
    std::copy_n(g, m_, out);
    return;
  }
  const T* gate = gate_row(ti, tj);
  const T f = smooth_ ? sw : T(1);
  for (int64_t k = 0; k < m_; ++k) out[k] = g[k] + g[k] * gate[k] * f;
}

template <typename T>
void Dpa1Evaluator<T>::init_padding() {
  pad_term_.assign(static_cast<size_t>(ntypes_) * 4 * m_, T(0));
  MlpWorkspace<T> ws;
  std::vector<T> x(emb_in_), g0(m_), g(m_);
  for (int32_t ti = 0; ti < ntypes_; ++ti) {
    T rpad[4];
    for (int c = 0; c < 4; ++c) rpad[c] = -davg_[ti * 4 + c] / dstd_[ti * 4 + c];
    if (table_) {  // a compressed branch evaluates its table for every slot
      table_->value(0, rpad[0], g0.data());
    } else {
      embedding_input(rpad[0], ti, ntypes_, x.data());
      embedding_.forward(x.data(), 1, g0.data(), nullptr, ws);
    }
    apply_gate(ti, ntypes_, T(0), g0.data(), g.data());  // sw = 0 in an empty slot
    for (const AttentionLayer<T>& l : layers_) dpa1::attention_pad_row(l, attn_settings_, g.data());
    T* out = pad_term_.data() + static_cast<size_t>(ti) * 4 * m_;
    for (int c = 0; c < 4; ++c) {
      for (int64_t k = 0; k < m_; ++k) out[c * m_ + k] = rpad[c] * g[k];
    }
  }
}

/// Rows of the chunk: R̂, sw, r̂ and the type of every real neighbor.
template <typename T>
void Dpa1Evaluator<T>::gather(const int64_t* centers, int64_t n, const PairInput& in,
                              ChunkWorkspace<T>& w) const {
  const ChunkEnvironment<T>& env = w.env;
  w.slot.clear();
  w.row_begin.assign(n + 1, 0);
  w.pair_begin.assign(n + 1, 0);
  w.npad.assign(n, 0);
  for (int64_t a = 0; a < n; ++a) {
    const int64_t base = a * nnei_;
    for (int64_t s = 0; s < nnei_; ++s) {
      if (env.mask[base + s]) w.slot.push_back(base + s);
    }
    const int64_t nr = static_cast<int64_t>(w.slot.size()) - w.row_begin[a];
    w.row_begin[a + 1] = w.row_begin[a] + nr;
    w.pair_begin[a + 1] = w.pair_begin[a] + nr * nr;
    w.npad[a] = nnei_ - nr;
  }
  const int64_t rows = w.row_begin[n];
  grow(w.r, rows * 4);
  grow(w.sw, rows);
  grow(w.rhat, rows * 3);
  w.ntype.resize(rows);
  for (int64_t a = 0; a < n; ++a) {
    for (int64_t k = w.row_begin[a]; k < w.row_begin[a + 1]; ++k) {
      const int64_t slot = w.slot[k];
      const T* e = env.em.data() + slot * 4;
      std::copy_n(e, 4, w.r.data() + k * 4);
      const T u2 = e[1] * e[1] + e[2] * e[2] + e[3] * e[3];
      const T inv = T(1) / std::max(std::sqrt(u2), T(kNormEps));
      for (int c = 0; c < 3; ++c) w.rhat[k * 3 + c] = e[1 + c] * inv;
      const T r = detail::norm3(env.rij.data() + slot * 3);
      w.sw[k] = detail::switch_function(r, rcut_, rcut_smth_).sw;
      const int64_t j = in.nlist[centers[a] * nnei_ + slot - a * nnei_];
      const int32_t tj = in.atom_type[j];
      if (tj < 0 || tj >= ntypes_) {
        throw InputError("neighbor " + std::to_string(j) + " has type " + std::to_string(tj) +
                         ", outside [0, " + std::to_string(ntypes_) + ")");
      }
      w.ntype[k] = tj;
    }
  }
}

/// G of every row through the embedding net, the gate and the attention layers.
template <typename T>
void Dpa1Evaluator<T>::embed_forward(int32_t ti, int64_t n, ChunkWorkspace<T>& w) const {
  const int64_t rows = w.row_begin[n];
  grow(w.x, rows * emb_in_);
  grow(w.g0, rows * m_);
  grow(w.g, rows * m_);
  grow(w.emb_saved, rows * embedding_.saved_width());
  for (int64_t k = 0; k < rows; ++k) {
    embedding_input(w.r[k * 4], ti, w.ntype[k], w.x.data() + k * emb_in_);
  }
  embedding_.forward(w.x.data(), rows, w.g0.data(), w.emb_saved.data(), w.mlp);
  for (int64_t k = 0; k < rows; ++k) {
    apply_gate(ti, w.ntype[k], w.sw[k], w.g0.data() + k * m_, w.g.data() + k * m_);
  }
  if (w.layers.size() < layers_.size()) w.layers.resize(layers_.size());
  const AttentionRows<T> ar{n, w.row_begin.data(), w.pair_begin.data(), w.npad.data(),
                            w.sw.data(), w.rhat.data()};
  for (size_t l = 0; l < layers_.size(); ++l) {
    dpa1::attention_forward(layers_[l], attn_settings_, ar, w.g.data(), w.layers[l], w.attn);
  }
}

/// T (with the empty slots' constant term) and the descriptor rows D [n, dim].
template <typename T>
void Dpa1Evaluator<T>::descriptor_forward(int32_t ti, int64_t n, ChunkWorkspace<T>& w) const {
  const int64_t dim = fitting_->in_dim();
  grow(w.tmat, n * 4 * m_);
  grow(w.d, n * dim);
  const T inv = T(1) / static_cast<T>(nnei_);
  const T* pt = pad_term_.data() + static_cast<size_t>(ti) * 4 * m_;
  for (int64_t a = 0; a < n; ++a) {
    T* tm = w.tmat.data() + a * 4 * m_;
    const T npad = static_cast<T>(w.npad[a]) * inv;
    for (int64_t k = 0; k < 4 * m_; ++k) tm[k] = npad * pt[k];
    const int64_t r0 = w.row_begin[a], r1 = w.row_begin[a + 1];
    if (r1 > r0) {
      se_a::t_accumulate<T>(r1 - r0, m_, w.r.data() + r0 * 4, w.g.data() + r0 * m_, inv, tm);
    }
    T* d = w.d.data() + a * dim;
    se_a::descriptor<T>(m_, axis_, tm, d);  // D = Tᵀ T[:, :A]
    if (concat_output_tebd_) std::copy_n(tebd_.data() + ti * tebd_dim_, tebd_dim_, d + m_ * axis_);
  }
}

/// From gd = dE/dD to gr = dE/dR̂ and dsw = dE/dsw of every row.
template <typename T>
void Dpa1Evaluator<T>::backward(int32_t ti, int64_t n, ChunkWorkspace<T>& w) const {
  const int64_t rows = w.row_begin[n], dim = fitting_->in_dim();
  const T inv = T(1) / static_cast<T>(nnei_);
  grow(w.gt, 4 * m_);
  grow(w.gg, rows * m_);
  grow(w.gr, rows * 4);
  grow(w.gx, rows * emb_in_);
  w.dsw.assign(rows, T(0));
  w.drhat.assign(rows * 3, T(0));
  for (int64_t a = 0; a < n; ++a) {
    const int64_t r0 = w.row_begin[a], r1 = w.row_begin[a + 1];
    if (r1 == r0) continue;
    // dE/dT = (T< gDᵀ + [T gD, 0]) / N; then dE/dG = R̂ dE/dT, dE/dR̂ = G dE/dTᵀ
    se_a::descriptor_backward<T>(m_, axis_, w.tmat.data() + a * 4 * m_, w.gd.data() + a * dim,
                                 inv, w.gt.data());
    se_a::rows_backward<T>(r1 - r0, m_, w.r.data() + r0 * 4, w.g.data() + r0 * m_, w.gt.data(),
                           w.gg.data() + r0 * m_, w.gr.data() + r0 * 4);
  }
  const AttentionRows<T> ar{n, w.row_begin.data(), w.pair_begin.data(), w.npad.data(),
                            w.sw.data(), w.rhat.data()};
  for (size_t l = layers_.size(); l-- > 0;) {
    dpa1::attention_backward(layers_[l], attn_settings_, ar, w.layers[l], w.gg.data(),
                             w.dsw.data(), w.drhat.data(), w.attn);
  }
  if (strip_) {  // G = g (1 + gate f): dE/dg, and dE/dsw with the smooth gate f = sw
    for (int64_t k = 0; k < rows; ++k) {
      const T* gate = gate_row(ti, w.ntype[k]);
      T* gg = w.gg.data() + k * m_;
      const T* g0 = w.g0.data() + k * m_;
      const T f = smooth_ ? w.sw[k] : T(1);
      T dsw = 0;
      for (int64_t c = 0; c < m_; ++c) {
        dsw += gg[c] * g0[c] * gate[c];
        gg[c] *= T(1) + gate[c] * f;
      }
      if (smooth_) w.dsw[k] += dsw;
    }
  }
  embedding_.backward(w.gg.data(), rows, w.emb_saved.data(), w.gx.data(), w.mlp);
  for (int64_t k = 0; k < rows; ++k) {
    T* gr = w.gr.data() + k * 4;
    gr[0] += w.gx[k * emb_in_];  // dE/dŝ
    if (layers_.empty() || !attn_settings_.dotr) continue;
    // r̂ = u / max(|u|, eps), u = R̂[1:4]
    const T* u = w.r.data() + k * 4 + 1;
    const T* rh = w.rhat.data() + k * 3;
    const T* dr = w.drhat.data() + k * 3;
    const T norm = std::sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
    if (norm > T(kNormEps)) {
      const T proj = rh[0] * dr[0] + rh[1] * dr[1] + rh[2] * dr[2];
      for (int c = 0; c < 3; ++c) gr[1 + c] += (dr[c] - rh[c] * proj) / norm;
    } else {
      for (int c = 0; c < 3; ++c) gr[1 + c] += dr[c] / T(kNormEps);
    }
  }
}

/// The table of g(ŝ) with each neighbor's strip gate fused into T (se_a_tabulated.h): no
/// per-neighbor G is stored; gr = dE/dR̂ and, with the smooth gate, dsw = dE/dsw per row.
template <typename T>
void Dpa1Evaluator<T>::tabulated_chunk(int32_t ti, const int64_t* centers, int64_t n,
                                       double* atom_energy, ChunkWorkspace<T>& w) const {
  const int64_t rows = w.row_begin[n], dim = fitting_->in_dim();
  const T inv = T(1) / static_cast<T>(nnei_);
  grow(w.tmat, n * 4 * m_);
  grow(w.d, n * dim);
  grow(w.gd, n * dim);
  grow(w.gt, 4 * m_);
  grow(w.gr, rows * 4);
  w.dsw.assign(rows, T(0));
  w.gate.resize(rows);
  w.gate_f.resize(rows);
  w.ones.assign(rows, uint8_t(1));
  for (int64_t k = 0; k < rows; ++k) {
    w.gate[k] = gate_row(ti, w.ntype[k]);
    w.gate_f[k] = smooth_ ? w.sw[k] : T(1);
  }
  const T* pt = pad_term_.data() + static_cast<size_t>(ti) * 4 * m_;
  TableCounts counts;
  for (int64_t a = 0; a < n; ++a) {
    T* tm = w.tmat.data() + a * 4 * m_;
    const T npad = static_cast<T>(w.npad[a]) * inv;
    for (int64_t k = 0; k < 4 * m_; ++k) tm[k] = npad * pt[k];
    const int64_t r0 = w.row_begin[a];
    const Gate<T> gate{w.gate.data() + r0, w.gate_f.data() + r0};
    table_->accumulate(0, w.row_begin[a + 1] - r0, w.r.data() + r0 * 4, w.ones.data() + r0,
                       inv, tm, counts, gate);
    T* d = w.d.data() + a * dim;
    se_a::descriptor<T>(m_, axis_, tm, d);  // D = Tᵀ T[:, :A]
    if (concat_output_tebd_) std::copy_n(tebd_.data() + ti * tebd_dim_, tebd_dim_, d + m_ * axis_);
  }
  fitting_->evaluate(ti, centers, n, w.d.data(), atom_energy, w.gd.data(), w.fit);
  for (int64_t a = 0; a < n; ++a) {
    const int64_t r0 = w.row_begin[a], r1 = w.row_begin[a + 1];
    if (r1 == r0) continue;
    se_a::descriptor_backward<T>(m_, axis_, w.tmat.data() + a * 4 * m_, w.gd.data() + a * dim,
                                 inv, w.gt.data());
    const Gate<T> gate{w.gate.data() + r0, w.gate_f.data() + r0};
    table_->backward(0, r1 - r0, w.r.data() + r0 * 4, w.ones.data() + r0, w.gt.data(),
                     w.gr.data() + r0 * 4, gate, smooth_ ? w.dsw.data() + r0 : nullptr);
  }
  counts_[0] += counts.neighbors;
  counts_[1] += counts.beyond_data;
  counts_[2] += counts.beyond_table;
}

template <typename T>
void Dpa1Evaluator<T>::add_switch_gradient(const int64_t* centers, int64_t n,
                                           const ChunkWorkspace<T>& w, double* grad_rij) const {
  for (int64_t a = 0; a < n; ++a) {
    for (int64_t k = w.row_begin[a]; k < w.row_begin[a + 1]; ++k) {
      if (w.dsw[k] == T(0)) continue;
      const int64_t slot = w.slot[k];
      const T* x = w.env.rij.data() + slot * 3;
      const T r = detail::norm3(x);
      const T c = w.dsw[k] * detail::switch_function(r, rcut_, rcut_smth_).dsw / r;
      double* g = grad_rij + (centers[a] * nnei_ + slot - a * nnei_) * 3;
      for (int b = 0; b < 3; ++b) g[b] += static_cast<double>(c * x[b]);
    }
  }
}

template <typename T>
void Dpa1Evaluator<T>::evaluate(const PairInput& in, const PairOutput& out) const {
  if (in.nnei != nnei_) throw InputError("neighbor table width differs from sel");
  if (in.ncenter > 0 && in.atom_type == nullptr) {
    throw InputError("a DPA-1 model needs the type of every neighbor (PairInput::atom_type)");
  }
  begin_pair_output(in, ntypes_, out);
  const EnvMatParams<T> params{rcut_, rcut_smth_, davg_.data(), dstd_.data(), ntypes_};
  // 4..16 atoms a chunk: the attention keeps two [Nr, Nr] blocks per atom and layer
  const ChunkPlan plan(in.center_type, in.ncenter, ntypes_, 4, 16);
  for_each_chunk(plan, [&](const Chunk& ch, const int64_t* centers, int64_t n) {
    // per-thread scratch kept between calls (OpenMP reuses its threads)
    static thread_local ChunkWorkspace<T> w;
    ChunkEnvironment<T>& env = w.env;
    env.forward(in, params, ch.type, centers, n);  // R̂ of the chunk, in cache until backward
    gather(centers, n, in, w);
    if (table_) {
      tabulated_chunk(ch.type, centers, n, out.atom_energy, w);
    } else {
      embed_forward(ch.type, n, w);
      descriptor_forward(ch.type, n, w);
      grow(w.gd, n * fitting_->in_dim());
      fitting_->evaluate(ch.type, centers, n, w.d.data(), out.atom_energy, w.gd.data(), w.fit);
      backward(ch.type, n, w);
    }
    for (int64_t k = 0; k < w.row_begin[n]; ++k) {
      std::copy_n(w.gr.data() + k * 4, 4, env.g_em.data() + w.slot[k] * 4);
    }
    env.backward(centers, out.grad_rij);
    add_switch_gradient(centers, n, w, out.grad_rij);
  });
}

}  // namespace

std::unique_ptr<Evaluator> make_dpa1_evaluator(const ModelFile& file, const BranchConfig& cfg) {
  if (cfg.precision == "float32") return std::make_unique<Dpa1Evaluator<float>>(file, cfg);
  return std::make_unique<Dpa1Evaluator<double>>(file, cfg);
}

}  // namespace deepft
