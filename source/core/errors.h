// Exceptions of the inference core. They never cross the public boundaries of deepft: the
// pybind11 module turns them into deepft.errors.ModelFileError / InputError, the LAMMPS plugin
// into error->one / error->all.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace deepft {

/// A model file is missing, unreadable, truncated, of the wrong kind or version, or its
/// header is inconsistent. The message names the file; hint() says how to fix it.
class ModelFileError : public std::runtime_error {
 public:
  ModelFileError(const std::string& message, std::string hint = "")
      : std::runtime_error(message), hint_(std::move(hint)) {}
  const std::string& hint() const noexcept { return hint_; }

 private:
  std::string hint_;
};

/// Arguments of a compute() call are invalid (shapes, atom types, neighbor indices).
class InputError : public std::invalid_argument {
 public:
  InputError(const std::string& message, std::string hint = "")
      : std::invalid_argument(message), hint_(std::move(hint)) {}
  const std::string& hint() const noexcept { return hint_; }

 private:
  std::string hint_;
};

/// Two atoms are closer than the model can evaluate (at the same position, where the
/// descriptor's 1/r is singular, or so close that the result overflows). `i` is the center
/// atom, `j` its neighbor (indices as the caller numbered them: local + ghost for the
/// neighbor-list form), `distance` in Å; `frame` is 0 for the neighbor-list form.
class AtomsTooCloseError : public InputError {
 public:
  AtomsTooCloseError(const std::string& message, int64_t frame, int64_t i, int64_t j,
                     double distance)
      : InputError(message, "check the structure for overlapping atoms (duplicated positions, "
                            "wrong units, a bad wrap)"),
        frame(frame), i(i), j(j), distance(distance) {}
  int64_t frame, i, j;
  double distance;
};

}  // namespace deepft
