// Reader of the frozen model file model.dft (format version 1); the format is specified in
// deepft/io/model_file.py. Standard library only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "json.h"

namespace deepft {

/// Format version this build reads. Older files are upgraded by the Python package
/// (deepft.io.upgrade_model_file); newer ones need a newer deepft.
constexpr uint32_t kModelFormatVersion = 1;

/// One entry of the header's "tensors" table.
struct TensorInfo {
  std::string dtype;           ///< "float64" or "float32"
  std::vector<int64_t> shape;  ///< C order
  int64_t offset = 0;          ///< bytes from the blob start
  int64_t nbytes = 0;
};

/// A model.dft in memory: the parsed header and the raw tensor blob.
class ModelFile {
 public:
  /// Reads and validates `path`; throws ModelFileError naming the file (missing, wrong magic,
  /// unsupported version, truncated, corrupt header or tensor table).
  static ModelFile read(const std::string& path);

  const std::string& path() const noexcept { return path_; }
  uint32_t format_version() const noexcept { return version_; }
  const Json& header() const noexcept { return header_; }
  bool has_tensor(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;  ///< throws ModelFileError

  /// Tensor `name` converted to T, checking its shape when `expected_shape` is not empty.
  template <typename T>
  std::vector<T> tensor(const std::string& name,
                        const std::vector<int64_t>& expected_shape = {}) const;

  /// ModelFileError with "<path>: <what>".
  [[noreturn]] void fail(const std::string& what,
                         const std::string& hint = "") const;

 private:
  std::string path_;
  uint32_t version_ = 0;
  Json header_;
  std::map<std::string, TensorInfo> tensors_;
  std::vector<unsigned char> blob_;
};

}  // namespace deepft
