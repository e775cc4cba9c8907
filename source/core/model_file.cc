#include "model_file.h"

#include <cstring>
#include <fstream>
#include <string_view>

#include "errors.h"

namespace deepft {

namespace {

constexpr char kMagic[8] = {'D', 'E', 'E', 'P', 'F', 'T', 'M', 'D'};
constexpr int64_t kAlign = 64;
constexpr int64_t kPreamble = 24;  // magic 8 + version 4 + reserved 4 + header length 8
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

int64_t dtype_size(const std::string& dtype) {
  if (dtype == "float64") return 8;
  if (dtype == "float32") return 4;
  return 0;
}

}  // namespace

void ModelFile::fail(const std::string& what, const std::string& hint) const {
  throw ModelFileError(path_ + ": " + what, hint.empty() ? kHintRefreeze : hint);
}

ModelFile ModelFile::read(const std::string& path) {
  ModelFile mf;
  mf.path_ = path;
  std::ifstream in(path, std::ios::binary);
  if (!in) mf.fail("cannot open the model file", "check the path of the frozen model");
  unsigned char pre[kPreamble];
  in.read(reinterpret_cast<char*>(pre), kPreamble);
  const auto got = in.gcount();
  if (got < 8 || std::memcmp(pre, kMagic, 8) != 0) {
    mf.fail("not a deepft model file (bad magic bytes)",
            "pass a model.dft written by `deepft freeze`");
  }
  if (got < kPreamble) mf.fail("truncated model file (incomplete preamble)");
  mf.version_ = read_le<uint32_t>(pre + 8);
  if (mf.version_ > kModelFormatVersion) {
    mf.fail("model.dft format version " + std::to_string(mf.version_) +
                " is newer than this deepft reads (" + std::to_string(kModelFormatVersion) + ")",
            "upgrade deepft to read this file");
  }
  if (mf.version_ < kModelFormatVersion) {
    mf.fail("model.dft format version " + std::to_string(mf.version_) +
                " is older than this deepft reads (" + std::to_string(kModelFormatVersion) + ")",
            "upgrade the file in Python with deepft.io.upgrade_model_file(old, new)");
  }
  if (!host_is_little_endian()) mf.fail("big-endian hosts are not supported", "-");
  const uint64_t hlen = read_le<uint64_t>(pre + 16);
  in.seekg(0, std::ios::end);
  const int64_t fsize = static_cast<int64_t>(in.tellg());
  if (hlen > static_cast<uint64_t>(fsize - kPreamble)) {
    mf.fail("truncated model file (header of " + std::to_string(hlen) + " bytes does not fit)");
  }
  std::string text(hlen, '\0');
  in.seekg(kPreamble);
  in.read(text.data(), static_cast<std::streamsize>(hlen));
  try {
    mf.header_ = Json::parse(text);
    if (mf.header_.at("format_version").as_int() != mf.version_) {
      mf.fail("format_version in the header differs from the binary field");
    }
  } catch (const JsonError& e) {
    mf.fail(std::string("corrupt model header: ") + e.what());
  }
  int64_t start = kPreamble + static_cast<int64_t>(hlen);
  start += (kAlign - start % kAlign) % kAlign;
  const int64_t blob_size = fsize - start;
  try {
    const int64_t declared = mf.header_.at("blob_nbytes").as_int();
    if (blob_size < declared) {
      mf.fail("truncated model file (" + std::to_string(blob_size < 0 ? 0 : blob_size) + " of " +
              std::to_string(declared) + " tensor bytes present)");
    }
    for (const auto& kv : mf.header_.at("tensors").as_object()) {
      TensorInfo info;
      info.dtype = kv.second.at("dtype").as_string();
      info.offset = kv.second.at("offset").as_int();
      info.nbytes = kv.second.at("nbytes").as_int();
      int64_t count = 1;
      for (const auto& s : kv.second.at("shape").as_array()) {
        info.shape.push_back(s.as_int());
        count *= info.shape.back();
      }
      if (dtype_size(info.dtype) == 0 || info.nbytes != count * dtype_size(info.dtype) ||
          info.offset < 0 || info.offset % kAlign != 0) {
        mf.fail("tensor '" + kv.first + "' has an inconsistent entry in the header");
      }
      if (info.offset + info.nbytes > blob_size) {
        mf.fail("truncated model file (tensor '" + kv.first + "' ends past the end of the file)");
      }
      mf.tensors_.emplace(kv.first, std::move(info));
    }
  } catch (const JsonError& e) {
    mf.fail(std::string("corrupt model header: ") + e.what());
  }
  mf.blob_.resize(static_cast<size_t>(blob_size));
  in.seekg(start);
  in.read(reinterpret_cast<char*>(mf.blob_.data()), blob_size);
  if (in.gcount() != blob_size) mf.fail("read error in the tensor blob");
  return mf;
}

const TensorInfo& ModelFile::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail("tensor '" + name + "' is missing");
  return it->second;
}

template <typename T>
std::vector<T> ModelFile::tensor(const std::string& name,
                                 const std::vector<int64_t>& expected_shape) const {
  const TensorInfo& ti = info(name);
  if (!expected_shape.empty() && ti.shape != expected_shape) {
    std::string want, got;
    for (auto s : expected_shape) want += (want.empty() ? "" : ", ") + std::to_string(s);
    for (auto s : ti.shape) got += (got.empty() ? "" : ", ") + std::to_string(s);
    fail("tensor '" + name + "' has shape [" + got + "], expected [" + want + "]");
  }
  const unsigned char* p = blob_.data() + ti.offset;
  std::vector<T> out(static_cast<size_t>(ti.nbytes / dtype_size(ti.dtype)));
  for (size_t k = 0; k < out.size(); ++k) {
    if (ti.dtype == "float64") {
      double v;
      std::memcpy(&v, p + 8 * k, 8);
      out[k] = static_cast<T>(v);
    } else {
      float v;
      std::memcpy(&v, p + 4 * k, 4);
      out[k] = static_cast<T>(v);
    }
  }
  return out;
}

template std::vector<double> ModelFile::tensor<double>(const std::string&,
                                                       const std::vector<int64_t>&) const;
template std::vector<float> ModelFile::tensor<float>(const std::string&,
                                                     const std::vector<int64_t>&) const;

}  // namespace deepft
