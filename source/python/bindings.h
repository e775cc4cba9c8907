// Registration functions of the deepft._core submodules (one bind_*.cc per concept) and the
// glue they share. Bindings hold no logic: they check array shapes, call one source/lib entry
// point and turn a failed Status into a Python exception.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "status.h"

namespace deepft::python {

/// Registers every kernel binding on the module; defined in bind_all.cc.
void bind_all(pybind11::module_& m);
void bind_neighbor(pybind11::module_& m);
void bind_env_mat(pybind11::module_& m);
void bind_prod(pybind11::module_& m);
/// Native inference core (deepft._core.infer); defined in bind_core.cc (inference helper).
void bind_core(pybind11::module_& m);

/// Raises ValueError / MemoryError / RuntimeError for a failed Status.
inline void check(const Status& st) {
  if (st.ok()) return;
  switch (st.code) {
    case StatusCode::kInvalidArgument:
      throw pybind11::value_error(st.message);
    case StatusCode::kOutOfMemory:
      throw std::bad_alloc();
    default:
      throw std::runtime_error(st.message);
  }
}

/// Requires `a` to have exactly `dims` (-1 = any size) and returns the sizes.
inline std::vector<int64_t> expect_shape(const pybind11::array& a, const char* name,
                                         std::initializer_list<int64_t> dims) {
  std::string want = "(";
  bool ok = a.ndim() == static_cast<pybind11::ssize_t>(dims.size());
  int k = 0;
  std::vector<int64_t> got;
  for (int64_t d : dims) {
    want += (d < 0 ? std::string("*") : std::to_string(d)) + (k + 1 < (int)dims.size() ? ", " : "");
    if (ok && d >= 0 && a.shape(k) != d) ok = false;
    if (ok) got.push_back(a.shape(k));
    ++k;
  }
  want += ")";
  if (!ok) {
    std::string have = "(";
    for (pybind11::ssize_t i = 0; i < a.ndim(); ++i)
      have += std::to_string(a.shape(i)) + (i + 1 < a.ndim() ? ", " : "");
    throw pybind11::value_error(std::string(name) + " must have shape " + want + ", got " + have +
                                ")");
  }
  return got;
}

/// Moves a std::vector into a numpy array without copying (the array owns the vector).
template <typename V>
pybind11::array_t<V> to_numpy(std::vector<V>&& v, std::vector<pybind11::ssize_t> shape) {
  auto* heap = new std::vector<V>(std::move(v));
  pybind11::capsule owner(heap, [](void* p) { delete static_cast<std::vector<V>*>(p); });
  return pybind11::array_t<V>(shape, heap->data(), owner);
}

/// Device pointer passed from Python as an integer (torch.Tensor.data_ptr()).
template <typename V>
V* device_ptr(std::uintptr_t address) {
  return reinterpret_cast<V*>(address);
}

}  // namespace deepft::python
