#include "se_a_model.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <numeric>

#include "energy_fitting.h"
#include "env_mat.h"
#include "errors.h"
#include "evaluator_common.h"
#include "network.h"
#include "network_loader.h"
#include "se_a_kernels.h"
#include "se_a_tabulated.h"

namespace deepft {

namespace {

// ---- evaluation -------------------------------------------------------------------------------

/// Per-thread scratch of one chunk of center atoms (all of one type).
template <typename T>
struct ChunkWorkspace {
  ChunkEnvironment<T> env;          ///< R̂ [n, nnei, 4] of the chunk and its backward
  std::vector<int64_t> slot;        ///< [rows] chunk slot index a * nnei + s (a < n)
  std::vector<int64_t> row_begin;   ///< [ntypes * (chunk + 1)] rows of (neighbor type, atom)
  AlignedVector<T> x0, r;           ///< [rows] ŝ, [rows, 4] R̂ of the real neighbors
  AlignedVector<T> gj;              ///< per neighbor-type block [G rows; dG/dŝ rows], [2 rows, M]
  AlignedVector<T> tmat, d, gd;     ///< [chunk, 4, M], [chunk, M * A], [chunk, M * A]
  AlignedVector<T> gt, gr;          ///< [4, M], [rows, 4]
  MlpWorkspace<T> mlp;
  FittingWorkspace<T> fit;
};

template <typename T>
class SeAEvaluator final : public Evaluator {
 public:
  SeAEvaluator(const ModelFile& file, const BranchConfig& cfg);
  void evaluate(const PairInput& in, const PairOutput& out) const override;
  bool compressed() const override { return table_ != nullptr; }
  TableCounts table_counts() const override {
    return {counts_[0].load(), counts_[1].load(), counts_[2].load()};
  }
  int64_t check_frequency() const override { return table_ ? table_->check_frequency() : -1; }

 private:
  int32_t ntypes_ = 0;
  int64_t nnei_ = 0, m_ = 0, axis_ = 0;
  std::vector<int64_t> sel_, sel_begin_;
  bool type_one_side_ = true;
  T rcut_ = 0, rcut_smth_ = 0;
  std::vector<T> davg_, dstd_;
  std::vector<Mlp<T>> embeddings_;  ///< empty in a compressed branch (table_ instead)
  std::unique_ptr<EnergyFitting<T>> fitting_;
  /// [ntypes (center), ntypes (neighbor), 4, M]: R̂_padᵀ G(ŝ_pad) of one padded slot, where
  /// R̂_pad = -davg[t_i] / dstd[t_i] (an empty slot normalized as DeePMD-kit does).
  std::vector<T> pad_term_;
  /// The tables of a compressed branch (null: the embedding nets are evaluated).
  std::unique_ptr<TabulatedEmbedding<T>> table_;
  mutable std::atomic<int64_t> counts_[3] = {};  ///< TableCounts, summed over evaluations

  void init_padding();
  int64_t net_index(int32_t ti, int32_t tj) const { return type_one_side_ ? tj : ti * ntypes_ + tj; }
  /// tm [4, M] += the constant term of the `nempty` empty slots of block tj: n R̂_padᵀ G / Nc.
  void add_padding(int32_t ti, int32_t tj, int64_t nempty, T* tm) const;
  /// process_chunk of a compressed branch: the table fused into the contraction.
  void tabulated_chunk(int32_t ti, const int64_t* centers, int64_t n, const T* em,
                       const uint8_t* mask, T* g_em, double* atom_energy,
                       ChunkWorkspace<T>& w) const;

  /// atom_energy of the chunk's n centers (type ti) and g_em = dE/dR̂ of their real slots,
  /// from em = R̂ and mask, the chunk's rows [n, nnei, 4] and [n, nnei] (ChunkEnvironment).
  void process_chunk(int32_t ti, const int64_t* centers, int64_t n, const T* em,
                     const uint8_t* mask, T* g_em, double* atom_energy,
                     ChunkWorkspace<T>& w) const;
  void embed_forward(int32_t ti, int64_t n, const T* em, const uint8_t* mask,
                     ChunkWorkspace<T>& w) const;
  void embed_backward(int32_t ti, int64_t n, T* g_em, ChunkWorkspace<T>& w) const;
  /// G (resp. dG/dŝ) row of chunk row `row` (neighbor type tj): each type block of gj holds
  /// its G rows, then its tangent rows.
  const T* g_rows(const ChunkWorkspace<T>& w, int64_t n, int32_t tj, int64_t row) const {
    const int64_t b0 = w.row_begin[tj * (n + 1)];
    return w.gj.data() + 2 * b0 * m_ + (row - b0) * m_;
  }
  const T* j_rows(const ChunkWorkspace<T>& w, int64_t n, int32_t tj, int64_t row) const {
    const int64_t b0 = w.row_begin[tj * (n + 1)], b1 = w.row_begin[tj * (n + 1) + n];
    return w.gj.data() + 2 * b0 * m_ + (b1 - b0) * m_ + (row - b0) * m_;
  }
};

template <typename T>
SeAEvaluator<T>::SeAEvaluator(const ModelFile& file, const BranchConfig& cfg) {
  ntypes_ = static_cast<int32_t>(cfg.sel.size());
  sel_ = cfg.sel;
  sel_begin_.assign(ntypes_ + 1, 0);
  std::partial_sum(sel_.begin(), sel_.end(), sel_begin_.begin() + 1);
  nnei_ = sel_begin_.back();
  type_one_side_ = cfg.type_one_side;
  rcut_ = static_cast<T>(cfg.rcut);
  rcut_smth_ = static_cast<T>(cfg.rcut_smth);
  const std::string& dp = cfg.descriptor_prefix;
  davg_ = file.tensor<T>(dp + "davg", {ntypes_, 4});
  dstd_ = file.tensor<T>(dp + "dstd", {ntypes_, 4});
  for (T s : dstd_) {
    if (s == T(0)) file.fail("tensor '" + dp + "dstd' contains a zero");
  }
  m_ = cfg.neuron.back();
  if (cfg.compression) {  // the tables replace the nets, which are not loaded
    table_ = std::make_unique<TabulatedEmbedding<T>>(file, cfg, m_);
  } else {
    const MlpShape shape{1, cfg.neuron, parse_activation(cfg.descriptor_activation)};
    const int64_t nemb = type_one_side_ ? ntypes_ : int64_t(ntypes_) * ntypes_;
    for (int64_t k = 0; k < nemb; ++k) {
      embeddings_.push_back(
          load_mlp<T>(file, dp + "embeddings." + std::to_string(k) + ".", shape));
    }
  }
  axis_ = cfg.axis_neuron;
  fitting_ = std::make_unique<EnergyFitting<T>>(file, cfg, m_ * axis_);
  if (int64_t(ntypes_) * ntypes_ * 4 * m_ > kMaxPadTerm) {  // factors are bounded: no overflow
    file.fail("branch '" + cfg.name + "' is too large (" + std::to_string(ntypes_) +
              " types, neuron[-1] = " + std::to_string(m_) + ")");
  }
  init_padding();
}

template <typename T>
void SeAEvaluator<T>::init_padding() {
  pad_term_.assign(static_cast<size_t>(ntypes_) * ntypes_ * 4 * m_, T(0));
  MlpWorkspace<T> ws;
  std::vector<T> saved, g0(m_);
  for (int32_t ti = 0; ti < ntypes_; ++ti) {
    T rpad[4];
    for (int c = 0; c < 4; ++c) rpad[c] = -davg_[ti * 4 + c] / dstd_[ti * 4 + c];
    for (int32_t tj = 0; tj < ntypes_; ++tj) {
      if (table_) {  // a compressed branch evaluates its table for every slot
        table_->value(net_index(ti, tj), rpad[0], g0.data());
      } else {
        const Mlp<T>& net = embeddings_[net_index(ti, tj)];
        saved.resize(net.saved_width());
        net.forward(&rpad[0], 1, g0.data(), saved.data(), ws);
      }
      T* out = pad_term_.data() + (static_cast<size_t>(ti) * ntypes_ + tj) * 4 * m_;
      for (int c = 0; c < 4; ++c) {
        for (int64_t k = 0; k < m_; ++k) out[c * m_ + k] = rpad[c] * g0[k];
      }
    }
  }
}

template <typename T>
void SeAEvaluator<T>::add_padding(int32_t ti, int32_t tj, int64_t nempty, T* tm) const {
  // empty slots (constant rows, no gradient): n_pad R̂_padᵀ G(ŝ_pad) / Nc
  if (nempty == 0) return;
  const T npad = static_cast<T>(nempty) / static_cast<T>(nnei_);
  const T* pt = pad_term_.data() + (static_cast<size_t>(ti) * ntypes_ + tj) * 4 * m_;
  for (int64_t k = 0; k < 4 * m_; ++k) tm[k] += npad * pt[k];
}

/// Gathers the real neighbors of the chunk by neighbor type and runs the embedding nets in
/// forward mode: fills slot, row_begin, r (R̂ rows), gj (G and dG/dŝ rows), then
/// tmat = R̂ᵀ G / Nc (+ the empty slots' constant term) and D.
template <typename T>
void SeAEvaluator<T>::embed_forward(int32_t ti, int64_t n, const T* em, const uint8_t* mask,
                                    ChunkWorkspace<T>& w) const {
  w.slot.clear();
  w.row_begin.assign(ntypes_ * (n + 1), 0);
  for (int32_t tj = 0; tj < ntypes_; ++tj) {
    for (int64_t a = 0; a < n; ++a) {
      w.row_begin[tj * (n + 1) + a] = static_cast<int64_t>(w.slot.size());
      const int64_t base = a * nnei_;
      for (int64_t s = sel_begin_[tj]; s < sel_begin_[tj + 1]; ++s) {
        if (mask[base + s]) w.slot.push_back(base + s);
      }
    }
    w.row_begin[tj * (n + 1) + n] = static_cast<int64_t>(w.slot.size());
  }
  const int64_t rows = static_cast<int64_t>(w.slot.size());
  grow(w.x0, rows);
  grow(w.r, rows * 4);
  grow(w.gj, 2 * rows * m_);
  for (int64_t k = 0; k < rows; ++k) {
    const T* e = em + w.slot[k] * 4;
    for (int c = 0; c < 4; ++c) w.r[k * 4 + c] = e[c];
    w.x0[k] = e[0];
  }
  for (int32_t tj = 0; tj < ntypes_; ++tj) {
    const int64_t r0 = w.row_begin[tj * (n + 1)], r1 = w.row_begin[tj * (n + 1) + n];
    if (r1 == r0) continue;
    const Mlp<T>& net = embeddings_[net_index(ti, tj)];
    net.forward_tangent(w.x0.data() + r0, r1 - r0, w.gj.data() + 2 * r0 * m_, w.mlp);
  }
  grow(w.tmat, n * 4 * m_);
  grow(w.d, n * m_ * axis_);
  const T inv = T(1) / static_cast<T>(nnei_);
  for (int64_t a = 0; a < n; ++a) {
    T* tm = w.tmat.data() + a * 4 * m_;
    std::fill(tm, tm + 4 * m_, T(0));
    for (int32_t tj = 0; tj < ntypes_; ++tj) {
      const int64_t r0 = w.row_begin[tj * (n + 1) + a], r1 = w.row_begin[tj * (n + 1) + a + 1];
      add_padding(ti, tj, sel_[tj] - (r1 - r0), tm);
      if (r1 == r0) continue;
      se_a::t_accumulate<T>(r1 - r0, m_, w.r.data() + r0 * 4, g_rows(w, n, tj, r0), inv, tm);
    }
    se_a::descriptor<T>(m_, axis_, tm, w.d.data() + a * m_ * axis_);  // D = Tᵀ T[:, :A]
  }
}

/// dE/dD -> dE/dT -> dE/dR̂ rows (through G with the forward-mode tangents, and directly)
/// -> g_em rows of the chunk.
template <typename T>
void SeAEvaluator<T>::embed_backward(int32_t /*ti*/, int64_t n, T* g_em,
                                     ChunkWorkspace<T>& w) const {
  const int64_t rows = static_cast<int64_t>(w.slot.size());
  const T inv = T(1) / static_cast<T>(nnei_);
  grow(w.gt, 4 * m_);
  grow(w.gr, rows * 4);
  for (int64_t a = 0; a < n; ++a) {
    const T* tm = w.tmat.data() + a * 4 * m_;
    const T* gd = w.gd.data() + a * m_ * axis_;
    // dE/dT = (T< gDᵀ + [T gD, 0]) / Nc   (the 1/Nc of T = R̂ᵀG/Nc folded in)
    se_a::descriptor_backward<T>(m_, axis_, tm, gd, inv, w.gt.data());
    for (int32_t tj = 0; tj < ntypes_; ++tj) {
      const int64_t r0 = w.row_begin[tj * (n + 1) + a], r1 = w.row_begin[tj * (n + 1) + a + 1];
      if (r1 == r0) continue;
      se_a::rows_backward_tangent<T>(r1 - r0, m_, w.r.data() + r0 * 4, g_rows(w, n, tj, r0),
                                     j_rows(w, n, tj, r0), w.gt.data(), w.gr.data() + r0 * 4);
    }
  }
  for (int64_t k = 0; k < rows; ++k) {
    T* out = g_em + w.slot[k] * 4;
    for (int c = 0; c < 4; ++c) out[c] = w.gr[k * 4 + c];
  }
}

template <typename T>
void SeAEvaluator<T>::process_chunk(int32_t ti, const int64_t* centers, int64_t n, const T* em,
                                    const uint8_t* mask, T* g_em, double* atom_energy,
                                    ChunkWorkspace<T>& w) const {
  if (table_) {
    tabulated_chunk(ti, centers, n, em, mask, g_em, atom_energy, w);
    return;
  }
  embed_forward(ti, n, em, mask, w);
  grow(w.gd, n * m_ * axis_);
  fitting_->evaluate(ti, centers, n, w.d.data(), atom_energy, w.gd.data(), w.fit);
  embed_backward(ti, n, g_em, w);
}

/// The compressed form of embed_forward + fitting + embed_backward: per center, the table of
/// each neighbor block accumulates T directly, and its backward recomputes G and dG/dŝ (no
/// per-neighbor row is stored; se_a_tabulated.h).
template <typename T>
void SeAEvaluator<T>::tabulated_chunk(int32_t ti, const int64_t* centers, int64_t n, const T* em,
                                      const uint8_t* mask, T* g_em, double* atom_energy,
                                      ChunkWorkspace<T>& w) const {
  const T inv = T(1) / static_cast<T>(nnei_);
  grow(w.tmat, n * 4 * m_);
  grow(w.d, n * m_ * axis_);
  grow(w.gd, n * m_ * axis_);
  grow(w.gt, 4 * m_);
  TableCounts counts;
  for (int64_t a = 0; a < n; ++a) {
    T* tm = w.tmat.data() + a * 4 * m_;
    std::fill(tm, tm + 4 * m_, T(0));
    for (int32_t tj = 0; tj < ntypes_; ++tj) {
      const int64_t s0 = a * nnei_ + sel_begin_[tj];
      const int64_t real = std::count(mask + s0, mask + s0 + sel_[tj], uint8_t(1));
      add_padding(ti, tj, sel_[tj] - real, tm);
      if (real == 0) continue;
      table_->accumulate(net_index(ti, tj), sel_[tj], em + s0 * 4, mask + s0, inv, tm, counts);
    }
    se_a::descriptor<T>(m_, axis_, tm, w.d.data() + a * m_ * axis_);  // D = Tᵀ T[:, :A]
  }
  fitting_->evaluate(ti, centers, n, w.d.data(), atom_energy, w.gd.data(), w.fit);
  for (int64_t a = 0; a < n; ++a) {
    const T* tm = w.tmat.data() + a * 4 * m_;
    se_a::descriptor_backward<T>(m_, axis_, tm, w.gd.data() + a * m_ * axis_, inv, w.gt.data());
    for (int32_t tj = 0; tj < ntypes_; ++tj) {
      const int64_t s0 = a * nnei_ + sel_begin_[tj];
      table_->backward(net_index(ti, tj), sel_[tj], em + s0 * 4, mask + s0, w.gt.data(),
                       g_em + s0 * 4);
    }
  }
  counts_[0] += counts.neighbors;
  counts_[1] += counts.beyond_data;
  counts_[2] += counts.beyond_table;
}

template <typename T>
void SeAEvaluator<T>::evaluate(const PairInput& in, const PairOutput& out) const {
  if (in.nnei != nnei_) throw InputError("neighbor table width differs from sum(sel)");
  begin_pair_output(in, ntypes_, out);
  const EnvMatParams<T> params{rcut_, rcut_smth_, davg_.data(), dstd_.data(), ntypes_};
  // 8..32 atoms a chunk: small enough for the embedding rows to stay in cache, large enough
  // for the fitting products
  const ChunkPlan plan(in.center_type, in.ncenter, ntypes_, 8, 32);
  for_each_chunk(plan, [&](const Chunk& ch, const int64_t* centers, int64_t n) {
    // per-thread scratch kept between calls (OpenMP reuses its threads): no allocation and
    // no first-touch page faults in the steady state of an MD run
    static thread_local ChunkWorkspace<T> w;
    ChunkEnvironment<T>& env = w.env;
    env.forward(in, params, ch.type, centers, n);  // R̂ of the chunk, in cache until backward
    process_chunk(ch.type, centers, n, env.em.data(), env.mask.data(), env.g_em.data(),
                  out.atom_energy, w);
    env.backward(centers, out.grad_rij);
  });
}

}  // namespace

std::unique_ptr<Evaluator> make_se_a_evaluator(const ModelFile& file, const BranchConfig& cfg) {
  if (cfg.precision == "float32") return std::make_unique<SeAEvaluator<float>>(file, cfg);
  return std::make_unique<SeAEvaluator<double>>(file, cfg);
}

}  // namespace deepft
