// Test helpers: take a model.dft apart and put it together again with fresh checksums, so
// tests can craft files that pass the checksum and reach the parser and validator behind it.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "checksum.h"

namespace deepft_test {

using Bytes = std::vector<unsigned char>;

inline Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// A well-formed model.dft split into its parts.
struct ModelParts {
  uint32_t version = 0;
  std::string header;  ///< the JSON text
  Bytes blob;
};

inline ModelParts split(const Bytes& file) {
  ModelParts p;
  uint64_t hlen = 0;
  std::memcpy(&p.version, file.data() + 8, 4);
  std::memcpy(&hlen, file.data() + 16, 8);
  p.header.assign(reinterpret_cast<const char*>(file.data()) + 24, hlen);
  const size_t start = (24 + hlen + 63) / 64 * 64;
  p.blob.assign(file.begin() + static_cast<std::ptrdiff_t>(start), file.end());
  return p;
}

/// Bytes of a model.dft from its parts; the header checksum is stamped for version >= 2 (the
/// tensor checksums are whatever the header text says).
inline Bytes assemble(const ModelParts& p) {
  Bytes out(24, 0);
  std::memcpy(out.data(), "DEEPFTMD", 8);
  std::memcpy(out.data() + 8, &p.version, 4);
  const uint32_t crc = p.version >= 2 ? deepft::crc32(p.header.data(), p.header.size()) : 0;
  std::memcpy(out.data() + 12, &crc, 4);
  const uint64_t hlen = p.header.size();
  std::memcpy(out.data() + 16, &hlen, 8);
  out.insert(out.end(), p.header.begin(), p.header.end());
  out.resize((out.size() + 63) / 64 * 64, 0);
  out.insert(out.end(), p.blob.begin(), p.blob.end());
  return out;
}

/// `text` with the first occurrence of `from` replaced by `to` (throws if absent, so a test
/// cannot pass by editing nothing).
inline std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("'" + from + "' not in the header");
  return text.replace(at, from.size(), to);
}

}  // namespace deepft_test
