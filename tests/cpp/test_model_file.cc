// The model.dft reader: checksum, a good file, and each class of bad file (truncated, corrupt,
// overflowing sizes and offsets, inconsistent or ill-typed header fields). Every bad file must
// raise ModelFileError naming the file and the field, never crash.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "checksum.h"
#include "deep_pot.h"
#include "errors.h"
#include "harness.h"
#include "model_bytes.h"
#include "model_file.h"

using deepft::ModelFile;
using deepft::ModelFileError;
using namespace deepft_test;

namespace {

const std::string& good_path() {
  static const std::string p = env_path("DEEPFT_TEST_MODEL");
  return p;
}

const Bytes& good() {
  static const Bytes b = read_bytes(good_path());
  return b;
}

ModelFile parse(const Bytes& b) { return ModelFile::parse(b, "crafted.dft"); }

/// The good file with one header replacement, checksum re-stamped.
Bytes with_header_edit(const std::string& from, const std::string& to) {
  ModelParts p = split(good());
  p.header = replace_once(p.header, from, to);
  return assemble(p);
}

/// Loads the crafted file into DeepPot (reader + branch validation + evaluator).
void load(const Bytes& b) {
  deepft::DeepPot pot;
  pot.load(parse(b));
}

/// Writes `b` to `name` in a fresh directory under the temporary directory; returns the path.
std::string write_temp(const Bytes& b, const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("deepft_test_model_file_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
  return path;
}

/// The good file with one more float64 tensor 'extra.big' [count] = 0.5 * index, appended to
/// the blob: large enough to be read from the file in several pieces.
Bytes with_big_tensor(int64_t count) {
  ModelParts p = split(good());
  const int64_t old_nbytes = parse(good()).field("blob_nbytes").as_int(0, std::numeric_limits<int64_t>::max());
  const int64_t offset = (old_nbytes + 63) / 64 * 64;
  Bytes t(static_cast<size_t>(count) * 8);
  for (int64_t i = 0; i < count; ++i) {
    const double v = 0.5 * static_cast<double>(i);
    std::memcpy(t.data() + 8 * i, &v, 8);
  }
  p.blob.resize(static_cast<size_t>(offset), 0);
  p.blob.insert(p.blob.end(), t.begin(), t.end());
  p.header = replace_once(
      p.header, "\"tensors\": {",
      "\"tensors\": {\"extra.big\": {\"dtype\": \"float64\", \"shape\": [" +
          std::to_string(count) + "], \"offset\": " + std::to_string(offset) +
          ", \"nbytes\": " + std::to_string(t.size()) +
          ", \"crc32\": " + std::to_string(deepft::crc32(t.data(), t.size())) + "}, ");
  p.header = replace_once(p.header, "\"blob_nbytes\": " + std::to_string(old_nbytes),
                          "\"blob_nbytes\": " + std::to_string(p.blob.size()));
  return assemble(p);
}

uint32_t crc32_bitwise(const unsigned char* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
  }
  return ~c;
}

}  // namespace

TEST(crc32_matches_the_standard_check_values) {
  CHECK(deepft::crc32("123456789", 9) == 0xCBF43926u);
  CHECK(deepft::crc32("", 0) == 0u);
  CHECK(deepft::crc32("a", 1) == 0xE8B7BE43u);
  std::vector<unsigned char> data(1031);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i * 7919u >> 3);
  for (size_t n : {0, 1, 3, 4, 5, 63, 64, 1031}) {
    CHECK(deepft::crc32(data.data(), n) == crc32_bitwise(data.data(), n));
  }
  const uint32_t part = deepft::crc32(data.data(), 500);
  CHECK(deepft::crc32(data.data() + 500, 531, part) == deepft::crc32(data.data(), 1031));
}

TEST(good_file_loads_with_checksums_verified) {
  const ModelFile f = ModelFile::read(good_path());
  CHECK(f.format_version() == deepft::kModelFormatVersion);
  CHECK(f.warnings().empty());
  CHECK(f.info("descriptor.davg").shape == (std::vector<int64_t>{2, 4}));
  CHECK(f.tensor<double>("descriptor.dstd", {2, 4}).size() == 8);
  deepft::DeepPot pot(good_path());
  CHECK(pot.ntypes() == 2 && pot.sel() == (std::vector<int64_t>{24, 48}));
  CHECK(pot.load_warnings().empty());
}

TEST(version_1_file_loads_with_a_warning) {
  ModelParts p = split(good());
  p.version = 1;
  p.header = replace_once(p.header, "\"format_version\": 2", "\"format_version\": 1");
  const ModelFile f = parse(assemble(p));
  CHECK(f.format_version() == 1);
  CHECK(f.warnings().size() == 1 && f.warnings()[0].find("no checksum") != std::string::npos);
  deepft::DeepPot pot;
  pot.load(f);
  CHECK(pot.load_warnings().size() == 1);
}

TEST(truncated_files_are_refused) {
  const Bytes& g = good();
  const ModelParts p = split(g);
  for (size_t cut : {size_t(0), size_t(7), size_t(8), size_t(23), size_t(24), size_t(100),
                     24 + p.header.size() - 1, 24 + p.header.size(), g.size() - p.blob.size(),
                     g.size() - 64, g.size() - 1}) {
    const Bytes b(g.begin(), g.begin() + static_cast<std::ptrdiff_t>(cut));
    bool ok = false;
    try {
      parse(b);
    } catch (const ModelFileError& e) {
      const std::string m = e.what();
      ok = m.find("crafted.dft: ") == 0 &&
           (m.find("truncated") != std::string::npos || m.find("magic") != std::string::npos ||
            m.find("checksum mismatch") != std::string::npos);
    }
    if (!ok) fail(__FILE__, __LINE__, "cut at " + std::to_string(cut) + " not refused");
  }
}

TEST(checksums_catch_corruption) {
  Bytes b = good();
  b[30] ^= 0x01;  // inside the header text
  CHECK_THROWS(parse(b), ModelFileError, "file is corrupt (checksum mismatch in the header)");
  b = good();
  b[b.size() - split(b).blob.size() + 8] ^= 0x40;  // inside the first tensor (descriptor.davg)
  CHECK_THROWS(parse(b), ModelFileError,
               "file is corrupt (checksum mismatch in tensor 'descriptor.davg')");
  b = good();
  b[12] ^= 0x80;  // the stored header checksum itself
  CHECK_THROWS(parse(b), ModelFileError, "checksum mismatch in the header");
}

TEST(header_length_that_overflows_is_refused) {
  for (uint64_t hlen : {uint64_t(1) << 40, ~uint64_t(0), ~uint64_t(0) - 23, uint64_t(1) << 63}) {
    Bytes b = good();
    std::memcpy(b.data() + 16, &hlen, 8);
    CHECK_THROWS(parse(b), ModelFileError, "does not fit");
  }
}

TEST(overflowing_tensor_sizes_and_offsets_are_refused) {
  const std::string davg = R"("shape": [2, 4], "offset": 0, "nbytes": 64)";
  const struct {
    const char* to;
    const char* expect;
  } cases[] = {
      {R"("shape": [4611686018427387904, 4], "offset": 0, "nbytes": 64)", "overflows int64"},
      {R"("shape": [3037000500, 3037000500], "offset": 0, "nbytes": 64)", "overflows int64"},
      {R"("shape": [1152921504606846976], "offset": 0, "nbytes": 0)", "byte count overflows"},
      {R"("shape": [2, 4], "offset": 9223372036854775744, "nbytes": 64)", "ends past"},
      {R"("shape": [2, 4], "offset": 0, "nbytes": 9223372036854775807)", "differs from"},
      {R"("shape": [2, 4], "offset": 0, "nbytes": 18446744073709551616)", "expected an integer"},
      {R"("shape": [-2, -4], "offset": 0, "nbytes": 64)", "tensors.descriptor.davg.shape[0]"},
      {R"("shape": [2, 4], "offset": -64, "nbytes": 64)", "-64 is outside"},
      {R"("shape": [2, 4], "offset": 1, "nbytes": 64)", "not a multiple of 64"},
      {R"("shape": [2, 4.5], "offset": 0, "nbytes": 64)", "expected an integer"},
      {R"("shape": [1, 1, 1, 1, 1, 1, 1, 1, 2, 4], "offset": 0, "nbytes": 64)", "dimensions"},
      {R"("shape": "2x4", "offset": 0, "nbytes": 64)", "expected array"},
      {R"("shape": [2, 4], "offset": 0, "nbytes": 64, "crc32": -1)", "crc32"},
  };
  for (const auto& c : cases) {
    CHECK_THROWS(parse(with_header_edit(davg, c.to)), ModelFileError, c.expect);
  }
  CHECK_THROWS(parse(with_header_edit(R"("dtype": "float64", "shape": [2, 4])",
                                      R"("dtype": "int8", "shape": [2, 4])")),
               ModelFileError, "'int8' is not one of");
  const std::string blob = "\"blob_nbytes\": " + std::to_string(split(good()).blob.size());
  CHECK_THROWS(parse(with_header_edit(blob, "\"blob_nbytes\": 9223372036854775807")),
               ModelFileError, "truncated model file");
  CHECK_THROWS(parse(with_header_edit(blob, "\"blob_nbytes\": -1")), ModelFileError,
               "blob_nbytes");
}

TEST(ill_typed_or_deep_headers_are_refused) {
  CHECK_THROWS(parse(with_header_edit("\"format_version\": 2", "\"format_version\": \"2\"")),
               ModelFileError, "header field 'format_version': expected integer, got string");
  CHECK_THROWS(parse(with_header_edit("\"config\": {}", "\"config\": " + std::string(100, '[') +
                                                        std::string(100, ']'))),
               ModelFileError, "nesting deeper than 64 levels");
  ModelParts p = split(good());
  p.header = "[1, 2]";
  CHECK_THROWS(parse(assemble(p)), ModelFileError, "not a JSON object");
  CHECK_THROWS(parse(with_header_edit("\"tensors\": {", "\"tensors\": [], \"x\": {")),
               ModelFileError, "header field 'tensors': expected object");
}

TEST(inconsistent_branch_fields_are_refused) {
  const struct {
    const char* from;
    const char* to;
    const char* expect;
  } cases[] = {
      {R"("sel": [24, 48])", R"("sel": [0, 48])", "descriptor.sel[0]': 0 is outside [1, 16384]"},
      {R"("sel": [24, 48])", R"("sel": [24])", "1 entries for 2 types"},
      {R"("sel": [24, 48])", R"("sel": [16384, 16384])", "sum(sel) exceeds"},
      {R"("sel": [24, 48])", R"("sel": [24, 9223372036854775807])", "is outside"},
      {R"("type_map": ["O", "H"], "descriptor")", R"("type_map": [], "descriptor")",
       "needs 1 to 256 atom types, got 0"},
      {R"("type_map": ["O", "H"], "descriptor")", R"("type_map": ["O", "O"], "descriptor")",
       "'O' repeats"},
      {R"("type_map": ["O", "H"], "descriptor")", R"("type_map": ["O", 7], "descriptor")",
       "type_map[1]': expected string, got number"},
      {R"("neuron": [4, 8, 16])", R"("neuron": [4, 8, 32])",
       "'descriptor.embeddings.0.layers.2.matrix' has shape [8, 16], expected [8, 32]"},
      {R"("neuron": [4, 8, 16])", R"("neuron": [4, 8])", "exists but the header's neuron list"},
      {R"("neuron": [4, 8, 16])", R"("neuron": [])", "the embedding net has no layer"},
      {R"("neuron": [16, 16], "resnet_dt")", R"("neuron": [16, 17], "resnet_dt")",
       "expected [16, 17]"},
      {R"("axis_neuron": 4)", R"("axis_neuron": 17)", "axis_neuron': 17 is outside [1, 16]"},
      {R"("axis_neuron": 4)", R"("axis_neuron": 0)", "axis_neuron': 0 is outside"},
      {R"("rcut": 4.0)", R"("rcut": -1)", "rcut': -1 is outside [0, 100]"},
      {R"("rcut": 4.0)", R"("rcut": 1e300)", "is outside"},
      {R"("rcut_smth": 0.5)", R"("rcut_smth": 5)", "rcut_smth': 5 is outside [0, 4]"},
      {R"("rcut_smth": 0.5)", R"("rcut_smth": 4.0)", "needs 0 <= rcut_smth < rcut"},
      {R"("default_branch": "Default")", R"("default_branch": "Nope")", "no branch 'Nope'"},
      {R"("default_branch": "Default")", R"("default_branch": 3)", "expected string"},
      {R"("descriptor_prefix": "descriptor.")", R"("descriptor_prefix": "nothing.")",
       "tensor 'nothing.davg' is missing"},
      {R"("fitting_prefixes": ["fitting."])", R"("fitting_prefixes": [])",
       "the branch has no fitting net"},
      {R"("fitting_prefixes": ["fitting."])", R"("fitting_prefixes": ["descriptor."])",
       "tensor 'descriptor.nets.0.layers.0.matrix' is missing"},
      {R"("activation_function": "tanh")", R"("activation_function": "swish2")",
       "descriptor.activation_function': unknown activation function 'swish2'"},
      {R"("precision": "float64")", R"("precision": "float16")", "'float16' is not one of"},
      {R"("type_one_side": true)", R"("type_one_side": 1)", "expected bool, got number"},
      {R"("type": "se_e2_a")", R"("type": "se_e3")", "'se_e3' is not one of"},
      {R"("type": "ener")", R"("type": "dipole")", "'dipole' is not one of"},
      {R"("branches": {"Default": {)", R"("branches": {}, "unused": {"x": {)", "has no branch"},
  };
  for (const auto& c : cases) {
    CHECK_THROWS(load(with_header_edit(c.from, c.to)), ModelFileError, c.expect);
  }
}

TEST(non_finite_or_unrepresentable_weights_are_refused) {
  ModelParts p = split(good());
  const double bad[] = {std::numeric_limits<double>::quiet_NaN(),
                        std::numeric_limits<double>::infinity()};
  for (double v : bad) {
    ModelParts q = p;
    q.version = 1;  // no checksum: the validator itself must refuse the value
    q.header = replace_once(q.header, "\"format_version\": 2", "\"format_version\": 1");
    std::memcpy(q.blob.data() + 8, &v, 8);  // descriptor.davg[0][1]
    CHECK_THROWS(load(assemble(q)), ModelFileError, "'descriptor.davg' holds a non-finite");
  }
}

TEST(paths_that_are_not_model_files_are_refused) {
  const std::string dir = good_path().substr(0, good_path().find_last_of('/'));
  CHECK_THROWS(ModelFile::read(dir), ModelFileError, "is a directory, not a model file");
  CHECK_THROWS(ModelFile::read(dir + "/no_such.dft"), ModelFileError, "cannot open");
  CHECK_THROWS(ModelFile::read("/dev/null"), ModelFileError, "bad magic bytes");
}

TEST(files_are_read_in_pieces_and_every_piece_is_checked) {
  // 300,000 doubles: 2.4 MB, three pieces of the reader's 1 MiB
  const Bytes big = with_big_tensor(300000);
  const std::string path = write_temp(big, "big.dft");
  const ModelFile from_file = ModelFile::read(path);
  const ModelFile in_memory = ModelFile::parse(big, "big.dft");
  for (const std::string& name : in_memory.field("tensors").keys()) {
    CHECK(from_file.tensor<double>(name) == in_memory.tensor<double>(name));
    CHECK(from_file.tensor<float>(name) == in_memory.tensor<float>(name));
  }
  const std::vector<double> values = from_file.tensor<double>("extra.big", {300000});
  bool exact = values.size() == 300000;
  for (size_t i = 0; exact && i < values.size(); ++i) exact = values[i] == 0.5 * double(i);
  CHECK(exact);

  // a flipped byte in the second piece is found when the file is opened ...
  const size_t second_piece = big.size() - 300000 * 8 + (1 << 20) + 8;
  Bytes corrupt = big;
  corrupt[second_piece] ^= 0x10;
  const std::string bad = write_temp(corrupt, "corrupt.dft");
  CHECK_THROWS(ModelFile::read(bad), ModelFileError,
               bad + ": file is corrupt (checksum mismatch in tensor 'extra.big')");
  // ... and when the file changes after it was opened, before the tensor is read
  const std::string changing = write_temp(big, "changing.dft");
  const ModelFile opened = ModelFile::read(changing);
  write_temp(corrupt, "changing.dft");
  CHECK_THROWS(opened.tensor<double>("extra.big"), ModelFileError,
               changing + ": file is corrupt (checksum mismatch in tensor 'extra.big')");
  // shortened after opening: a read error, not a crash
  const ModelFile opened_again = ModelFile::read(path);
  write_temp(Bytes(big.begin(), big.end() - 1000), "big.dft");
  CHECK_THROWS(opened_again.tensor<double>("extra.big"), ModelFileError,
               path + ": read error");
  // truncated on disk: refused when opened
  for (size_t cut : {size_t(7), size_t(23), size_t(100), big.size() - 300000 * 8,
                     big.size() - 1}) {
    const std::string cut_path = write_temp(Bytes(big.begin(), big.begin() + cut), "cut.dft");
    CHECK_THROWS(ModelFile::read(cut_path), ModelFileError, cut_path + ": ");
  }
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}
