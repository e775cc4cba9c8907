// deepft native inference: evaluate a frozen model (model.dft) without Python or libtorch.
//
//   deepft::DeepPot pot("model.dft");               // default branch
//   deepft::DeepPot water("multi.dft", "water");    // one branch of a multitask model
//   deepft::DeepPotOutput out;
//   pot.compute(out, coord, nframes, natoms, atype, box, /*atomic=*/false);
//
// Units: coordinates and box in Å, energies in eV, forces in eV/Å, virials in eV.
// Conventions (DeePMD-kit's):
//   * force = -dE/dx.
//   * virial[a * 3 + b] = -sum_pairs (dE/dr_ij)[a] (r_ij)[b], r_ij = x_j - x_i; equal to
//     -dE/d(strain) under a homogeneous deformation of positions and box. The ASE stress is
//     -virial / volume.
//   * atom_virial: each pair term goes to the neighbor atom j; the sum over atoms is virial.
// Arrays are dense, C order (row-major), double precision whatever the model precision (a
// float32 model computes in float32 and returns doubles). All functions throw
// deepft::ModelFileError (load) or deepft::InputError (bad arguments), both from errors.h;
// otherwise only std::bad_alloc, or std::runtime_error for an internal kernel failure.
// compute() is const and thread safe; it uses OpenMP threads over atoms (set_num_threads).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "errors.h"

namespace deepft {

class ModelFile;

/// Results of one compute() call; vectors are resized by compute() (reuse the object across
/// calls to avoid allocations).
struct DeepPotOutput {
  std::vector<double> energy;       ///< [nframes] eV
  std::vector<double> force;        ///< [nframes, nout, 3] eV/Å
  std::vector<double> virial;       ///< [nframes, 9] eV, row-major 3x3
  std::vector<double> atom_energy;  ///< [nframes, nloc] eV (only when atomic, else empty)
  std::vector<double> atom_virial;  ///< [nframes, nout, 9] eV (only when atomic, else empty)
  /// Largest number of type-t neighbors any atom had within the cutoff, per type t. When
  /// max_neighbors[t] > sel[t] the farthest neighbors were dropped (as in DeePMD-kit). A
  /// mixed-type model (DPA-1) has one entry: neighbors of any type, against sel[0] = nsel.
  std::vector<int64_t> max_neighbors;  ///< [ntypes], or [1] for mixed types
};
// nout = natoms for the coordinate form; for the neighbor-list form nout = nall (ghost atoms
// keep their own rows) or nloc when a ghost -> owner mapping is passed.

/// Neighbor inputs of a compressed model (`deepft compress`) outside its table, counted over
/// every compute() since load (DeePMD-kit's check of the tabulated range).
struct TableCounts {
  int64_t neighbors = 0;     ///< tabulated neighbor inputs evaluated
  int64_t beyond_data = 0;   ///< above the fine table: the training range (closer than the
                             ///< training data's shortest pair distance), rounded up
  int64_t beyond_table = 0;  ///< beyond the table's end: the embedding held at its end value
};

/// A full neighbor list over local + ghost atoms, as LAMMPS builds it for a pair style with a
/// full request (`neighbor->add_request(this, NeighConst::REQ_FULL)`): pass `list->inum`,
/// `list->ilist`, `list->numneigh`, `list->firstneigh` after clearing the special-bond bits
/// (j & NEIGHMASK). Local atoms are 0 .. nloc-1, ghosts nloc .. nall-1.
struct NeighborListView {
  int64_t inum = 0;                         ///< rows of ilist (normally nloc)
  const int* ilist = nullptr;               ///< [inum] local atom of each row (nullptr: 0..inum-1)
  const int* numneigh = nullptr;            ///< [nloc] number of neighbors of local atom i
  const int* const* firstneigh = nullptr;   ///< [nloc] neighbor indices of atom i, in [0, nall)
};

class DeepPot {
 public:
  DeepPot();
  /// Same as load(path, branch).
  explicit DeepPot(const std::string& path, const std::string& branch = "");
  ~DeepPot();
  DeepPot(DeepPot&&) noexcept;
  DeepPot& operator=(DeepPot&&) noexcept;

  /// Reads model.dft and prepares branch `branch` ("" = the file's default branch).
  /// Throws ModelFileError (missing/corrupt/unsupported file, unknown branch; the message
  /// lists the branches).
  void load(const std::string& path, const std::string& branch = "");
  /// Same from a model file already read (ModelFile::read / ModelFile::parse, model_file.h).
  void load(const ModelFile& file, const std::string& branch = "");
  /// Non-fatal findings of the last load (a version-1 file without checksums); callers show
  /// them to the user (Python: warnings.warn, LAMMPS: error->warning).
  const std::vector<std::string>& load_warnings() const;

  bool loaded() const noexcept;
  /// Element name of each atom type of the loaded branch; atom types index this list.
  const std::vector<std::string>& type_map() const;
  int ntypes() const;
  /// Cutoff radius rcut in Å (neighbors farther than this do not interact).
  double cutoff() const;
  /// The loaded branch and all branches of the file.
  const std::string& branch() const;
  const std::vector<std::string>& branches() const;
  /// "float64" or "float32": the precision the model computes in.
  const std::string& precision() const;
  /// sel: slots per neighbor type, [ntypes]; [nsel] for a mixed-type model (DPA-1).
  const std::vector<int64_t>& sel() const;
  /// Whether the model reads one neighbor list over all types (DPA-1): then sel() and
  /// DeepPotOutput::max_neighbors have one entry, which counts neighbors of every type.
  bool mixed_types() const;
  /// "se_e2_a" or "dpa1".
  const std::string& descriptor_type() const;
  /// Whether the branch is compressed (tabulated embedding nets, `deepft compress`).
  bool compressed() const;
  /// Out-of-table neighbor counts since load (zeros for an uncompressed model).
  TableCounts table_counts() const;
  /// MD steps between reports of table_counts() the model asks for (-1: none).
  int64_t check_frequency() const;

  /// (a) Coordinates and box: builds its own neighbor list (periodic images included).
  ///   coord: [nframes, natoms, 3] Å
  ///   atype: [natoms] type index in [0, ntypes()) (the same for every frame); -1 marks a
  ///          virtual atom that neither has nor is a neighbor (zero energy and force)
  ///   box:   [nframes, 9] lattice vectors as rows (Å), fully periodic; nullptr = no PBC
  /// Fills energy [nframes], force [nframes, natoms, 3], virial [nframes, 9] and, when
  /// `atomic`, atom_energy [nframes, natoms] and atom_virial [nframes, natoms, 9].
  void compute(DeepPotOutput& out, const double* coord, int64_t nframes, int64_t natoms,
               const int32_t* atype, const double* box, bool atomic = false) const;

  /// (b) Local + ghost atoms with an external full neighbor list (LAMMPS), one frame.
  ///   coord:   [nall, 3] Å, local atoms first
  ///   atype:   [nall] type indices of local and ghost atoms
  ///   list:    full neighbor list of the local atoms (see NeighborListView)
  ///   mapping: nullptr, or [nall] the local atom each atom is an image of (mapping[i] = i
  ///            for i < nloc). Without mapping, force and atom_virial have nall rows and the
  ///            ghost rows must be summed onto their owners by the caller (LAMMPS: reverse
  ///            communication with newton_pair on). With mapping, ghost rows are folded onto
  ///            mapping[j] and force / atom_virial have nloc rows.
  /// energy [1] and virial [1, 9] are complete either way (sums over local atoms and all
  /// pairs); atom_energy is [1, nloc].
  void compute(DeepPotOutput& out, const double* coord, const int32_t* atype, int64_t nloc,
               int64_t nall, const NeighborListView& list, const int64_t* mapping = nullptr,
               bool atomic = false) const;

  /// Number of OpenMP threads the core uses (all compute() calls of the process).
  static void set_num_threads(int n);
  static int num_threads();
  /// Which dense-math backend the build uses ("OpenBLAS ..." or "plain loops ...").
  static std::string blas_backend();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  const Impl& impl() const;
};

}  // namespace deepft
