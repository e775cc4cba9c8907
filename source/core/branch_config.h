// Hyper-parameters of one branch of a frozen model (internal header of the inference core),
// read from the model header and validated field by field: every problem is a ModelFileError
// "<file>: header field '<name>': <what>".
//
// A branch is a descriptor (se_e2_a, or DPA-1: type embedding + attention over one mixed-type
// neighbor list) and the energy fitting nets summed over `fitting_prefixes`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model_file.h"

namespace deepft {

// Sanity limits on header fields of (untrusted) model files, far above any real model; they
// keep a crafted header from requesting absurd allocations.
constexpr int64_t kMaxTypes = 256;      ///< atom types of a branch
constexpr int64_t kMaxSel = 16384;      ///< each sel entry and sum(sel)
constexpr double kMaxRcut = 100.0;      ///< Å
constexpr int64_t kMaxWidth = 4096;     ///< width of a network layer (and tebd_dim, attn)
constexpr int64_t kMaxAttnLayers = 64;  ///< DPA-1 attention layers
constexpr int64_t kMaxPadTerm = int64_t(1) << 26;  ///< values of a per-type-pair table
constexpr int64_t kMaxTableIntervals = int64_t(1) << 24;  ///< intervals of one tabulated net

/// The DPA-1 part of a descriptor (deepft/model/descriptor/dpa1.py has the math).
struct Dpa1Config {
  int64_t tebd_dim = 0;        ///< width of the type embedding τ
  bool strip = false;          ///< tebd_input_mode "strip" (else "concat")
  bool use_tebd_bias = false;  ///< the type embedding layer has a bias
  int64_t attn = 0;            ///< width of q, k, v
  int64_t attn_layer = 0;      ///< number of attention layers (0: none)
  bool attn_dotr = true;       ///< attention weights gated by r̂_i · r̂_j
  bool normalize = true;       ///< q, k, v rows scaled to unit length
  double attn_scale = 1;       ///< factor of q: temperature, or (attn · scaling_factor)^-1/2
  bool smooth = true;          ///< smooth_type_embedding
  double ln_eps = 1e-5;        ///< layer-norm epsilon
  bool concat_output_tebd = true;  ///< τ of the center appended to the descriptor
};

/// The tabulated embedding of a compressed se_e2_a or DPA-1 strip branch (`deepft compress`;
/// deepft/compress/table.py has the grid): per net K, intervals of width `step` from
/// lower_K (n_fine of them), then of width 10 step (n_coarse); coefficients in tensor
/// `<table_prefix>table.K` [n_fine + n_coarse, 6, M].
struct CompressionConfig {
  struct Net {
    double lower = 0;  ///< normalized input at the first knot
    int64_t n_fine = 0, n_coarse = 0;
  };
  double step = 0;               ///< fine interval width (normalized input)
  int64_t check_frequency = -1;  ///< MD steps between range reports (-1: none)
  std::string table_prefix;
  std::vector<Net> nets;         ///< one per embedding net, in net order
};

/// Hyper-parameters of one branch. se_e2_a: sel has one entry per type; DPA-1 (dpa1 set):
/// sel = [nsel], one block of slots over all neighbor types (a mixed-type neighbor list).
struct BranchConfig {
  std::string name;
  std::vector<std::string> type_map;
  std::vector<int64_t> sel;             ///< slots per neighbor type; [nsel] with dpa1
  std::vector<int64_t> neuron;          ///< embedding layer widths
  int64_t axis_neuron = 0;              ///< in [1, neuron[-1]]
  double rcut = 0;                      ///< Å
  double rcut_smth = 0;                 ///< Å
  bool type_one_side = true;
  std::string descriptor_activation = "tanh";
  std::optional<Dpa1Config> dpa1;       ///< set for a DPA-1 descriptor
  std::optional<CompressionConfig> compression;  ///< set for a compressed branch
  std::vector<int64_t> fitting_neuron;  ///< hidden widths of the fitting nets
  std::string fitting_activation = "tanh";
  bool fitting_mixed_types = false;     ///< one fitting net (nets.0) for every atom type
  std::string precision = "float64";    ///< computation precision: float32 only when both nets are
  std::string descriptor_prefix;
  std::vector<std::string> fitting_prefixes;

  /// One neighbor list over all types (DPA-1): neighbors are not sorted by type.
  bool mixed_types() const { return dpa1.has_value(); }
  int64_t nnei() const;  ///< sum(sel): slots per center atom
};

/// Reads branch `branch` (empty: the default branch) of the header; throws ModelFileError.
BranchConfig read_branch_config(const ModelFile& file, const std::string& branch);

}  // namespace deepft
