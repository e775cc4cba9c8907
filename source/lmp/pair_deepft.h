// pair_style deepft: a deepft frozen model (model.dft) as a LAMMPS many-body pair style.
//
//   pair_style deepft model.dft [model2.dft ...] [branch NAME] [out_freq N] [out_file FILE]
//                     [atomic] [relative EPS] [relative_v EPS]
//   pair_coeff * * O H          (one model element per LAMMPS atom type, NULL to exclude)
//
// The first model drives the dynamics. With several models, every out_freq steps all of them
// are evaluated on the first model's trajectory and the model deviation is written to FILE in
// DeePMD-kit's layout (see model_devi.h). Needs `newton_pair on` and builds on a full
// neighbor list over local + ghost atoms, so it runs under MPI domain decomposition.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "pair.h"

#include "deep_pot.h"

namespace deepft_lmp {

class PairDeepFT : public LAMMPS_NS::Pair {
 public:
  explicit PairDeepFT(LAMMPS_NS::LAMMPS* lmp);
  ~PairDeepFT() override;

  void compute(int eflag, int vflag) override;
  void settings(int narg, char** arg) override;
  void coeff(int narg, char** arg) override;
  void init_style() override;
  double init_one(int i, int j) override;
  int pack_reverse_comm(int n, int first, double* buf) override;
  void unpack_reverse_comm(int n, int* list, double* buf) override;
  /// End of a run: the out-of-table totals of compressed models with a check frequency.
  void finish() override;

 private:
  // One evaluation of one model over local + ghost atoms (LAMMPS units already converted
  // to Å/eV in coord; results in eV, eV/Å, eV).
  struct Eval {
    double energy = 0;
    std::vector<double> force;        // [nall, 3]
    std::vector<double> virial;       // [9] row-major
    std::vector<double> atom_energy;  // [nall] (zero on ghosts), only when requested
    std::vector<double> atom_virial;  // [nall, 9], only when requested
  };

  void allocate();
  void parse_keywords(int narg, char** arg);
  void load_models(const std::vector<std::string>& paths);
  // error->all when every rank has a message, error->one on the ranks that have one.
  void fail_collectively(const std::string& msg);
  void eval_model(size_t k, const std::vector<double>& coord, const std::vector<int>& types,
                  bool atomic, Eval& out);
  const deepft::NeighborListView& list_view();
  void accumulate(const Eval& e);
  void write_model_devi();
  void warn_sel_overflow();
  /// Logs (rank 0) each compressed model's neighbor inputs outside its table since the last
  /// report (`what` names the step or the run), summed over MPI ranks; a collective call.
  void report_table_counts(const std::string& what, bool since_last);
  // Values of the local atoms gathered on rank 0 in atom-ID order (1..natoms), times scale.
  std::vector<double> gather_by_tag(const std::vector<double>& local, double scale);
  void open_devi_file();

  std::vector<std::string> model_paths_;
  std::vector<std::unique_ptr<deepft::DeepPot>> models_;
  std::vector<std::vector<int>> type_idx_;  // [model][lammps type - 1] -> model type or -1
  std::string branch_;
  double cutoff_ = 0;       // LAMMPS distance units
  double dist_unit_ = 1.0;  // LAMMPS distance per Å
  double ener_unit_ = 1.0;  // LAMMPS energy per eV

  // model deviation
  int out_freq_ = 100;
  std::string out_file_ = "model_devi.out";
  bool out_atomic_ = false;
  double rel_f_ = -1, rel_v_ = -1;  // < 0: absolute deviations
  FILE* devi_fp_ = nullptr;
  long long last_devi_step_ = -1;
  bool sel_warned_ = false;
  std::vector<deepft::TableCounts> table_reported_;  // per model: counts at the last report
  std::vector<deepft::TableCounts> table_run_start_;  // per model: counts when the run began
  LAMMPS_NS::bigint last_table_step_ = -1;
  int64_t check_freq_ = -1;  // smallest check_frequency of the compressed models (-1: none)
  std::vector<Eval> devi_evals_;  // per model at output steps (ghost forces summed to owners)

  deepft::DeepPotOutput result_;  // reused across calls
  deepft::NeighborListView view_;
  std::vector<int> masked_;               // neighbor indices without special-bond bits
  std::vector<const int*> masked_first_;  // [nlocal] rows into masked_
};

}  // namespace deepft_lmp
