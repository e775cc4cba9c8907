// A small JSON (RFC 8259) reader for the header of model.dft: standard library only.
//
// Json::parse accepts exactly one JSON value surrounded by optional whitespace; it decodes
// string escapes (including \uXXXX surrogate pairs, written out as UTF-8), rejects control
// characters in strings, NaN/Infinity, trailing commas, leading zeros and duplicate object keys,
// and limits nesting to 64 levels (a crafted header cannot exhaust the stack). Errors are JsonError with "line L, column C: what".
// Numbers are kept as double; integers that fit in int64 are also kept exactly.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace deepft {

class JsonError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Json {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  using Object = std::vector<std::pair<std::string, Json>>;  ///< keys in file order
  using Array = std::vector<Json>;

  Json() = default;
  static Json parse(std::string_view text);

  Type type() const noexcept { return type_; }
  bool is_null() const noexcept { return type_ == Type::kNull; }
  bool is_bool() const noexcept { return type_ == Type::kBool; }
  bool is_number() const noexcept { return type_ == Type::kNumber; }
  bool is_string() const noexcept { return type_ == Type::kString; }
  bool is_array() const noexcept { return type_ == Type::kArray; }
  bool is_object() const noexcept { return type_ == Type::kObject; }
  /// True for a number written without fraction/exponent that fits in int64.
  bool is_integer() const noexcept { return type_ == Type::kNumber && is_int_; }

  // Typed accessors: throw JsonError naming the expected and actual type on a mismatch.
  bool as_bool() const;
  double as_double() const;
  int64_t as_int() const;  ///< requires is_integer()
  const std::string& as_string() const;
  const Array& as_array() const;
  const Object& as_object() const;

  /// Object member or nullptr when absent (throws when this is not an object).
  const Json* find(std::string_view key) const;
  /// Object member; throws JsonError "missing key 'key'" when absent.
  const Json& at(std::string_view key) const;
  /// Array element; throws JsonError when out of range.
  const Json& at(size_t index) const;
  size_t size() const;  ///< elements of an array or members of an object

  static const char* type_name(Type t) noexcept;

 private:
  friend class JsonParser;
  Type type_ = Type::kNull;
  bool bool_ = false;
  bool is_int_ = false;
  double number_ = 0.0;
  int64_t int_ = 0;
  std::string string_;
  Array array_;
  Object object_;
};

}  // namespace deepft
