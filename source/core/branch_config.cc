#include "branch_config.h"

#include <cmath>
#include <numeric>
#include <stdexcept>

#include "activation.h"
#include "errors.h"

namespace deepft {

namespace {

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "'" : ", '") + n + "'";
  return "[" + s + "]";
}

std::vector<std::string> read_type_map(const HeaderField& tm) {
  std::vector<std::string> names = tm.string_list();
  if (names.empty() || names.size() > static_cast<size_t>(kMaxTypes)) {
    tm.fail("needs 1 to " + std::to_string(kMaxTypes) + " atom types, got " +
            std::to_string(names.size()));
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) tm.at(i).fail("empty element name");
    for (size_t k = 0; k < i; ++k) {
      if (names[k] == names[i]) tm.at(i).fail("'" + names[i] + "' repeats");
    }
  }
  return names;
}

void check_activation(const HeaderField& act) {
  try {
    parse_activation(act.as_string());
  } catch (const std::invalid_argument& e) {
    act.fail(e.what());
  }
}

/// The DPA-1 keys of descriptor `d` (type "dpa1"); sel must be [nsel].
Dpa1Config read_dpa1(const HeaderField& d, const BranchConfig& c) {
  if (c.sel.size() != 1) {
    d.at("sel").fail("DPA-1 has one neighbor block for all types: [nsel], got " +
                     std::to_string(c.sel.size()) + " entries");
  }
  Dpa1Config p;
  p.tebd_dim = d.at("tebd_dim").as_int(1, kMaxWidth);
  p.strip = d.at("tebd_input_mode").as_choice({"concat", "strip"}) == "strip";
  p.use_tebd_bias = d.at("use_tebd_bias").as_bool();
  p.attn = d.at("attn").as_int(1, kMaxWidth);
  p.attn_layer = d.at("attn_layer").as_int(0, kMaxAttnLayers);
  p.attn_dotr = d.at("attn_dotr").as_bool();
  p.normalize = d.at("normalize").as_bool();
  const HeaderField temperature = d.at("temperature");
  if (temperature.json().is_null()) {
    const double factor = d.at("scaling_factor").as_double(0, 1e6);
    if (!(factor > 0)) d.at("scaling_factor").fail("must be > 0");
    p.attn_scale = std::pow(static_cast<double>(p.attn) * factor, -0.5);
  } else {
    p.attn_scale = temperature.as_double(0, 1e6);
    if (!(p.attn_scale > 0)) temperature.fail("must be > 0 (or null)");
  }
  p.smooth = d.at("smooth_type_embedding").as_bool();
  p.ln_eps = d.at("ln_eps").as_double(0, 1);
  if (!(p.ln_eps > 0)) d.at("ln_eps").fail("must be > 0");
  p.concat_output_tebd = d.at("concat_output_tebd").as_bool();
  // tables precomputed per (center type, neighbor type incl. padding): strip gate, 4 x M pad
  const int64_t ntypes = static_cast<int64_t>(c.type_map.size());
  if ((ntypes + 1) * (ntypes + 1) * std::max<int64_t>(c.neuron.back(), 4) > kMaxPadTerm) {
    d.at("neuron").fail("too wide for " + std::to_string(ntypes) + " types (the per-type-pair "
                        "tables would exceed " + std::to_string(kMaxPadTerm) + " values)");
  }
  return p;
}

/// The `compression` entry of a branch: se_e2_a (one table per embedding net) or DPA-1 with
/// attn_layer 0 and tebd_input_mode "strip" (one table: the geometric net g(ŝ)).
CompressionConfig read_compression(const HeaderField& z, const BranchConfig& c) {
  if (c.mixed_types() && c.dpa1->attn_layer != 0) {
    z.fail("a DPA-1 branch with attention layers (attn_layer " +
           std::to_string(c.dpa1->attn_layer) + ") cannot be compressed");
  }
  if (c.mixed_types() && !c.dpa1->strip) {
    z.fail("a DPA-1 branch with tebd_input_mode 'concat' cannot be compressed (needs 'strip')");
  }
  z.at("type").as_choice({"tabulated_quintic"});
  CompressionConfig p;
  p.step = z.at("step").as_double(0, 1e3);
  if (!(p.step > 0)) z.at("step").fail("must be > 0");
  p.check_frequency = z.at("check_frequency").as_int(-1, int64_t(1) << 40);
  if (p.check_frequency == 0) z.at("check_frequency").fail("must be -1 or a step count >= 1");
  p.table_prefix = z.at("table_prefix").as_string();
  const HeaderField nets = z.at("nets");
  const int64_t ntypes = static_cast<int64_t>(c.type_map.size());
  const size_t want = c.mixed_types() ? 1
                                      : static_cast<size_t>(c.type_one_side ? ntypes
                                                                            : ntypes * ntypes);
  if (nets.size() != want) {
    nets.fail(std::to_string(nets.size()) + " tables for " + std::to_string(want) +
              " embedding nets");
  }
  for (size_t k = 0; k < want; ++k) {
    const HeaderField n = nets.at(k);
    CompressionConfig::Net net;
    net.lower = n.at("lower").as_double(-1e6, 1e6);
    net.n_fine = n.at("n_fine").as_int(1, kMaxTableIntervals);
    net.n_coarse = n.at("n_coarse").as_int(1, kMaxTableIntervals - net.n_fine);
    p.nets.push_back(net);
  }
  return p;
}

}  // namespace

int64_t BranchConfig::nnei() const { return std::accumulate(sel.begin(), sel.end(), int64_t(0)); }

BranchConfig read_branch_config(const ModelFile& file, const std::string& branch) {
  BranchConfig c;
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
  c.type_map = read_type_map(b.has("type_map") ? b.at("type_map") : file.field("type_map"));
  const HeaderField d = b.at("descriptor");
  const bool dpa1 = d.at("type").as_choice({"se_e2_a", "se_a", "dpa1"}) == "dpa1";
  const HeaderField sel = d.at("sel");
  c.sel = sel.int_list(1, kMaxSel);
  if (!dpa1 && c.sel.size() != c.type_map.size()) {
    sel.fail(std::to_string(c.sel.size()) + " entries for " + std::to_string(c.type_map.size()) +
             " types");
  }
  if (c.nnei() > kMaxSel) sel.fail("sum(sel) exceeds " + std::to_string(kMaxSel));
  c.rcut = d.at("rcut").as_double(0, kMaxRcut);
  c.rcut_smth = d.at("rcut_smth").as_double(0, c.rcut);
  if (!(c.rcut > c.rcut_smth)) d.at("rcut").fail("needs 0 <= rcut_smth < rcut");
  c.neuron = d.at("neuron").int_list(1, kMaxWidth);
  if (c.neuron.empty()) d.at("neuron").fail("the embedding net has no layer");
  c.axis_neuron = d.at("axis_neuron").as_int(1, c.neuron.back());
  c.type_one_side = d.at("type_one_side").as_bool();
  c.descriptor_activation = d.at("activation_function").as_string();
  if (dpa1) c.dpa1 = read_dpa1(d, c);
  if (b.has("compression")) c.compression = read_compression(b.at("compression"), c);
  const HeaderField f = b.at("fitting_net");
  if (f.has("type")) f.at("type").as_choice({"ener"});
  c.fitting_neuron = f.at("neuron").int_list(1, kMaxWidth);
  c.fitting_activation = f.at("activation_function").as_string();
  // files written before DPA-1 existed have no mixed_types: one net per type
  c.fitting_mixed_types = f.has("mixed_types") && f.at("mixed_types").as_bool();
  if (dpa1 && !c.fitting_mixed_types) {
    f.at("mixed_types").fail("a DPA-1 branch has one fitting net for all types (true)");
  }
  check_activation(d.at("activation_function"));
  check_activation(f.at("activation_function"));
  const bool f32 = d.at("precision").as_choice({"float64", "float32"}) == "float32" &&
                   f.at("precision").as_choice({"float64", "float32"}) == "float32";
  c.precision = f32 ? "float32" : "float64";
  c.descriptor_prefix = b.at("descriptor_prefix").as_string();
  const HeaderField fp = b.at("fitting_prefixes");
  c.fitting_prefixes = fp.string_list();
  if (c.fitting_prefixes.empty()) fp.fail("the branch has no fitting net");
  return c;
}

}  // namespace deepft
