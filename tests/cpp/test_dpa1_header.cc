// DPA-1 branches of model.dft: every header field is validated (type, range, consistency with
// the tensors) with the file and the field named, and the evaluator refuses a neighbor table
// without neighbor types. The model is DEEPFT_TEST_DPA1_MODEL of test_cpp.py (strip, smooth,
// two attention layers, two-sided, O/H, sel [40], neuron [4, 8], tebd_dim 4, attn 8).
#include <cmath>
#include <string>
#include <vector>

#include "branch_config.h"
#include "deep_pot.h"
#include "errors.h"
#include "evaluator.h"
#include "harness.h"
#include "model_bytes.h"
#include "model_file.h"

using deepft::ModelFile;
using deepft::ModelFileError;
using namespace deepft_test;

namespace {

const Bytes& dpa1() {
  static const Bytes b = read_bytes(env_path("DEEPFT_TEST_DPA1_MODEL"));
  return b;
}

/// The DPA-1 file with one header replacement, checksum re-stamped, loaded into DeepPot.
void load_edited(const std::string& from, const std::string& to) {
  ModelParts p = split(dpa1());
  p.header = replace_once(p.header, from, to);
  deepft::DeepPot pot;
  pot.load(ModelFile::parse(assemble(p), "crafted_dpa1.dft"));
}

std::string many_types(int n) {
  std::string s = "\"type_map\": [";
  for (int i = 0; i < n; ++i) s += (i ? ", \"X" : "\"X") + std::to_string(i) + "\"";
  return s + "], \"descriptor\"";
}

}  // namespace

TEST(dpa1_file_loads_as_a_mixed_type_model) {
  deepft::DeepPot pot(env_path("DEEPFT_TEST_DPA1_MODEL"));
  CHECK(pot.mixed_types() && pot.descriptor_type() == "dpa1");
  CHECK(pot.sel() == (std::vector<int64_t>{40}));
  const ModelFile f = ModelFile::parse(dpa1(), "dpa1.dft");
  const deepft::BranchConfig c = deepft::read_branch_config(f, "");
  CHECK(c.dpa1.has_value() && c.fitting_mixed_types && c.dpa1->attn_layer == 2);
  CHECK_NEAR(c.dpa1->attn_scale, 1.0 / std::sqrt(8.0), 1e-15);  // (attn * 1.0)^-1/2
}

TEST(dpa1_header_fields_are_validated) {
  const char* type_map = R"("type_map": ["O", "H"], "descriptor")";
  const struct {
    std::string from, to;
    const char* expect;
  } cases[] = {
      {R"("type": "dpa1")", R"("type": "dpa2")", "descriptor.type': 'dpa2' is not one of"},
      {R"("sel": [40])", R"("sel": [40, 40])",
       "descriptor.sel': DPA-1 has one neighbor block for all types: [nsel], got 2 entries"},
      {R"("sel": [40])", R"("sel": [16385])", "descriptor.sel[0]': 16385 is outside"},
      {R"("sel": [40])", R"("sel": [0])", "descriptor.sel[0]': 0 is outside"},
      {R"("tebd_dim": 4)", R"("tebd_dim": 0)", "descriptor.tebd_dim': 0 is outside [1, 4096]"},
      {R"("tebd_dim": 4)", R"("tebd_dim": 5)",
       "'descriptor.type_embedding.layers.0.matrix' has shape [2, 4], expected [2, 5]"},
      {R"("tebd_input_mode": "strip")", R"("tebd_input_mode": "mix")",
       "descriptor.tebd_input_mode': 'mix' is not one of 'concat', 'strip'"},
      {R"("tebd_input_mode": "strip")", R"("tebd_input_mode": "concat")",
       "'descriptor.embedding.layers.0.matrix' has shape [1, 4], expected [9, 4]"},
      {R"("use_tebd_bias": false)", R"("use_tebd_bias": true)",
       "tensor 'descriptor.type_embedding.layers.0.bias' is missing"},
      {R"("use_tebd_bias": false)", R"("use_tebd_bias": 0)", "expected bool, got number"},
      {R"("attn": 8)", R"("attn": 16)",
       "'descriptor.attention.0.in_proj.matrix' has shape [8, 24], expected [8, 48]"},
      {R"("attn": 8)", R"("attn": 4097)", "descriptor.attn': 4097 is outside [1, 4096]"},
      {R"("attn_layer": 2)", R"("attn_layer": 3)",
       "tensor 'descriptor.attention.2.in_proj.matrix' is missing"},
      {R"("attn_layer": 2)", R"("attn_layer": 1)",
       "'descriptor.attention.1.in_proj.matrix' exists but the header's attn_layer is 1"},
      {R"("attn_layer": 2)", R"("attn_layer": 65)", "attn_layer': 65 is outside [0, 64]"},
      {R"("attn_layer": 2)", R"("attn_layer": -1)", "attn_layer': -1 is outside [0, 64]"},
      {R"("attn_layer": 2)", R"("attn_layer": 9223372036854775807)", "is outside [0, 64]"},
      {R"("attn_dotr": true, )", "", "descriptor': missing key 'attn_dotr'"},
      {R"("normalize": true)", R"("normalize": null)", "normalize': expected bool, got null"},
      {R"("temperature": null)", R"("temperature": -1)",
       "descriptor.temperature': -1 is outside [0, 1000000]"},
      {R"("temperature": null)", R"("temperature": 0)",
       "descriptor.temperature': must be > 0 (or null)"},
      {R"("temperature": null)", R"("temperature": "hot")", "expected number, got string"},
      {R"("scaling_factor": 1.0)", R"("scaling_factor": 0)",
       "descriptor.scaling_factor': must be > 0"},
      {R"("scaling_factor": 1.0)", R"("scaling_factor": 1e308)", "is outside [0, 1000000]"},
      {R"("ln_eps": 1e-05)", R"("ln_eps": 0)", "descriptor.ln_eps': must be > 0"},
      {R"("ln_eps": 1e-05)", R"("ln_eps": 2)", "descriptor.ln_eps': 2 is outside [0, 1]"},
      {R"("smooth_type_embedding": true)", R"("smooth_type_embedding": "yes")",
       "smooth_type_embedding': expected bool, got string"},
      {R"("concat_output_tebd": true)", R"("concat_output_tebd": false)",
       "'fitting.nets.0.layers.0.matrix' has shape [36, 32], expected [32, 32]"},
      {R"("axis_neuron": 4)", R"("axis_neuron": 9)", "axis_neuron': 9 is outside [1, 8]"},
      {R"("neuron": [4, 8], "axis_neuron")", R"("neuron": [4, 16], "axis_neuron")",
       "'descriptor.embedding.layers.1.matrix' has shape [4, 8], expected [4, 16]"},
      {R"("mixed_types": true)", R"("mixed_types": false)",
       "fitting_net.mixed_types': a DPA-1 branch has one fitting net for all types (true)"},
      {R"(, "mixed_types": true)", "", "fitting_net': missing key 'mixed_types'"},
      {R"("descriptor_prefix": "descriptor.")", R"("descriptor_prefix": "fitting.")",
       "tensor 'fitting.davg' is missing"},
      // the per-type-pair tables (strip gate, padding terms) of 200 types x width 2048
      {type_map, many_types(200), "descriptor.neuron': too wide for 200 types"},
  };
  for (const auto& c : cases) {
    std::string edit = c.from;
    if (edit == type_map) {  // the width must change together with the type map
      ModelParts p = split(dpa1());
      p.header = replace_once(p.header, c.from, c.to);
      p.header = replace_once(p.header, R"("neuron": [4, 8], "axis)",
                              R"("neuron": [4, 2048], "axis)");
      deepft::DeepPot pot;
      CHECK_THROWS(pot.load(ModelFile::parse(assemble(p), "crafted_dpa1.dft")), ModelFileError,
                   c.expect);
      continue;
    }
    context() = c.from + " -> " + c.to;
    CHECK_THROWS(load_edited(c.from, c.to), ModelFileError, c.expect);
    CHECK_THROWS(load_edited(c.from, c.to), ModelFileError, "crafted_dpa1.dft: ");
  }
}

TEST(dpa1_evaluator_needs_the_neighbor_types) {
  const ModelFile f = ModelFile::parse(dpa1(), "dpa1.dft");
  const auto ev = deepft::make_evaluator(f, deepft::read_branch_config(f, ""));
  std::vector<int64_t> nlist(40, -1);
  nlist[0] = 1;
  std::vector<double> rij(40 * 3, 0.0), energy(1), grad(40 * 3);
  rij[0] = 1.0;
  const int32_t ctype[1] = {0};
  deepft::PairInput in{1, 40, nlist.data(), rij.data(), ctype, nullptr};
  CHECK_THROWS(ev->evaluate(in, {energy.data(), grad.data()}), deepft::InputError,
               "needs the type of every neighbor");
  const int32_t types[2] = {0, 5};
  in.atom_type = types;
  CHECK_THROWS(ev->evaluate(in, {energy.data(), grad.data()}), deepft::InputError,
               "neighbor 1 has type 5, outside [0, 2)");
}
