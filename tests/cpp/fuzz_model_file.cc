// Fuzzer of the model.dft reader and everything behind it (branch validation, evaluator,
// compute). Usage: deepft_fuzz_model_file ITERATIONS SEED OUT_DIR MODEL.dft [MODEL.dft ...]
// Each case is a mutated, truncated or spliced variant of a seed model; it must either load
// (and then compute finite results or raise InputError) or raise ModelFileError. Any other
// exception fails the run and saves the case to OUT_DIR; a crash is caught by the caller
// (exit signal) and by the sanitizer build.
//
// Most raw mutations are caught by the checksums, so half of the cases edit the header text
// and re-stamp the checksum, and a quarter are rewritten as version 1 (no checksum, which is
// what a hostile file would do): those reach the JSON parser, the validator and the evaluator.
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <new>
#include <stdexcept>
#include <random>
#include <string>
#include <vector>

#include "deep_pot.h"
#include "errors.h"
#include "model_bytes.h"
#include "model_file.h"

using namespace deepft_test;

namespace {

const char* const kNumbers[] = {
    "0", "-1", "1", "2", "3", "63", "64", "65", "4096", "16384", "16385", "2147483648",
    "4294967295", "4294967296", "9007199254740993", "4611686018427387904",
    "9223372036854775744", "9223372036854775807", "9223372036854775808",
    "-9223372036854775808", "18446744073709551615", "1e308", "-1e308", "1e-320", "0.5", "-0.0",
    "3.7", "1e999", "\"8\"", "null", "true", "[]", "{}", "[1, 2]"};
const char* const kStrings[] = {"\"\"", "\"float32\"", "\"float64\"", "\"tanh\"", "\"Default\"",
                                "\"O\"", "\"H\"", "\"descriptor.\"", "\"fitting.\"", "\"x\"",
                                "\"se_e2_a\"", "\"ener\"", "1", "[]", "{}"};

struct Fuzzer {
  std::mt19937_64 rng;
  std::vector<Bytes> seeds;

  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); }

  /// Start and length of a random JSON number (or string) token in `text`.
  bool find_token(const std::string& text, bool number, size_t* at, size_t* len) {
    for (int tries = 0; tries < 64; ++tries) {
      size_t p = pick(text.size());
      if (number) {
        while (p < text.size() && !(std::isdigit(static_cast<unsigned char>(text[p])) ||
                                    text[p] == '-')) ++p;
        if (p >= text.size()) continue;
        size_t e = p;
        while (e < text.size() && (std::isdigit(static_cast<unsigned char>(text[e])) ||
                                   text[e] == '-' || text[e] == '.' || text[e] == 'e' ||
                                   text[e] == '+')) ++e;
        *at = p;
        *len = e - p;
        return true;
      }
      p = text.find('"', p);
      if (p == std::string::npos) continue;
      const size_t e = text.find('"', p + 1);
      if (e == std::string::npos) continue;
      *at = p;
      *len = e - p + 1;
      return true;
    }
    return false;
  }

  void edit_header(std::string& h) {
    size_t at = 0, len = 0;
    switch (pick(6)) {
      case 0:
      case 1:
        if (find_token(h, true, &at, &len)) h.replace(at, len, kNumbers[pick(std::size(kNumbers))]);
        break;
      case 2:
        if (find_token(h, false, &at, &len)) h.replace(at, len, kStrings[pick(std::size(kStrings))]);
        break;
      case 3:  // delete or duplicate a slice
        at = pick(h.size());
        len = pick(8) + 1;
        if (pick(2)) {
          h.erase(at, len);
        } else {
          h.insert(at, h.substr(at, len));
        }
        break;
      case 4:  // swap two bytes
        std::swap(h[pick(h.size())], h[pick(h.size())]);
        break;
      default:  // a random byte
        h[pick(h.size())] = static_cast<char>(pick(256));
    }
  }

  void flip_bytes(Bytes& b, size_t from) {
    if (b.size() <= from) return;
    const size_t n = pick(4) + 1;
    for (size_t k = 0; k < n; ++k) {
      const size_t at = from + pick(b.size() - from);
      b[at] = pick(3) ? static_cast<unsigned char>(b[at] ^ (1u << pick(8)))
                      : static_cast<unsigned char>(pick(256));
    }
  }

  Bytes make_case() {
    const Bytes& seed = seeds[pick(seeds.size())];
    switch (pick(8)) {
      case 0: {  // raw bit flips / bytes anywhere (checksums should catch)
        Bytes b = seed;
        flip_bytes(b, 0);
        return b;
      }
      case 1: {  // truncation
        return Bytes(seed.begin(), seed.begin() + static_cast<std::ptrdiff_t>(pick(seed.size())));
      }
      case 2: {  // splice two seeds
        const Bytes& other = seeds[pick(seeds.size())];
        const size_t a = pick(seed.size()), b = pick(other.size());
        Bytes out(seed.begin(), seed.begin() + static_cast<std::ptrdiff_t>(a));
        out.insert(out.end(), other.begin() + static_cast<std::ptrdiff_t>(b), other.end());
        return out;
      }
      case 3:
      case 4:
      case 5: {  // header edits, checksum re-stamped
        ModelParts p = split(seed);
        const int edits = static_cast<int>(pick(3)) + 1;
        for (int k = 0; k < edits && !p.header.empty(); ++k) edit_header(p.header);
        return assemble(p);
      }
      default: {  // version 1 (no checksum): header edits and/or blob corruption
        ModelParts p = split(seed);
        p.version = 1;
        const size_t at = p.header.find("\"format_version\": 2");
        if (at != std::string::npos) p.header.replace(at, 19, "\"format_version\": 1");
        if (pick(2)) edit_header(p.header);
        Bytes b = assemble(p);
        if (pick(2)) flip_bytes(b, b.size() - p.blob.size());
        return b;
      }
    }
  }
};

// A small periodic and a small isolated system to evaluate loaded models on.
void evaluate(const deepft::DeepPot& pot) {
  const std::vector<double> coord = {0.1, 0.2, 0.3, 1.0, 0.1, 0.2, 0.2, 1.1, 0.1,
                                     2.5, 2.4, 2.6, 3.3, 2.5, 2.2, 2.4, 3.4, 2.9};
  const std::vector<double> box = {5.0, 0, 0, 0, 5.2, 0, 0.3, 0, 4.9};
  std::vector<int32_t> atype(6);
  for (int i = 0; i < 6; ++i) atype[i] = i % pot.ntypes();
  deepft::DeepPotOutput out;
  for (const double* b : {box.data(), static_cast<const double*>(nullptr)}) {
    try {
      pot.compute(out, coord.data(), 1, 6, atype.data(), b, true);
      if (!std::isfinite(out.energy[0])) throw std::logic_error("non-finite energy returned");
    } catch (const deepft::InputError&) {
      // a clear refusal (e.g. atoms too close for a mutated rcut) is fine
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s ITERATIONS SEED OUT_DIR MODEL.dft...\n", argv[0]);
    return 2;
  }
  const long iterations = std::atol(argv[1]);
  Fuzzer fz{std::mt19937_64(std::strtoull(argv[2], nullptr, 10)), {}};
  const std::string out_dir = argv[3];
  for (int k = 4; k < argc; ++k) fz.seeds.push_back(read_bytes(argv[k]));
  long loaded = 0, computed = 0, refused = 0, failures = 0, oom = 0;
  for (long it = 0; it < iterations; ++it) {
    const Bytes b = fz.make_case();
    std::string what;
    try {
      const deepft::ModelFile file = deepft::ModelFile::parse(b, "case" + std::to_string(it));
      deepft::DeepPot pot;
      pot.load(file);
      ++loaded;
      evaluate(pot);
      ++computed;
    } catch (const deepft::ModelFileError& e) {
      ++refused;
      if (std::string(e.what()).rfind("case", 0) != 0) what = "message lacks the file name";
    } catch (const std::bad_alloc&) {
      ++oom;  // a header asked for more memory than there is: refused, but counted
    } catch (const std::exception& e) {
      what = std::string("unexpected exception: ") + e.what();
    }
    if (!what.empty()) {
      ++failures;
      const std::string path = out_dir + "/fuzz_failure_" + std::to_string(it) + ".dft";
      std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()),
                                                  static_cast<std::streamsize>(b.size()));
      std::fprintf(stderr, "case %ld (%s): %s\n", it, path.c_str(), what.c_str());
    }
  }
  std::printf("cases %ld loaded %ld computed %ld refused %ld out_of_memory %ld failures %ld\n",
              iterations, loaded, computed, refused, oom, failures);
  return failures == 0 ? 0 : 1;
}
