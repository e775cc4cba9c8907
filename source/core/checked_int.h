// Overflow-checked int64 arithmetic for sizes and offsets read from untrusted files: each
// function returns false (leaving *out unspecified) instead of wrapping around.
#pragma once

#include <cstdint>

namespace deepft {

inline bool checked_add(int64_t a, int64_t b, int64_t* out) noexcept {
  return !__builtin_add_overflow(a, b, out);
}

inline bool checked_mul(int64_t a, int64_t b, int64_t* out) noexcept {
  return !__builtin_mul_overflow(a, b, out);
}

}  // namespace deepft
