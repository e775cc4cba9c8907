#include "se_a_model.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <numeric>
#include <stdexcept>
#include <type_traits>

#include "env_mat.h"
#include "errors.h"
#include "network.h"
#include "se_a_kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace deepft {

namespace {

std::atomic<int64_t> g_chunk_atoms{0};  // 0: automatic

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "'" : ", '") + n + "'";
  return "[" + s + "]";
}

std::vector<std::string> string_list(const Json& j) {
  std::vector<std::string> out;
  for (const auto& v : j.as_array()) out.push_back(v.as_string());
  return out;
}

void check_status(const Status& s, const char* what) {
  if (s.ok()) return;
  const std::string msg = std::string(what) + ": " + s.message;
  if (s.code == StatusCode::kInvalidArgument) throw InputError(msg);
  throw std::runtime_error(msg);
}

}  // namespace

void set_chunk_atoms(int64_t n) { g_chunk_atoms = std::max<int64_t>(0, n); }

SeABranchConfig read_branch_config(const ModelFile& file, const std::string& branch) {
  SeABranchConfig c;
  const HeaderField branches = file.field("branches");
  const std::vector<std::string> names = branches.keys();
  if (names.empty()) branches.fail("the model has no branch");
  c.name = branch.empty() ? file.field("default_branch").as_string() : branch;
  if (!branches.has(c.name)) {
    throw ModelFileError(file.path() + ": no branch '" + c.name + "'; the model has " +
                             join(names),
                         branch.empty() ? "the header's default_branch names no branch: freeze "
                                          "the checkpoint again with `deepft freeze`"
                                        : "choose one of the listed branches");
  }
  const HeaderField b = branches.at(c.name);
  const HeaderField tm = b.has("type_map") ? b.at("type_map") : file.field("type_map");
  c.type_map = tm.string_list();
  if (c.type_map.empty() || c.type_map.size() > static_cast<size_t>(kMaxTypes)) {
    tm.fail("needs 1 to " + std::to_string(kMaxTypes) + " atom types, got " +
            std::to_string(c.type_map.size()));
  }
  for (size_t i = 0; i < c.type_map.size(); ++i) {
    if (c.type_map[i].empty()) tm.at(i).fail("empty element name");
    for (size_t k = 0; k < i; ++k) {
      if (c.type_map[k] == c.type_map[i]) tm.at(i).fail("'" + c.type_map[i] + "' repeats");
    }
  }
  const HeaderField d = b.at("descriptor");
  d.at("type").as_choice({"se_e2_a", "se_a"});
  const HeaderField sel = d.at("sel");
  c.sel = sel.int_list(1, kMaxSel);
  if (c.sel.size() != c.type_map.size()) {
    sel.fail(std::to_string(c.sel.size()) + " entries for " + std::to_string(c.type_map.size()) +
             " types");
  }
  if (std::accumulate(c.sel.begin(), c.sel.end(), int64_t(0)) > kMaxSel) {
    sel.fail("sum(sel) exceeds " + std::to_string(kMaxSel));
  }
  c.rcut = d.at("rcut").as_double(0, kMaxRcut);
  c.rcut_smth = d.at("rcut_smth").as_double(0, c.rcut);
  if (!(c.rcut > c.rcut_smth)) d.at("rcut").fail("needs 0 <= rcut_smth < rcut");
  c.neuron = d.at("neuron").int_list(1, kMaxWidth);
  if (c.neuron.empty()) d.at("neuron").fail("the embedding net has no layer");
  c.axis_neuron = d.at("axis_neuron").as_int(1, c.neuron.back());
  c.type_one_side = d.at("type_one_side").as_bool();
  c.descriptor_activation = d.at("activation_function").as_string();
  const HeaderField f = b.at("fitting_net");
  if (f.has("type")) f.at("type").as_choice({"ener"});
  c.fitting_neuron = f.at("neuron").int_list(1, kMaxWidth);
  c.fitting_activation = f.at("activation_function").as_string();
  for (const HeaderField& act : {d.at("activation_function"), f.at("activation_function")}) {
    try {
      parse_activation(act.as_string());
    } catch (const std::invalid_argument& e) {
      act.fail(e.what());
    }
  }
  const bool f32 = d.at("precision").as_choice({"float64", "float32"}) == "float32" &&
                   f.at("precision").as_choice({"float64", "float32"}) == "float32";
  c.precision = f32 ? "float32" : "float64";
  c.descriptor_prefix = b.at("descriptor_prefix").as_string();
  const HeaderField fp = b.at("fitting_prefixes");
  c.fitting_prefixes = fp.string_list();
  if (c.fitting_prefixes.empty()) fp.fail("the branch has no fitting net");
  return c;
}

namespace {

// ---- loading ----------------------------------------------------------------------------------

/// Reads prefix.layers.L.{matrix [in, out], bias [out], idt [out] (optional)} for the layer
/// output widths `widths` (the header's neuron list, + 1 for a fitting net); no further layer
/// may exist. `final_linear`: the last layer has no activation, timestep or skip connection.
template <typename T>
Mlp<T> load_mlp(const ModelFile& file, const std::string& prefix, int64_t in_dim,
                const std::vector<int64_t>& widths, Activation act, bool final_linear) {
  Mlp<T> net;
  for (size_t li = 0; li <= widths.size(); ++li) {
    const std::string p = prefix + "layers." + std::to_string(li) + ".";
    if (li == widths.size()) {
      if (file.has_tensor(p + "matrix")) {
        file.fail("tensor '" + p + "matrix' exists but the header's neuron list has " +
                  std::to_string(widths.size() - (final_linear ? 1 : 0)) + " entries");
      }
      break;
    }
    DenseLayer<T> l;
    l.in = in_dim;
    l.out = widths[li];
    l.matrix = file.tensor<T>(p + "matrix", {l.in, l.out});
    l.bias = file.tensor<T>(p + "bias", {l.out});
    if (file.has_tensor(p + "idt")) l.idt = file.tensor<T>(p + "idt", {l.out});
    l.act = act;
    l.pack();
    net.layers.push_back(std::move(l));
    in_dim = net.layers.back().out;
  }
  if (final_linear) {
    DenseLayer<T>& last = net.layers.back();
    if (last.out != 1 || !last.idt.empty()) {
      file.fail("the last layer of '" + prefix + "' must map to 1 value without timestep");
    }
    last.act = Activation::kLinear;
    last.residual = false;
  }
  return net;
}

template <typename T>
struct Fitting {
  std::vector<Mlp<T>> nets;  ///< [ntypes]
  std::vector<double> bias;  ///< [ntypes] eV
};

// ---- evaluation -------------------------------------------------------------------------------

/// Per-thread scratch of one chunk of center atoms (all of one type).
template <typename T>
struct ChunkWorkspace {
  std::vector<int64_t> slot;        ///< [rows] global slot index center * nnei + s
  std::vector<int64_t> row_begin;   ///< [ntypes * (chunk + 1)] rows of (neighbor type, atom)
  std::vector<T> x0, r;             ///< [rows] ŝ, [rows, 4] R̂ of the real neighbors
  std::vector<T> gj;                ///< per neighbor-type block [G rows; dG/dŝ rows], [2 rows, M]
  std::vector<T> tmat, d, gd;       ///< [chunk, 4, M], [chunk, M * A], [chunk, M * A]
  std::vector<T> gt, gr;            ///< [4, M], [rows, 4]
  std::vector<T> e, ge, gd_f, fit_saved;
  MlpWorkspace<T> mlp;
};

template <typename T>
void grow(std::vector<T>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
}

template <typename T>
class SeAEvaluator final : public Evaluator {
 public:
  SeAEvaluator(const ModelFile& file, const SeABranchConfig& cfg);
  void evaluate(const PairInput& in, const PairOutput& out) const override;

 private:
  int32_t ntypes_ = 0;
  int64_t nnei_ = 0, m_ = 0, axis_ = 0;
  std::vector<int64_t> sel_, sel_begin_;
  bool type_one_side_ = true;
  T rcut_ = 0, rcut_smth_ = 0;
  std::vector<T> davg_, dstd_;
  std::vector<Mlp<T>> embeddings_;
  std::vector<Fitting<T>> fittings_;
  /// [ntypes (center), ntypes (neighbor), 4, M]: R̂_padᵀ G(ŝ_pad) of one padded slot, where
  /// R̂_pad = -davg[t_i] / dstd[t_i] (an empty slot normalized as DeePMD-kit does).
  std::vector<T> pad_term_;

  void init_padding();

  void process_chunk(int32_t ti, const int64_t* centers, int64_t n, const T* em,
                     const uint8_t* mask, T* g_em, double* atom_energy,
                     ChunkWorkspace<T>& w) const;
  void embed_forward(int32_t ti, const int64_t* centers, int64_t n, const T* em,
                     const uint8_t* mask, ChunkWorkspace<T>& w) const;
  void fit(int32_t ti, const int64_t* centers, int64_t n, double* atom_energy,
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
SeAEvaluator<T>::SeAEvaluator(const ModelFile& file, const SeABranchConfig& cfg) {
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
  const Activation dact = parse_activation(cfg.descriptor_activation);
  const int64_t nemb = type_one_side_ ? ntypes_ : int64_t(ntypes_) * ntypes_;
  for (int64_t k = 0; k < nemb; ++k) {
    embeddings_.push_back(load_mlp<T>(file, dp + "embeddings." + std::to_string(k) + ".", 1,
                                      cfg.neuron, dact, false));
  }
  m_ = embeddings_.front().out_dim();
  axis_ = cfg.axis_neuron;
  const Activation fact = parse_activation(cfg.fitting_activation);
  std::vector<int64_t> fit_widths = cfg.fitting_neuron;
  fit_widths.push_back(1);
  for (const std::string& fp : cfg.fitting_prefixes) {
    Fitting<T> f;
    for (int32_t t = 0; t < ntypes_; ++t) {
      f.nets.push_back(load_mlp<T>(file, fp + "nets." + std::to_string(t) + ".", m_ * axis_,
                                   fit_widths, fact, true));
    }
    f.bias = file.tensor<double>(fp + "bias_atom_e", {ntypes_});
    fittings_.push_back(std::move(f));
  }
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
      const Mlp<T>& net = embeddings_[type_one_side_ ? tj : ti * ntypes_ + tj];
      saved.resize(net.saved_width());
      net.forward(&rpad[0], 1, g0.data(), saved.data(), ws);
      T* out = pad_term_.data() + (static_cast<size_t>(ti) * ntypes_ + tj) * 4 * m_;
      for (int c = 0; c < 4; ++c) {
        for (int64_t k = 0; k < m_; ++k) out[c * m_ + k] = rpad[c] * g0[k];
      }
    }
  }
}

/// Gathers the real neighbors of the chunk by neighbor type and runs the embedding nets in
/// forward mode: fills slot, row_begin, r (R̂ rows), gj (G and dG/dŝ rows), then
/// tmat = R̂ᵀ G / Nc (+ the empty slots' constant term) and D.
template <typename T>
void SeAEvaluator<T>::embed_forward(int32_t ti, const int64_t* centers, int64_t n, const T* em,
                                    const uint8_t* mask, ChunkWorkspace<T>& w) const {
  w.slot.clear();
  w.row_begin.assign(ntypes_ * (n + 1), 0);
  for (int32_t tj = 0; tj < ntypes_; ++tj) {
    for (int64_t a = 0; a < n; ++a) {
      w.row_begin[tj * (n + 1) + a] = static_cast<int64_t>(w.slot.size());
      const int64_t base = centers[a] * nnei_;
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
    const Mlp<T>& net = embeddings_[type_one_side_ ? tj : ti * ntypes_ + tj];
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
      // empty slots of this block (constant rows, no gradient): n_pad R̂_padᵀ G(ŝ_pad) / Nc
      const T npad = static_cast<T>(sel_[tj] - (r1 - r0)) * inv;
      if (npad != T(0)) {
        const T* pt = pad_term_.data() + (static_cast<size_t>(ti) * ntypes_ + tj) * 4 * m_;
        for (int64_t k = 0; k < 4 * m_; ++k) tm[k] += npad * pt[k];
      }
      if (r1 == r0) continue;
      se_a::t_accumulate<T>(r1 - r0, m_, w.r.data() + r0 * 4, g_rows(w, n, tj, r0), inv, tm);
    }
    se_a::descriptor<T>(m_, axis_, tm, w.d.data() + a * m_ * axis_);  // D = Tᵀ T[:, :A]
  }
}

/// Fitting nets forward and backward: atomic energies and gd = dE/dD.
template <typename T>
void SeAEvaluator<T>::fit(int32_t ti, const int64_t* centers, int64_t n, double* atom_energy,
                          ChunkWorkspace<T>& w) const {
  const int64_t dim = m_ * axis_;
  grow(w.gd, n * dim);
  grow(w.gd_f, n * dim);
  grow(w.e, n);
  grow(w.ge, n);
  std::fill(w.gd.begin(), w.gd.begin() + n * dim, T(0));
  for (int64_t a = 0; a < n; ++a) atom_energy[centers[a]] = 0.0;
  for (const Fitting<T>& f : fittings_) {
    const Mlp<T>& net = f.nets[ti];
    grow(w.fit_saved, n * net.saved_width());
    net.forward(w.d.data(), n, w.e.data(), w.fit_saved.data(), w.mlp);
    for (int64_t a = 0; a < n; ++a) {
      atom_energy[centers[a]] += static_cast<double>(w.e[a]) + f.bias[ti];
      w.ge[a] = T(1);
    }
    net.backward(w.ge.data(), n, w.fit_saved.data(), w.gd_f.data(), w.mlp);
    for (int64_t k = 0; k < n * dim; ++k) w.gd[k] += w.gd_f[k];
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
  embed_forward(ti, centers, n, em, mask, w);
  fit(ti, centers, n, atom_energy, w);
  embed_backward(ti, n, g_em, w);
}

struct Chunk {
  int32_t type;
  int64_t begin, end;  // range in the type-sorted center order
};

template <typename T>
void SeAEvaluator<T>::evaluate(const PairInput& in, const PairOutput& out) const {
  const int64_t nc = in.ncenter;
  if (in.nnei != nnei_) throw InputError("neighbor table width differs from sum(sel)");
  std::vector<uint8_t> mask(nc * nnei_);
  std::vector<int32_t> ctype(nc);
  for (int64_t i = 0; i < nc; ++i) {
    const int32_t t = in.center_type[i];
    if (t >= ntypes_) throw InputError("atom type " + std::to_string(t) + " out of range");
    ctype[i] = t < 0 ? 0 : t;
    for (int64_t s = 0; s < nnei_; ++s) mask[i * nnei_ + s] = t >= 0 && in.nlist[i * nnei_ + s] >= 0;
  }
  std::vector<T> rij_buf;
  const T* rij = nullptr;
  if constexpr (std::is_same_v<T, double>) {
    rij = in.rij;
  } else {
    rij_buf.assign(in.rij, in.rij + nc * nnei_ * 3);
    rij = rij_buf.data();
  }
  const EnvMatInput<T> emi{rij, mask.data(), ctype.data(), nc, nnei_};
  const EnvMatParams<T> emp{rcut_, rcut_smth_, davg_.data(), dstd_.data(), ntypes_};
  std::vector<T> em(nc * nnei_ * 4);
  check_status(env_mat_se_a<T>(emi, emp, em.data(), nullptr), "env_mat_se_a");

  // centers sorted by type (virtual atoms dropped), cut into chunks of one type
  std::vector<int64_t> order;
  std::vector<Chunk> chunks;
  // about 4 chunks per thread for dynamic load balance, 8..32 atoms each (small enough for the
  // embedding rows to stay in cache, large enough for the fitting products)
  int64_t chunk_atoms = g_chunk_atoms;
  if (chunk_atoms <= 0) {
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    chunk_atoms = std::clamp<int64_t>(nc / (4 * static_cast<int64_t>(threads)), 8, 32);
  }
  for (int32_t t = 0; t < ntypes_; ++t) {
    const int64_t begin = static_cast<int64_t>(order.size());
    for (int64_t i = 0; i < nc; ++i) {
      if (in.center_type[i] == t) order.push_back(i);
    }
    const int64_t end = static_cast<int64_t>(order.size());
    for (int64_t b = begin; b < end; b += chunk_atoms) {
      chunks.push_back({t, b, std::min(end, b + chunk_atoms)});
    }
  }
  std::fill(out.atom_energy, out.atom_energy + nc, 0.0);
  std::vector<T> g_em(nc * nnei_ * 4, T(0));
  std::exception_ptr error = nullptr;
#pragma omp parallel
  {
    // per-thread scratch kept between calls (OpenMP reuses its threads): no allocation and
    // no first-touch page faults in the steady state of an MD run
    static thread_local ChunkWorkspace<T> w;
#pragma omp for schedule(dynamic, 1)
    for (int64_t c = 0; c < static_cast<int64_t>(chunks.size()); ++c) {
      try {
        const Chunk& ch = chunks[c];
        process_chunk(ch.type, order.data() + ch.begin, ch.end - ch.begin, em.data(),
                      mask.data(), g_em.data(), out.atom_energy, w);
      } catch (...) {
#pragma omp critical(deepft_core_error)
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);

  if constexpr (std::is_same_v<T, double>) {
    check_status(env_mat_se_a_vjp<T>(emi, emp, g_em.data(), out.grad_rij), "env_mat_se_a_vjp");
  } else {
    std::vector<T> g(nc * nnei_ * 3);
    check_status(env_mat_se_a_vjp<T>(emi, emp, g_em.data(), g.data()), "env_mat_se_a_vjp");
    std::copy(g.begin(), g.end(), out.grad_rij);
  }
}

}  // namespace

std::unique_ptr<Evaluator> make_evaluator(const ModelFile& file, const SeABranchConfig& cfg) {
  try {
    if (cfg.precision == "float32") return std::make_unique<SeAEvaluator<float>>(file, cfg);
    return std::make_unique<SeAEvaluator<double>>(file, cfg);
  } catch (const std::invalid_argument& e) {  // unknown activation name
    if (dynamic_cast<const InputError*>(&e) != nullptr) throw;
    file.fail("branch '" + cfg.name + "': " + e.what());
  } catch (const JsonError& e) {
    file.fail("branch '" + cfg.name + "': " + e.what());
  }
}

}  // namespace deepft
