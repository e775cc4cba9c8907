// Reader of the frozen model file model.dft (format versions 1 and 2); the format is specified
// in docs/model-file-format.md and deepft/io/model_file.py. Standard library only.
//
// Files are untrusted (they are downloaded): every size and offset is validated with
// overflow-checked arithmetic before use, checksums (version 2) are verified before a tensor
// is handed out, and every failure is a ModelFileError "<path>: <what>" naming the field.
#pragma once

#include <cstdint>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "aligned_vector.h"
#include "json.h"

namespace deepft {

/// Format version this build writes and reads; version 1 (no checksums) is still read, with
/// a warning. Newer ones need a newer deepft.
constexpr uint32_t kModelFormatVersion = 2;
constexpr uint32_t kOldestModelFormatVersion = 1;

/// One entry of the header's "tensors" table (validated: shape >= 0, nbytes = prod(shape) *
/// itemsize, offset % 64 == 0, offset + nbytes <= blob_nbytes, all without overflow).
struct TensorInfo {
  std::string dtype;           ///< "float64" or "float32"
  std::vector<int64_t> shape;  ///< C order
  int64_t offset = 0;          ///< bytes from the blob start
  int64_t nbytes = 0;
  int64_t count = 0;           ///< prod(shape)
  uint32_t crc32 = 0;          ///< stored checksum (format version >= 2)
};

class ModelFile;

/// A header value with its dotted name ("branches.Default.descriptor.sel[1]"): typed,
/// range-checked accessors that throw ModelFileError "<path>: header field '<name>': <what>".
class HeaderField {
 public:
  HeaderField(const ModelFile& file, const Json& value, std::string name)
      : file_(&file), value_(&value), name_(std::move(name)) {}

  const Json& json() const noexcept { return *value_; }
  const std::string& name() const noexcept { return name_; }
  bool has(std::string_view key) const;           ///< this must be an object
  HeaderField at(std::string_view key) const;     ///< member that must exist
  HeaderField at(size_t index) const;             ///< element of an array
  size_t size() const;                            ///< elements of an array / object
  std::vector<std::string> keys() const;          ///< member names of an object

  bool as_bool() const;
  int64_t as_int(int64_t lo, int64_t hi) const;   ///< integer in [lo, hi]
  double as_double(double lo, double hi) const;   ///< number in [lo, hi]
  const std::string& as_string() const;
  /// A string that is one of `choices`.
  const std::string& as_choice(std::initializer_list<const char*> choices) const;
  std::vector<int64_t> int_list(int64_t lo, int64_t hi) const;  ///< array of integers
  std::vector<std::string> string_list() const;                   ///< array of strings

  [[noreturn]] void fail(const std::string& what) const;

 private:
  const ModelFile* file_;
  const Json* value_;
  std::string name_;
};

/// A model.dft opened for reading: the parsed header, and the tensor bytes either read from
/// the open file on demand (read() of a regular file: loading a model never holds the whole
/// file in memory, only one piece of at most 1 MiB besides the tensors it converts) or held
/// in memory (parse(), and read() of a pipe or other non-regular file).
class ModelFile {
 public:
  /// Opens and validates `path`; throws ModelFileError naming the file (missing, wrong magic,
  /// unsupported version, truncated, checksum mismatch, corrupt header or tensor table).
  /// Every tensor's checksum is verified here, and again when tensor() reads it.
  static ModelFile read(const std::string& path);
  /// Same from the bytes of a file; `name` stands for the path in messages.
  static ModelFile parse(std::vector<unsigned char> bytes, const std::string& name);

  const std::string& path() const noexcept { return path_; }
  uint32_t format_version() const noexcept { return version_; }
  const Json& header() const noexcept { return header_; }
  HeaderField field(std::string_view key) const;  ///< top-level header field (must exist)
  /// Non-fatal findings of the reader (a version-1 file carries no checksum).
  const std::vector<std::string>& warnings() const noexcept { return warnings_; }
  bool has_tensor(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;  ///< throws ModelFileError

  /// Tensor `name` converted to T, checking its shape when `expected_shape` is not empty
  /// (Alloc: std::allocator or CacheLineAllocator, aligned_vector.h).
  template <typename T, typename Alloc = std::allocator<T>>
  std::vector<T, Alloc> tensor(const std::string& name,
                               const std::vector<int64_t>& expected_shape = {}) const;

  /// ModelFileError with "<path>: <what>".
  [[noreturn]] void fail(const std::string& what,
                         const std::string& hint = "") const;

 private:
  std::string path_;
  uint32_t version_ = 0;
  Json header_;
  std::map<std::string, TensorInfo> tensors_;
  std::vector<unsigned char> bytes_;  ///< the whole file (parse), or empty (streamed)
  mutable std::ifstream stream_;      ///< the open file (read of a regular file), or closed
  int64_t file_size_ = 0;             ///< bytes in the file
  int64_t blob_start_ = 0;            ///< file offset of the tensor blob
  std::vector<std::string> warnings_;

  /// Checks the preamble (the first min(file_size_, 24) bytes at `data`); returns the
  /// header length, checked to fit in the file.
  uint64_t check_preamble(const unsigned char* data);
  /// Checks the header text (its checksum `crc` in version >= 2), parses it and sets
  /// blob_start_.
  void parse_header(const char* text, uint64_t hlen, uint32_t crc);
  void read_tensor_table();
  /// Calls visit(bytes, n) on consecutive pieces of the blob range [offset, offset + nbytes)
  /// (validated to lie in the file), each piece a multiple of 8 bytes except the last.
  void visit_blob(int64_t offset, int64_t nbytes,
                  const std::function<void(const unsigned char*, int64_t)>& visit) const;
};

}  // namespace deepft
