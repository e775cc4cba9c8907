#include "pair_deepft.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <limits>
#include <sstream>

#include "atom.h"
#include "comm.h"
#include "deep_pot.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "model_devi.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "platform.h"
#include "update.h"
#include "utils.h"

using namespace LAMMPS_NS;

namespace deepft_lmp {

namespace {

const char* const kKeywords[] = {"branch", "out_freq", "out_file", "atomic", "relative",
                                 "relative_v"};

bool is_keyword(const char* arg) {
  for (const char* k : kKeywords) {
    if (std::strcmp(arg, k) == 0) return true;
  }
  return false;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

// Write the 9-component deepft virial (row-major xx xy xz yx yy yz zx zy zz) into LAMMPS'
// 6-component (xx yy zz xy xz yz) and 9-component centroid (... yx zx zy) layouts, in the same
// assignment as DeePMD-kit's plugin.
inline void add_virial6(double* dst, const double* v, double s) {
  dst[0] += s * v[0];
  dst[1] += s * v[4];
  dst[2] += s * v[8];
  dst[3] += s * v[3];
  dst[4] += s * v[6];
  dst[5] += s * v[7];
}

inline void add_virial9(double* dst, const double* v, double s) {
  add_virial6(dst, v, s);
  dst[6] += s * v[1];
  dst[7] += s * v[2];
  dst[8] += s * v[5];
}

}  // namespace

PairDeepFT::PairDeepFT(LAMMPS* lmp) : Pair(lmp) {
  if (std::strcmp(update->unit_style, "lj") == 0) {
    error->all(FLERR, "pair_style deepft: unit style lj is not supported; use units metal "
                      "(Å, eV) or another physical unit style");
  }
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  no_virial_fdotr_compute = 1;  // virial comes from the model (full neighbor list)
  centroidstressflag = CENTROID_AVAIL;
  comm_reverse = 3;
  // LAMMPS units per deepft unit (Å, eV): the same factors as DeePMD-kit.
  ener_unit_ = force->boltz / 8.617343e-5;
  dist_unit_ = force->angstrom;
}

PairDeepFT::~PairDeepFT() {
  if (devi_fp_ != nullptr) std::fclose(devi_fp_);
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
}

void PairDeepFT::allocate() {
  allocated = 1;
  const int n = atom->ntypes;
  memory->create(setflag, n + 1, n + 1, "pair:setflag");
  memory->create(cutsq, n + 1, n + 1, "pair:cutsq");
  for (int i = 0; i <= n; ++i) {
    for (int j = 0; j <= n; ++j) setflag[i][j] = 0;
  }
}

/* ---------------------------------------------------------------------- */

void PairDeepFT::settings(int narg, char** arg) {
  if (narg < 1) {
    error->all(FLERR, "pair_style deepft needs at least one model file: pair_style deepft "
                      "model.dft [model2.dft ...] [branch NAME] [out_freq N] [out_file FILE] "
                      "[atomic] [relative EPS] [relative_v EPS]");
  }
  int iarg = 0;
  std::vector<std::string> paths;
  while (iarg < narg && !is_keyword(arg[iarg])) paths.emplace_back(arg[iarg++]);
  if (paths.empty()) {
    error->all(FLERR, "pair_style deepft: the first argument must be a model file");
  }
  parse_keywords(narg - iarg, arg + iarg);
  load_models(paths);
  comm_reverse = 3 * static_cast<int>(models_.size());
  if (devi_fp_ != nullptr) {
    std::fclose(devi_fp_);
    devi_fp_ = nullptr;
  }
  last_devi_step_ = -1;
  last_table_step_ = -1;
  sel_warned_ = false;
  if (models_.size() > 1 && out_freq_ > 0) open_devi_file();

  if (comm->me == 0) {
    std::string info = fmt::format("deepft: {} model(s): {}\n", models_.size(), join(paths));
    info += fmt::format("deepft: {} descriptor, cutoff {} Å, type map of the first model: {}\n",
                        models_[0]->descriptor_type(), cutoff_ / dist_unit_,
                        join(models_[0]->type_map()));
    if (models_.size() > 1 && out_freq_ > 0)
      info += fmt::format("deepft: model deviation every {} steps to {}\n", out_freq_, out_file_);
    for (size_t k = 0; k < models_.size(); ++k) {
      if (!models_[k]->compressed()) continue;
      info += fmt::format("deepft: model {} is compressed (tabulated embedding nets){}\n",
                          paths[k], models_[k]->check_frequency() > 0
                              ? fmt::format("; neighbors outside its table reported every {} "
                                            "steps", models_[k]->check_frequency())
                              : std::string());
    }
    utils::logmesg(lmp, info);
  }
}

void PairDeepFT::parse_keywords(int narg, char** arg) {
  branch_.clear();
  out_freq_ = 100;
  out_file_ = "model_devi.out";
  out_atomic_ = false;
  rel_f_ = rel_v_ = -1;
  int iarg = 0;
  auto value = [&](const char* key) {
    if (iarg + 1 >= narg) error->all(FLERR, "pair_style deepft: keyword {} needs a value", key);
    return arg[iarg + 1];
  };
  auto non_negative = [&](const char* key) {
    const double v = utils::numeric(FLERR, value(key), false, lmp);
    if (v < 0) error->all(FLERR, "pair_style deepft: {} must be >= 0", key);
    return v;
  };
  while (iarg < narg) {
    const std::string key = arg[iarg];
    if (key == "atomic") {
      out_atomic_ = true;
      iarg += 1;
      continue;
    }
    if (key == "branch") {
      branch_ = value("branch");
    } else if (key == "out_freq") {
      out_freq_ = utils::inumeric(FLERR, value("out_freq"), false, lmp);
      if (out_freq_ < 0) error->all(FLERR, "pair_style deepft: out_freq must be >= 0");
    } else if (key == "out_file") {
      out_file_ = value("out_file");
    } else if (key == "relative") {
      rel_f_ = non_negative("relative") / (ener_unit_ / dist_unit_);  // -> eV/Å
    } else if (key == "relative_v") {
      rel_v_ = non_negative("relative_v") / ener_unit_;  // -> eV
    } else {
      error->all(FLERR, "pair_style deepft: unknown argument '{}' (model files come first, then "
                        "keywords branch, out_freq, out_file, atomic, relative, relative_v)", key);
    }
    iarg += 2;
  }
}

void PairDeepFT::fail_collectively(const std::string& msg) {
  // error->all must be called by every rank, error->one by any: when only some ranks failed
  // (say, a file system visible to some nodes only), those abort the run.
  int bad = msg.empty() ? 0 : 1, all_bad = 0, any_bad = 0;
  MPI_Allreduce(&bad, &all_bad, 1, MPI_INT, MPI_MIN, world);
  MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, world);
  if (all_bad) error->all(FLERR, msg);
  if (bad) error->one(FLERR, msg);
  if (any_bad) MPI_Barrier(world);  // wait for the abort
}

void PairDeepFT::load_models(const std::vector<std::string>& paths) {
  models_.clear();
  model_paths_ = paths;
  cutoff_ = 0;
  check_freq_ = -1;
  for (const auto& path : paths) {
    std::string msg;
    if (!platform::file_is_readable(path)) {
      msg = fmt::format("pair_style deepft: cannot read model file '{}' (no such file or not "
                        "readable); freeze one with `deepft freeze -o {}`", path, path);
    } else {
      try {
        models_.emplace_back(new deepft::DeepPot(path, branch_));
      } catch (const std::exception& e) {
        msg = fmt::format("pair_style deepft: cannot load model file '{}': {}", path, e.what());
      }
    }
    fail_collectively(msg);
    if (comm->me == 0) {
      for (const std::string& w : models_.back()->load_warnings()) {
        error->warning(FLERR, "pair_style deepft: {}", w);
      }
    }
    cutoff_ = std::max(cutoff_, models_.back()->cutoff() * dist_unit_);
    const int64_t freq = models_.back()->check_frequency();
    if (freq > 0 && (check_freq_ < 0 || freq < check_freq_)) check_freq_ = freq;
  }
  type_idx_.assign(models_.size(), {});
  table_reported_.assign(models_.size(), {});
  table_run_start_.assign(models_.size(), {});
}

void PairDeepFT::open_devi_file() {
  if (comm->me != 0) return;
  devi_fp_ = std::fopen(out_file_.c_str(), "w");
  if (devi_fp_ == nullptr) {
    error->one(FLERR, "pair_style deepft: cannot open the model deviation file '{}' for writing",
               out_file_);
  }
  std::fprintf(devi_fp_, "%s\n", devi_header(out_atomic_).c_str());
  std::fflush(devi_fp_);
}

/* ---------------------------------------------------------------------- */

void PairDeepFT::coeff(int narg, char** arg) {
  if (models_.empty()) error->all(FLERR, "pair_coeff before pair_style deepft");
  if (!allocated) allocate();
  const int ntypes = atom->ntypes;
  if (narg < 2 || std::strcmp(arg[0], "*") != 0 || std::strcmp(arg[1], "*") != 0) {
    error->all(FLERR, "pair_style deepft needs `pair_coeff * * E1 E2 ...` with one model element "
                      "per LAMMPS atom type");
  }
  const std::vector<std::string>& tmap = models_[0]->type_map();
  std::vector<std::string> names;
  if (narg == 2) {
    // Bare `pair_coeff * *`: LAMMPS type k is the model's element k (DeePMD-kit behaviour).
    if (static_cast<int>(tmap.size()) < ntypes) {
      error->all(FLERR, "pair_coeff * *: the system has {} atom types but the model only {} ({}); "
                        "name an element (or NULL) for each type", ntypes, tmap.size(), join(tmap));
    }
    if (static_cast<int>(tmap.size()) > ntypes) {
      error->warning(FLERR, "pair_coeff * * maps the {} atom types onto the first {} of the "
                            "model's elements ({}); list the elements explicitly, e.g. "
                            "pair_coeff * * O H", ntypes, ntypes, join(tmap));
    }
    names.assign(tmap.begin(), tmap.begin() + ntypes);
  } else {
    for (int i = 2; i < narg; ++i) names.emplace_back(arg[i]);
    if (static_cast<int>(names.size()) != ntypes) {
      error->all(FLERR, "pair_coeff * *: {} element names given for {} LAMMPS atom types; give "
                        "one per type (NULL for a type the model should ignore)", names.size(),
                 ntypes);
    }
  }
  for (size_t k = 0; k < models_.size(); ++k) {
    const std::vector<std::string>& mk = models_[k]->type_map();
    type_idx_[k].assign(ntypes, -1);
    for (int t = 0; t < ntypes; ++t) {
      if (names[t] == "NULL") continue;
      auto it = std::find(mk.begin(), mk.end(), names[t]);
      if (it == mk.end()) {
        error->all(FLERR, "pair_coeff: element {} (LAMMPS type {}) is not in the type map of "
                          "model {}: [{}]", names[t], t + 1, model_paths_[k], join(mk));
      }
      type_idx_[k][t] = static_cast<int>(it - mk.begin());
    }
  }
  for (int i = 1; i <= ntypes; ++i) {
    for (int j = i; j <= ntypes; ++j) setflag[i][j] = 1;
  }
}

void PairDeepFT::init_style() {
  if (force->newton_pair == 0) {
    error->all(FLERR, "pair_style deepft requires `newton on` (forces on ghost atoms are "
                      "summed back to their owners by LAMMPS)");
  }
  if (type_idx_.empty() || type_idx_[0].empty()) {
    error->all(FLERR, "pair_style deepft: missing `pair_coeff * * E1 E2 ...`");
  }
  neighbor->add_request(this, NeighConst::REQ_FULL);
}

double PairDeepFT::init_one(int, int) { return cutoff_; }

/* ---------------------------------------------------------------------- */

void PairDeepFT::eval_model(size_t k, const std::vector<double>& coord,
                            const std::vector<int>& types, bool atomic, Eval& out) {
  const int nlocal = atom->nlocal;
  const int nall = nlocal + atom->nghost;
  std::vector<int32_t> mtype(nall);
  for (int i = 0; i < nall; ++i) mtype[i] = type_idx_[k][types[i] - 1];
  try {
    models_[k]->compute(result_, coord.data(), mtype.data(), nlocal, nall, list_view(), nullptr,
                        atomic);
  } catch (const deepft::AtomsTooCloseError& e) {  // name the atoms by their LAMMPS IDs
    error->one(FLERR, "pair_style deepft: model {}: atoms with IDs {} and {} are {:.6g} Å apart "
               "at step {}, closer than the model can evaluate ({})", model_paths_[k],
               atom->tag[e.i], atom->tag[e.j], e.distance, update->ntimestep, e.hint());
  } catch (const std::exception& e) {
    error->one(FLERR, "pair_style deepft: model {}: {}", model_paths_[k], e.what());
  }
  if (k == 0 && !sel_warned_) warn_sel_overflow();
  out.energy = result_.energy[0];
  out.force.swap(result_.force);  // [nall, 3]: ghost rows are reverse-communicated
  out.virial.swap(result_.virial);
  if (atomic) {
    out.atom_energy.swap(result_.atom_energy);  // [nloc]
    out.atom_virial.swap(result_.atom_virial);  // [nall, 9]
  }
}

void PairDeepFT::warn_sel_overflow() {
  // max_neighbors and sel: one entry per neighbor type, or one for all types (DPA-1)
  const std::vector<int64_t>& sel = models_[0]->sel();
  const std::vector<std::string>& tmap = models_[0]->type_map();
  const bool mixed = models_[0]->mixed_types();
  for (size_t t = 0; t < sel.size() && t < result_.max_neighbors.size(); ++t) {
    if (result_.max_neighbors[t] > sel[t]) {
      error->warning(FLERR, "pair_style deepft: an atom has {} {} within the cutoff but model "
                            "{} keeps sel = {}{}; the farthest are dropped (as in DeePMD-kit), "
                            "which makes energy and forces discontinuous",
                     result_.max_neighbors[t], mixed ? "neighbors (all types)"
                                                     : tmap[t] + " neighbors",
                     model_paths_[0], sel[t], mixed ? " for all types" : "");
      sel_warned_ = true;
    }
  }
}

const deepft::NeighborListView& PairDeepFT::list_view() {
  // LAMMPS marks special-bond neighbors in the top bits of j; the core wants plain indices.
  // Copy the list only when some entry carries such bits (never for atomic systems).
  const int inum = list->inum;
  bool marked = false;
  for (int ii = 0; ii < inum && !marked; ++ii) {
    const int i = list->ilist[ii];
    const int* js = list->firstneigh[i];
    for (int jj = 0; jj < list->numneigh[i]; ++jj) {
      if (js[jj] & ~NEIGHMASK) {
        marked = true;
        break;
      }
    }
  }
  view_.inum = inum;
  view_.ilist = list->ilist;
  view_.numneigh = list->numneigh;
  view_.firstneigh = list->firstneigh;
  if (!marked) return view_;
  const int nlocal = atom->nlocal;
  masked_.clear();
  masked_first_.assign(nlocal, nullptr);
  std::vector<size_t> offset(nlocal, 0);
  for (int ii = 0; ii < inum; ++ii) {
    const int i = list->ilist[ii];
    offset[i] = masked_.size();
    const int* js = list->firstneigh[i];
    for (int jj = 0; jj < list->numneigh[i]; ++jj) masked_.push_back(js[jj] & NEIGHMASK);
  }
  for (int ii = 0; ii < inum; ++ii) {
    const int i = list->ilist[ii];
    masked_first_[i] = masked_.data() + offset[i];
  }
  view_.firstneigh = masked_first_.data();
  return view_;
}

void PairDeepFT::accumulate(const Eval& e) {
  const int nlocal = atom->nlocal;
  const int nall = nlocal + atom->nghost;
  const double fu = ener_unit_ / dist_unit_;
  double** f = atom->f;
  for (int i = 0; i < nall; ++i) {
    for (int d = 0; d < 3; ++d) f[i][d] += fu * e.force[3 * i + d];
  }
  if (eflag_global) eng_vdwl += ener_unit_ * e.energy;
  if (vflag_global) {
    double v6[6] = {0, 0, 0, 0, 0, 0};
    add_virial6(v6, e.virial.data(), ener_unit_);
    for (int c = 0; c < 6; ++c) virial[c] += v6[c];
  }
  if (eflag_atom) {
    for (int i = 0; i < nlocal; ++i) eatom[i] += ener_unit_ * e.atom_energy[i];
  }
  if (vflag_atom) {
    for (int i = 0; i < nall; ++i) add_virial6(vatom[i], &e.atom_virial[9 * i], ener_unit_);
  }
  if (cvflag_atom) {
    for (int i = 0; i < nall; ++i) add_virial9(cvatom[i], &e.atom_virial[9 * i], ener_unit_);
  }
}

void PairDeepFT::compute(int eflag, int vflag) {
  ev_init(eflag, vflag);
  const int nlocal = atom->nlocal;
  const int nall = nlocal + atom->nghost;
  // Model coordinates in Å; ghosts carry their periodic positions, so no box is needed.
  std::vector<double> coord(3 * static_cast<size_t>(nall));
  double** x = atom->x;
  for (int i = 0; i < nall; ++i) {
    for (int d = 0; d < 3; ++d) coord[3 * i + d] = x[i][d] / dist_unit_;
  }
  std::vector<int> types(atom->type, atom->type + nall);
  const bool atomic = eflag_atom || vflag_atom || cvflag_atom;
  const bool devi_step = models_.size() > 1 && out_freq_ > 0 &&
                         update->ntimestep % out_freq_ == 0 &&
                         update->ntimestep != last_devi_step_;

  Eval first;
  eval_model(0, coord, types, atomic, first);
  accumulate(first);
  if (check_freq_ > 0 && update->ntimestep % check_freq_ == 0 &&
      update->ntimestep != last_table_step_) {
    report_table_counts(fmt::format("step {}", update->ntimestep), true);
    last_table_step_ = update->ntimestep;
  }
  if (!devi_step) return;

  devi_evals_.assign(models_.size(), Eval());
  devi_evals_[0].force = first.force;
  devi_evals_[0].virial = first.virial;
  for (size_t k = 1; k < models_.size(); ++k) eval_model(k, coord, types, false, devi_evals_[k]);
  write_model_devi();
  last_devi_step_ = update->ntimestep;
}

/* ---------------------------------------------------------------------- */

void PairDeepFT::report_table_counts(const std::string& what, bool since_last) {
  const size_t m = models_.size();
  table_reported_.resize(m);
  table_run_start_.resize(m);
  for (size_t k = 0; k < m; ++k) {
    if (!models_[k]->compressed() || models_[k]->check_frequency() < 0) continue;
    const deepft::TableCounts now = models_[k]->table_counts();
    const deepft::TableCounts& ref = since_last ? table_reported_[k] : table_run_start_[k];
    long long loc[3] = {now.neighbors - ref.neighbors, now.beyond_data - ref.beyond_data,
                        now.beyond_table - ref.beyond_table};
    long long tot[3] = {0, 0, 0};
    MPI_Allreduce(loc, tot, 3, MPI_LONG_LONG, MPI_SUM, world);
    if (since_last) table_reported_[k] = now;
    if (comm->me == 0) {
      utils::logmesg(lmp, fmt::format(
          "deepft: {} (model {}): {} of {} tabulated neighbor inputs above the training range "
          "(pairs closer than its shortest distance, to the table's rounding), {} beyond the "
          "table (embedding held constant)\n",
          what, model_paths_[k], tot[1], tot[0], tot[2]));
    }
  }
}

void PairDeepFT::finish() {
  if (check_freq_ > 0) report_table_counts("run total", false);
  table_run_start_.clear();
  for (auto& model : models_) table_run_start_.push_back(model->table_counts());
}

/* ---------------------------------------------------------------------- */

void PairDeepFT::write_model_devi() {
  const size_t m = models_.size();
  int nlocal = atom->nlocal;
  const double fu = ener_unit_ / dist_unit_;
  // Output units: LAMMPS units, or dimensionless for relative deviations.
  const double out_f = rel_f_ < 0 ? fu : 1.0;
  const double out_v = rel_v_ < 0 ? ener_unit_ : 1.0;
  // Sum the ghost-atom forces of every model into their owners (our own copies, not atom->f).
  comm->reverse_comm(this);

  std::vector<const double*> forces(m);
  for (size_t k = 0; k < m; ++k) forces[k] = devi_evals_[k].force.data();
  std::vector<double> devi_f(nlocal);
  force_deviation(forces, nlocal, rel_f_, devi_f.data());
  double loc[3] = {0, std::numeric_limits<double>::max(), 0};  // max, min, sum
  for (int i = 0; i < nlocal; ++i) {
    loc[0] = std::max(loc[0], devi_f[i]);
    loc[1] = std::min(loc[1], devi_f[i]);
    loc[2] += devi_f[i];
  }
  DeviStats fs;
  MPI_Reduce(&loc[0], &fs.max, 1, MPI_DOUBLE, MPI_MAX, 0, world);
  MPI_Reduce(&loc[1], &fs.min, 1, MPI_DOUBLE, MPI_MIN, 0, world);
  MPI_Reduce(&loc[2], &fs.avg, 1, MPI_DOUBLE, MPI_SUM, 0, world);
  const double natoms = static_cast<double>(atom->natoms);
  fs.avg /= natoms;

  // Global virial of each model (sum over ranks) per atom.
  std::vector<double> send(9 * m), recv(9 * m, 0.0);
  for (size_t k = 0; k < m; ++k) {
    for (int c = 0; c < 9; ++c) send[9 * k + c] = devi_evals_[k].virial[c] / natoms;
  }
  MPI_Reduce(send.data(), recv.data(), static_cast<int>(9 * m), MPI_DOUBLE, MPI_SUM, 0, world);

  // Per-atom deviations ordered by atom ID (on rank 0).
  std::vector<double> atomic_devi;
  if (out_atomic_) atomic_devi = gather_by_tag(devi_f, out_f);

  if (comm->me == 0) {
    std::vector<std::vector<double>> virials(m, std::vector<double>(9));
    for (size_t k = 0; k < m; ++k) {
      for (int c = 0; c < 9; ++c) virials[k][c] = recv[9 * k + c];
    }
    DeviStats vs = virial_deviation(virials, rel_v_);
    vs.max *= out_v;
    vs.min *= out_v;
    vs.avg *= out_v;
    fs.max *= out_f;
    fs.min *= out_f;
    fs.avg *= out_f;
    std::fprintf(devi_fp_, "%s\n", devi_line(update->ntimestep, vs, fs, atomic_devi).c_str());
    std::fflush(devi_fp_);
  }
}

std::vector<double> PairDeepFT::gather_by_tag(const std::vector<double>& local, double scale) {
  int nlocal = atom->nlocal;
  const int nprocs = comm->nprocs;
  std::vector<int> counts(nprocs), displs(nprocs, 0);
  MPI_Gather(&nlocal, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, world);
  for (int p = 1; p < nprocs; ++p) displs[p] = displs[p - 1] + counts[p - 1];
  const int ntot = comm->me == 0 ? displs[nprocs - 1] + counts[nprocs - 1] : 0;
  std::vector<tagint> tags(atom->tag, atom->tag + nlocal), all_tags(ntot);
  std::vector<double> values(local.begin(), local.begin() + nlocal), all_values(ntot);
  MPI_Gatherv(tags.data(), nlocal, MPI_LMP_TAGINT, all_tags.data(), counts.data(), displs.data(),
              MPI_LMP_TAGINT, 0, world);
  MPI_Gatherv(values.data(), nlocal, MPI_DOUBLE, all_values.data(), counts.data(), displs.data(),
              MPI_DOUBLE, 0, world);
  std::vector<double> out;
  if (comm->me != 0) return out;
  out.assign(ntot, 0.0);
  for (int i = 0; i < ntot; ++i) {
    if (all_tags[i] < 1 || all_tags[i] > ntot) {
      error->one(FLERR, "pair_style deepft atomic: atom IDs must be 1..{} (found {}); use "
                        "reset_atoms id", ntot, all_tags[i]);
    }
    out[all_tags[i] - 1] = all_values[i] * scale;
  }
  return out;
}

int PairDeepFT::pack_reverse_comm(int n, int first, double* buf) {
  int m = 0;
  for (int i = first; i < first + n; ++i) {
    for (const Eval& e : devi_evals_) {
      for (int d = 0; d < 3; ++d) buf[m++] = e.force[3 * i + d];
    }
  }
  return m;
}

void PairDeepFT::unpack_reverse_comm(int n, int* list, double* buf) {
  int m = 0;
  for (int i = 0; i < n; ++i) {
    const int j = list[i];
    for (Eval& e : devi_evals_) {
      for (int d = 0; d < 3; ++d) e.force[3 * j + d] += buf[m++];
    }
  }
}

}  // namespace deepft_lmp
