#include "deep_pot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "branch_config.h"
#include "evaluator.h"
#include "gemm.h"
#include "model_file.h"
#include "neighbor_list.h"
#include "prod.h"
#include "threads.h"

namespace deepft {

struct DeepPot::Impl {
  BranchConfig cfg;
  std::vector<std::string> branches;
  std::vector<std::string> warnings;
  std::unique_ptr<Evaluator> evaluator;
  int64_t nnei = 0;

  /// Layout of the formatted neighbor table: one block per type (se_e2_a), or one block of
  /// nsel slots for all types (mixed types, DPA-1: every type formatted as type 0, so the
  /// block holds the nearest neighbors of any type, sorted by (distance, index)).
  NlistFormat<double> nlist_format() const {
    return {cfg.rcut, cfg.sel.data(), cfg.mixed_types() ? 1 : static_cast<int32_t>(cfg.sel.size())};
  }
  /// The atom types the neighbor-list formatter sees: atype itself, or for mixed types every
  /// real atom as type 0 in `buf` (virtual atoms, -1, stay excluded).
  const int32_t* format_types(const int32_t* atype, int64_t n, std::vector<int32_t>& buf) const {
    if (!cfg.mixed_types()) return atype;
    buf.resize(n);
    for (int64_t i = 0; i < n; ++i) buf[i] = atype[i] < 0 ? atype[i] : 0;
    return buf.data();
  }
};

namespace {

void check(const Status& s, const char* what) {
  if (s.ok()) return;
  const std::string msg = std::string(what) + ": " + s.message;
  if (s.code == StatusCode::kInvalidArgument) throw InputError(msg);
  throw std::runtime_error(msg);
}

void check_types(const int32_t* atype, int64_t n, int ntypes,
                 const std::vector<std::string>& type_map) {
  if (n > 0 && atype == nullptr) throw InputError("atype is null");
  for (int64_t i = 0; i < n; ++i) {
    if (atype[i] < -1 || atype[i] >= ntypes) {
      std::string names;
      for (const auto& t : type_map) names += (names.empty() ? "" : ", ") + t;
      throw InputError("atom " + std::to_string(i) + " has type " + std::to_string(atype[i]) +
                           ", outside [0, " + std::to_string(ntypes) + ")",
                       "atom types index the model's type map [" + names + "]");
    }
  }
}

/// Geometry of formatted rows, to name the atoms of a failing pair.
struct Rows {
  const std::vector<int64_t>& nlist;  ///< [nrow, nnei] neighbor index or -1
  const std::vector<double>& rij;     ///< [nrow, nnei, 3] Å
  int64_t nrow, nnei, per_frame;      ///< row r is atom r % per_frame of frame r / per_frame
};

double pair_distance(const Rows& g, int64_t row, int64_t s) {
  const double* x = g.rij.data() + (row * g.nnei + s) * 3;
  return std::sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
}

[[noreturn]] void too_close(const Rows& g, int64_t row, int64_t s, const std::string& what) {
  const int64_t f = row / g.per_frame, i = row % g.per_frame, j = g.nlist[row * g.nnei + s];
  const double r = pair_distance(g, row, s);
  char dist[32];
  std::snprintf(dist, sizeof(dist), "%.6g", r);
  throw AtomsTooCloseError("atoms " + std::to_string(i) + " and " + std::to_string(j) +
                               (g.per_frame != g.nrow ? " of frame " + std::to_string(f) : "") +
                               " are " + dist + " Å apart: " + what,
                           f, i, j, r);
}

/// The se_e2_a descriptor is singular at r = 0: refuse such pairs before evaluating.
void check_no_overlap(const Rows& g) {
  for (int64_t row = 0; row < g.nrow; ++row) {
    for (int64_t s = 0; s < g.nnei; ++s) {
      if (g.nlist[row * g.nnei + s] >= 0 && pair_distance(g, row, s) == 0.0) {
        too_close(g, row, s, "the model is singular at distance 0");
      }
    }
  }
}

/// Never return NaN/inf silently: a non-finite atomic energy or pair gradient comes from a
/// pair so close that the model overflows; name the nearest neighbor of the first such atom.
void check_finite(const Rows& g, const std::vector<double>& atom_energy,
                  const std::vector<double>& grad) {
  for (int64_t row = 0; row < g.nrow; ++row) {
    bool ok = std::isfinite(atom_energy[row]);
    for (int64_t k = row * g.nnei * 3; ok && k < (row + 1) * g.nnei * 3; ++k) {
      ok = std::isfinite(grad[k]);
    }
    if (ok) continue;
    int64_t nearest = -1;
    for (int64_t s = 0; s < g.nnei; ++s) {
      if (g.nlist[row * g.nnei + s] >= 0 &&
          (nearest < 0 || pair_distance(g, row, s) < pair_distance(g, row, nearest))) {
        nearest = s;
      }
    }
    const std::string what = "the model gives a non-finite energy or force at this distance";
    if (nearest >= 0) too_close(g, row, nearest, what);
    throw std::runtime_error("non-finite energy of atom " + std::to_string(row % g.per_frame) +
                             ", which has no neighbor (the model is numerically broken)");
  }
}

/// Outputs of a call without local atoms (an empty frame, or an MPI rank with no atoms).
void zero_outputs(DeepPotOutput& out, int64_t nframes, int64_t nall, bool atomic) {
  out.energy.assign(nframes, 0.0);
  out.force.assign(nframes * nall * 3, 0.0);
  out.virial.assign(nframes * 9, 0.0);
  out.atom_energy.clear();
  out.atom_virial.clear();
  if (atomic) out.atom_virial.assign(nframes * nall * 9, 0.0);
}

/// Forces, virials and energies from the atomic energies and pair gradients.
void reduce(DeepPotOutput& out, const std::vector<double>& atom_energy,
            const std::vector<double>& grad, const std::vector<double>& rij,
            const std::vector<int64_t>& nlist, int64_t nframes, int64_t nloc, int64_t nnei,
            int64_t nall, bool atomic) {
  const PairGradient<double> pg{grad.data(), rij.data(), nlist.data(), nframes, nloc, nnei, nall};
  out.force.assign(nframes * nall * 3, 0.0);
  out.virial.assign(nframes * 9, 0.0);
  check(prod_force<double>(pg, out.force.data()), "prod_force");
  if (atomic) {
    out.atom_virial.assign(nframes * nall * 9, 0.0);
    check(prod_virial<double>(pg, out.virial.data(), out.atom_virial.data()), "prod_virial");
    out.atom_energy = atom_energy;
  } else {
    check(prod_virial<double>(pg, out.virial.data(), nullptr), "prod_virial");
    out.atom_virial.clear();
    out.atom_energy.clear();
  }
  out.energy.assign(nframes, 0.0);
  for (int64_t f = 0; f < nframes; ++f) {
    out.energy[f] = std::accumulate(atom_energy.begin() + f * nloc,
                                    atom_energy.begin() + (f + 1) * nloc, 0.0);
  }
}

}  // namespace

DeepPot::DeepPot() = default;
DeepPot::DeepPot(const std::string& path, const std::string& branch) { load(path, branch); }
DeepPot::~DeepPot() = default;
DeepPot::DeepPot(DeepPot&&) noexcept = default;
DeepPot& DeepPot::operator=(DeepPot&&) noexcept = default;

void DeepPot::load(const std::string& path, const std::string& branch) {
  load(ModelFile::read(path), branch);
}

void DeepPot::load(const ModelFile& file, const std::string& branch) {
  auto impl = std::make_unique<Impl>();
  impl->cfg = read_branch_config(file, branch);
  impl->branches = file.field("branches").keys();
  impl->warnings = file.warnings();
  impl->evaluator = make_evaluator(file, impl->cfg);
  impl->nnei = impl->cfg.nnei();
  blas::set_blas_single_threaded();
  impl_ = std::move(impl);
}

bool DeepPot::loaded() const noexcept { return impl_ != nullptr; }

const DeepPot::Impl& DeepPot::impl() const {
  if (!impl_) throw InputError("DeepPot: no model loaded", "call load(path) first");
  return *impl_;
}

const std::vector<std::string>& DeepPot::load_warnings() const { return impl().warnings; }
const std::vector<std::string>& DeepPot::type_map() const { return impl().cfg.type_map; }
int DeepPot::ntypes() const { return static_cast<int>(impl().cfg.type_map.size()); }
double DeepPot::cutoff() const { return impl().cfg.rcut; }
const std::string& DeepPot::branch() const { return impl().cfg.name; }
const std::vector<std::string>& DeepPot::branches() const { return impl().branches; }
const std::string& DeepPot::precision() const { return impl().cfg.precision; }
const std::vector<int64_t>& DeepPot::sel() const { return impl().cfg.sel; }
bool DeepPot::mixed_types() const { return impl().cfg.mixed_types(); }
bool DeepPot::compressed() const { return impl().evaluator->compressed(); }
TableCounts DeepPot::table_counts() const { return impl().evaluator->table_counts(); }
int64_t DeepPot::check_frequency() const { return impl().evaluator->check_frequency(); }

const std::string& DeepPot::descriptor_type() const {
  static const std::string se_e2_a = "se_e2_a", dpa1 = "dpa1";
  return impl().cfg.mixed_types() ? dpa1 : se_e2_a;
}

void DeepPot::compute(DeepPotOutput& out, const double* coord, int64_t nframes, int64_t natoms,
                      const int32_t* atype, const double* box, bool atomic) const {
  const Impl& m = impl();
  if (nframes < 1 || natoms < 0) throw InputError("need nframes >= 1 and natoms >= 0");
  if (natoms > 0 && coord == nullptr) throw InputError("coord is null");
  check_types(atype, natoms, ntypes(), m.cfg.type_map);
  const int64_t nnei = m.nnei, nc = nframes * natoms;
  const NlistFormat<double> fmt = m.nlist_format();
  out.max_neighbors.assign(fmt.ntypes, 0);
  if (nc == 0) return zero_outputs(out, nframes, natoms, atomic);
  std::vector<int64_t> nlist(nc * nnei);
  std::vector<double> rij(nc * nnei * 3);
  NlistOutput<double> nout;
  nout.nlist = nlist.data();
  nout.rij = rij.data();
  nout.max_neighbors = out.max_neighbors.data();
  std::vector<int32_t> format_buf;
  check(build_nlist<double>(coord, box, m.format_types(atype, natoms, format_buf), nframes,
                            natoms, fmt, nout),
        "build_nlist");
  std::vector<int32_t> ctype(nc);
  for (int64_t f = 0; f < nframes; ++f) std::copy(atype, atype + natoms, ctype.data() + f * natoms);
  const Rows rows{nlist, rij, nc, nnei, natoms};
  check_no_overlap(rows);
  std::vector<double> atom_energy(nc), grad(nc * nnei * 3);
  m.evaluator->evaluate({nc, nnei, nlist.data(), rij.data(), ctype.data(), atype},
                        {atom_energy.data(), grad.data()});
  check_finite(rows, atom_energy, grad);
  reduce(out, atom_energy, grad, rij, nlist, nframes, natoms, nnei, natoms, atomic);
}

void DeepPot::compute(DeepPotOutput& out, const double* coord, const int32_t* atype, int64_t nloc,
                      int64_t nall, const NeighborListView& list, const int64_t* mapping,
                      bool atomic) const {
  const Impl& m = impl();
  if (nloc < 0 || nall < nloc) throw InputError("need 0 <= nloc <= nall");
  if (nall > 0 && coord == nullptr) throw InputError("coord is null");
  if (list.inum > 0 && (list.numneigh == nullptr || list.firstneigh == nullptr)) {
    throw InputError("neighbor list: numneigh and firstneigh are required");
  }
  check_types(atype, nall, ntypes(), m.cfg.type_map);
  if (mapping != nullptr) {
    for (int64_t j = 0; j < nall; ++j) {
      if (mapping[j] < 0 || mapping[j] >= nloc || (j < nloc && mapping[j] != j)) {
        throw InputError("mapping[" + std::to_string(j) + "] = " + std::to_string(mapping[j]) +
                         " is not a local atom (or not itself for a local atom)");
      }
    }
  }
  const int64_t nnei = m.nnei;
  const NlistFormat<double> fmt = m.nlist_format();
  out.max_neighbors.assign(fmt.ntypes, 0);
  if (nloc == 0) return zero_outputs(out, 1, mapping != nullptr ? 0 : nall, atomic);
  std::vector<int64_t> nlist(nloc * nnei);
  std::vector<double> rij(nloc * nnei * 3);
  NlistOutput<double> nout;
  nout.nlist = nlist.data();
  nout.rij = rij.data();
  nout.max_neighbors = out.max_neighbors.data();
  const ExternalNeighborList ext{list.inum, list.ilist, list.numneigh, list.firstneigh};
  std::vector<int32_t> format_buf;
  check(format_nlist_from_full_list<double>(coord, m.format_types(atype, nall, format_buf),
                                            nloc, nall, ext, fmt, nout),
        "format_nlist_from_full_list");
  const Rows rows{nlist, rij, nloc, nnei, nloc};
  check_no_overlap(rows);
  std::vector<double> atom_energy(nloc), grad(nloc * nnei * 3);
  m.evaluator->evaluate({nloc, nnei, nlist.data(), rij.data(), atype, atype},
                        {atom_energy.data(), grad.data()});
  check_finite(rows, atom_energy, grad);
  reduce(out, atom_energy, grad, rij, nlist, 1, nloc, nnei, nall, atomic);
  if (mapping == nullptr) return;
  for (int64_t j = nloc; j < nall; ++j) {
    const int64_t o = mapping[j];
    for (int c = 0; c < 3; ++c) out.force[o * 3 + c] += out.force[j * 3 + c];
    if (atomic) {
      for (int c = 0; c < 9; ++c) out.atom_virial[o * 9 + c] += out.atom_virial[j * 9 + c];
    }
  }
  out.force.resize(nloc * 3);
  if (atomic) out.atom_virial.resize(nloc * 9);
}

void DeepPot::set_num_threads(int n) { deepft::set_num_threads(n); }
int DeepPot::num_threads() { return deepft::num_threads(); }
std::string DeepPot::blas_backend() { return blas::backend(); }

}  // namespace deepft
