#include "model_file.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <type_traits>

#include "checked_int.h"
#include "checksum.h"
#include "errors.h"

namespace deepft {

namespace {

constexpr char kMagic[8] = {'D', 'E', 'E', 'P', 'F', 'T', 'M', 'D'};
constexpr int64_t kAlign = 64;
constexpr int64_t kPreamble = 24;  // magic 8 + version 4 + header crc32 (v2) 4 + length 8
constexpr int64_t kMaxDims = 8;    // tensors of deepft models have at most 2 dimensions
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kPiece = 1 << 20;  // bytes read from the file at a time (a multiple of 8)
const char* kHintRefreeze = "freeze the checkpoint again with `deepft freeze`";

bool host_is_little_endian() {
  const uint16_t one = 1;
  unsigned char first = 0;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

template <typename U>
U read_le(const unsigned char* p) {
  U value = 0;
  for (size_t k = 0; k < sizeof(U); ++k) value |= static_cast<U>(p[k]) << (8 * k);
  return value;
}

int64_t dtype_size(const std::string& dtype) { return dtype == "float64" ? 8 : 4; }

std::string fmt_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

}  // namespace

// ---- HeaderField -----------------------------------------------------------------------------

void HeaderField::fail(const std::string& what) const {
  file_->fail("header field '" + name_ + "': " + what);
}

bool HeaderField::has(std::string_view key) const {
  if (!value_->is_object()) fail(std::string("expected object, got ") + Json::type_name(value_->type()));
  return value_->find(key) != nullptr;
}

HeaderField HeaderField::at(std::string_view key) const {
  if (!has(key)) fail("missing key '" + std::string(key) + "'");
  return HeaderField(*file_, *value_->find(key), name_ + "." + std::string(key));
}

HeaderField HeaderField::at(size_t index) const {
  if (!value_->is_array()) fail(std::string("expected array, got ") + Json::type_name(value_->type()));
  if (index >= value_->size()) {
    fail("index " + std::to_string(index) + " out of range (size " +
         std::to_string(value_->size()) + ")");
  }
  return HeaderField(*file_, value_->at(index), name_ + "[" + std::to_string(index) + "]");
}

size_t HeaderField::size() const {
  if (!value_->is_array() && !value_->is_object()) {
    fail(std::string("expected array or object, got ") + Json::type_name(value_->type()));
  }
  return value_->size();
}

std::vector<std::string> HeaderField::keys() const {
  if (!value_->is_object()) fail(std::string("expected object, got ") + Json::type_name(value_->type()));
  std::vector<std::string> out;
  for (const auto& kv : value_->as_object()) out.push_back(kv.first);
  return out;
}

bool HeaderField::as_bool() const {
  if (!value_->is_bool()) fail(std::string("expected bool, got ") + Json::type_name(value_->type()));
  return value_->as_bool();
}

int64_t HeaderField::as_int(int64_t lo, int64_t hi) const {
  if (!value_->is_integer()) {
    fail(value_->is_number() ? "expected an integer, got " + fmt_double(value_->as_double())
                             : std::string("expected integer, got ") +
                                   Json::type_name(value_->type()));
  }
  const int64_t v = value_->as_int();
  if (v < lo || v > hi) {
    fail(std::to_string(v) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) +
         "]");
  }
  return v;
}

double HeaderField::as_double(double lo, double hi) const {
  if (!value_->is_number()) fail(std::string("expected number, got ") + Json::type_name(value_->type()));
  const double v = value_->as_double();
  if (!(v >= lo && v <= hi)) {
    fail(fmt_double(v) + " is outside [" + fmt_double(lo) + ", " + fmt_double(hi) + "]");
  }
  return v;
}

const std::string& HeaderField::as_string() const {
  if (!value_->is_string()) fail(std::string("expected string, got ") + Json::type_name(value_->type()));
  return value_->as_string();
}

const std::string& HeaderField::as_choice(std::initializer_list<const char*> choices) const {
  const std::string& s = as_string();
  std::string list;
  for (const char* c : choices) {
    if (s == c) return s;
    list += (list.empty() ? "'" : ", '") + std::string(c) + "'";
  }
  fail("'" + s + "' is not one of " + list);
}

std::vector<int64_t> HeaderField::int_list(int64_t lo, int64_t hi) const {
  std::vector<int64_t> out(size());
  if (!value_->is_array()) fail("expected array, got object");
  for (size_t k = 0; k < out.size(); ++k) out[k] = at(k).as_int(lo, hi);
  return out;
}

std::vector<std::string> HeaderField::string_list() const {
  std::vector<std::string> out(size());
  if (!value_->is_array()) fail("expected array, got object");
  for (size_t k = 0; k < out.size(); ++k) out[k] = at(k).as_string();
  return out;
}

// ---- ModelFile -------------------------------------------------------------------------------

void ModelFile::fail(const std::string& what, const std::string& hint) const {
  throw ModelFileError(path_ + ": " + what, hint.empty() ? kHintRefreeze : hint);
}

HeaderField ModelFile::field(std::string_view key) const {
  const Json* v = header_.find(key);
  if (v == nullptr) fail("header field '" + std::string(key) + "' is missing");
  return HeaderField(*this, *v, std::string(key));
}

ModelFile ModelFile::read(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw ModelFileError(path + ": is a directory, not a model file",
                         "pass the path of the model.dft file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ModelFileError(path + ": cannot open the model file",
                         "check the path of the frozen model");
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || !std::filesystem::is_regular_file(path, ec) ||
      size > static_cast<uintmax_t>(kInt64Max)) {
    // a pipe or /proc file has no trustworthy size: read it whole, streamed
    std::vector<unsigned char> bytes;
    std::vector<char> chunk(kPiece);
    while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) ||
           in.gcount() > 0) {
      bytes.insert(bytes.end(), chunk.data(), chunk.data() + in.gcount());
    }
    if (in.bad()) throw ModelFileError(path + ": read error", kHintRefreeze);
    return parse(std::move(bytes), path);
  }
  ModelFile mf;
  mf.path_ = path;
  mf.file_size_ = static_cast<int64_t>(size);
  const auto read_exactly = [&](char* dst, int64_t n) {
    in.read(dst, static_cast<std::streamsize>(n));
    if (in.gcount() != n) mf.fail("read error (the file is shorter than its size, or changed)");
  };
  unsigned char preamble[kPreamble] = {};
  read_exactly(reinterpret_cast<char*>(preamble), std::min(mf.file_size_, kPreamble));
  const uint64_t hlen = mf.check_preamble(preamble);
  std::string text(static_cast<size_t>(hlen), '\0');  // hlen <= file size - 24
  read_exactly(text.data(), static_cast<int64_t>(hlen));
  mf.parse_header(text.data(), hlen, read_le<uint32_t>(preamble + 12));
  mf.stream_ = std::move(in);
  mf.read_tensor_table();
  return mf;
}

ModelFile ModelFile::parse(std::vector<unsigned char> bytes, const std::string& name) {
  ModelFile mf;
  mf.path_ = name;
  mf.bytes_ = std::move(bytes);
  mf.file_size_ = static_cast<int64_t>(mf.bytes_.size());
  const unsigned char* data = mf.bytes_.data();
  const uint64_t hlen = mf.check_preamble(data);
  mf.parse_header(reinterpret_cast<const char*>(data + kPreamble), hlen,
                  read_le<uint32_t>(data + 12));
  mf.read_tensor_table();
  return mf;
}

uint64_t ModelFile::check_preamble(const unsigned char* data) {
  if (file_size_ < 8 || std::memcmp(data, kMagic, 8) != 0) {
    fail("not a deepft model file (bad magic bytes)",
         "pass a model.dft written by `deepft freeze`");
  }
  if (file_size_ < kPreamble) fail("truncated model file (incomplete preamble)");
  version_ = read_le<uint32_t>(data + 8);
  if (version_ > kModelFormatVersion) {
    fail("model.dft format version " + std::to_string(version_) +
             " is newer than this deepft reads (" + std::to_string(kModelFormatVersion) + ")",
         "upgrade deepft to read this file");
  }
  if (version_ < kOldestModelFormatVersion) {
    fail("model.dft format version " + std::to_string(version_) +
         " is older than the oldest this deepft reads (" +
         std::to_string(kOldestModelFormatVersion) + ")");
  }
  if (!host_is_little_endian()) fail("big-endian hosts are not supported", "-");
  const uint64_t hlen = read_le<uint64_t>(data + 16);
  if (hlen > static_cast<uint64_t>(file_size_ - kPreamble)) {
    fail("truncated model file (header of " + std::to_string(hlen) + " bytes does not fit)");
  }
  return hlen;
}

void ModelFile::parse_header(const char* text, uint64_t hlen, uint32_t crc) {
  if (version_ >= 2) {
    if (crc32(text, static_cast<size_t>(hlen)) != crc) {
      fail("file is corrupt (checksum mismatch in the header)");
    }
  } else {
    warnings_.push_back(
        path_ + ": model.dft format version 1 carries no checksum, so corruption cannot be "
        "detected (rewrite it with deepft.io.model_file.upgrade_model_file(old, new))");
  }
  try {
    header_ = Json::parse(std::string_view(text, static_cast<size_t>(hlen)));
  } catch (const JsonError& e) {
    fail(std::string("corrupt model header: ") + e.what());
  }
  if (!header_.is_object()) fail("corrupt model header: not a JSON object");
  if (field("format_version").as_int(0, kInt64Max) != version_) {
    fail("header field 'format_version' differs from the binary field");
  }
  // hlen <= file size - 24, so the blob start cannot overflow
  int64_t start = kPreamble + static_cast<int64_t>(hlen);
  start += (kAlign - start % kAlign) % kAlign;
  blob_start_ = start;
}

void ModelFile::read_tensor_table() {
  const int64_t present = std::max<int64_t>(0, file_size_ - blob_start_);
  const int64_t declared = field("blob_nbytes").as_int(0, kInt64Max);
  if (present < declared) {
    fail("truncated model file (" + std::to_string(present) + " of " + std::to_string(declared) +
         " tensor bytes present)");
  }
  const HeaderField table = field("tensors");
  for (const std::string& name : table.keys()) {
    const HeaderField entry = table.at(name);
    TensorInfo info;
    info.dtype = entry.at("dtype").as_choice({"float64", "float32"});
    const HeaderField shape = entry.at("shape");
    if (shape.size() > static_cast<size_t>(kMaxDims)) {
      shape.fail("more than " + std::to_string(kMaxDims) + " dimensions");
    }
    info.shape = shape.int_list(0, kInt64Max);
    info.count = 1;
    for (int64_t s : info.shape) {
      if (!checked_mul(info.count, s, &info.count)) shape.fail("element count overflows int64");
    }
    int64_t nbytes = 0;
    if (!checked_mul(info.count, dtype_size(info.dtype), &nbytes)) {
      shape.fail("byte count overflows int64");
    }
    info.nbytes = entry.at("nbytes").as_int(0, kInt64Max);
    if (info.nbytes != nbytes) {
      entry.at("nbytes").fail(std::to_string(info.nbytes) + " differs from prod(shape) * " +
                              std::to_string(dtype_size(info.dtype)) + " = " +
                              std::to_string(nbytes));
    }
    info.offset = entry.at("offset").as_int(0, kInt64Max);
    if (info.offset % kAlign != 0) entry.at("offset").fail("not a multiple of 64");
    int64_t end = 0;
    if (!checked_add(info.offset, info.nbytes, &end) || end > declared) {
      fail("truncated model file (tensor '" + name + "' ends past blob_nbytes = " +
           std::to_string(declared) + ")");
    }
    if (version_ >= 2) {
      info.crc32 = static_cast<uint32_t>(entry.at("crc32").as_int(0, 0xFFFFFFFFLL));
      uint32_t crc = 0;
      visit_blob(info.offset, info.nbytes, [&](const unsigned char* p, int64_t n) {
        crc = crc32(p, static_cast<size_t>(n), crc);
      });
      if (crc != info.crc32) fail("file is corrupt (checksum mismatch in tensor '" + name + "')");
    }
    tensors_.emplace(name, std::move(info));
  }
}

void ModelFile::visit_blob(int64_t offset, int64_t nbytes,
                           const std::function<void(const unsigned char*, int64_t)>& visit) const {
  // offset + nbytes <= blob_nbytes <= file size - blob start (read_tensor_table)
  if (!stream_.is_open()) {
    visit(bytes_.data() + blob_start_ + offset, nbytes);
    return;
  }
  std::vector<unsigned char> piece(static_cast<size_t>(std::min(nbytes, kPiece)));
  stream_.clear();
  stream_.seekg(static_cast<std::streamoff>(blob_start_ + offset));
  for (int64_t done = 0; done < nbytes;) {
    const int64_t n = std::min(nbytes - done, kPiece);
    stream_.read(reinterpret_cast<char*>(piece.data()), static_cast<std::streamsize>(n));
    if (stream_.gcount() != n) fail("read error (the file is shorter than its size, or changed)");
    visit(piece.data(), n);
    done += n;
  }
}

const TensorInfo& ModelFile::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail("tensor '" + name + "' is missing");
  return it->second;
}

template <typename T, typename Alloc>
std::vector<T, Alloc> ModelFile::tensor(const std::string& name,
                                        const std::vector<int64_t>& expected_shape) const {
  const TensorInfo& ti = info(name);
  if (!expected_shape.empty() && ti.shape != expected_shape) {
    std::string want, got;
    for (auto s : expected_shape) want += (want.empty() ? "" : ", ") + std::to_string(s);
    for (auto s : ti.shape) got += (got.empty() ? "" : ", ") + std::to_string(s);
    fail("tensor '" + name + "' has shape [" + got + "], expected [" + want + "]");
  }
  std::vector<T, Alloc> out(static_cast<size_t>(ti.count));
  const int64_t item = dtype_size(ti.dtype);
  size_t k = 0;  // next element of out; pieces hold whole elements (kPiece % 8 == 0)
  uint32_t crc = 0;
  visit_blob(ti.offset, ti.nbytes, [&](const unsigned char* p, int64_t n) {
    crc = crc32(p, static_cast<size_t>(n), crc);
    for (int64_t b = 0; b < n; b += item, ++k) {
      if (item == 8) {
        double v;
        std::memcpy(&v, p + b, 8);
        // narrowing an out-of-range finite double to float is undefined behaviour
        if (std::is_same_v<T, float> && std::isfinite(v) &&
            std::fabs(v) > static_cast<double>(std::numeric_limits<float>::max())) {
          fail("tensor '" + name + "' holds " + fmt_double(v) + ", outside the float32 range");
        }
        out[k] = static_cast<T>(v);
      } else {
        float v;
        std::memcpy(&v, p + b, 4);
        out[k] = static_cast<T>(v);
      }
      if (!std::isfinite(static_cast<double>(out[k]))) {
        fail("tensor '" + name + "' holds a non-finite value at index " + std::to_string(k));
      }
    }
  });
  // the file may have changed since it was opened
  if (version_ >= 2 && crc != ti.crc32) {
    fail("file is corrupt (checksum mismatch in tensor '" + name + "')");
  }
  return out;
}

template std::vector<double> ModelFile::tensor<double>(const std::string&,
                                                       const std::vector<int64_t>&) const;
template std::vector<float> ModelFile::tensor<float>(const std::string&,
                                                     const std::vector<int64_t>&) const;
template AlignedVector<double> ModelFile::tensor<double, CacheLineAllocator<double>>(
    const std::string&, const std::vector<int64_t>&) const;
template AlignedVector<float> ModelFile::tensor<float, CacheLineAllocator<float>>(
    const std::string&, const std::vector<int64_t>&) const;

}  // namespace deepft
