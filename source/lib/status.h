// Error reporting for the deepft kernels: every public kernel entry point is `noexcept` and
// returns a Status instead of throwing, so no C++ exception ever crosses the library boundary
// (pybind11 turns a failed Status into a Python exception; the LAMMPS plugin into error->one).
#pragma once

#include <cstdint>
#include <cstdio>

namespace deepft {

enum class StatusCode : int32_t {
  kOk = 0,
  kInvalidArgument = 1,  ///< a shape, pointer, type index or parameter is invalid
  kOutOfMemory = 2,      ///< a host or device allocation failed
  kCudaError = 3,        ///< a CUDA runtime call or kernel launch failed
  kNotCompiled = 4,      ///< a CUDA entry point was called in a build without CUDA
  kInternal = 5,         ///< a bug in deepft
};

/// Result of a kernel call. `message` is a NUL-terminated human-readable explanation
/// (empty when ok). Fixed-size storage, so building a Status never allocates or throws.
struct Status {
  StatusCode code = StatusCode::kOk;
  char message[256] = {0};

  bool ok() const noexcept { return code == StatusCode::kOk; }

  static Status Ok() noexcept { return Status{}; }

  /// printf-style constructor of an error status.
  template <typename... Args>
  static Status Error(StatusCode c, const char* fmt, Args... args) noexcept {
    Status s;
    s.code = c;
    if constexpr (sizeof...(Args) == 0) {
      std::snprintf(s.message, sizeof(s.message), "%s", fmt);
    } else {
      std::snprintf(s.message, sizeof(s.message), fmt, args...);
    }
    return s;
  }
};

}  // namespace deepft
