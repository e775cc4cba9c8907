// Registration functions of the deepft._core submodules (one bind_*.cc per concept) and the
// glue they share. Bindings hold no logic: they check array shapes, call one source/lib entry
// point and turn a failed Status into a Python exception.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cuda_info.h"
#include "status.h"

namespace deepft::python {

/// Registers every kernel binding on the module; defined in bind_all.cc.
void bind_all(pybind11::module_& m);
void bind_neighbor(pybind11::module_& m);
void bind_env_mat(pybind11::module_& m);
void bind_prod(pybind11::module_& m);
/// Native inference core (deepft._core.infer); defined in bind_core.cc (inference helper).
void bind_core(pybind11::module_& m);
/// Fused loops of the training step (deepft._core.train); defined in bind_train.cc.
void bind_train(pybind11::module_& m);

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

/// Requires `have` (the shape of argument `name`) to be exactly `dims` (-1 = any size) and
/// returns it; ValueError "<name> must have shape (...), got (...)" otherwise.
inline std::vector<int64_t> check_shape(const std::vector<int64_t>& have, const char* name,
                                        std::initializer_list<int64_t> dims) {
  bool ok = have.size() == dims.size();
  std::string want = "(";
  size_t k = 0;
  for (int64_t d : dims) {
    want += (d < 0 ? std::string("*") : std::to_string(d)) + (k + 1 < dims.size() ? ", " : "");
    if (ok && d >= 0 && have[k] != d) ok = false;
    ++k;
  }
  if (!ok) {
    std::string got = "(";
    for (size_t i = 0; i < have.size(); ++i)
      got += std::to_string(have[i]) + (i + 1 < have.size() ? ", " : "");
    throw pybind11::value_error(std::string(name) + " must have shape " + want + "), got " + got +
                                ")");
  }
  return have;
}

/// Requires the numpy array `a` to have exactly `dims` (-1 = any size) and returns the sizes.
inline std::vector<int64_t> expect_shape(const pybind11::array& a, const char* name,
                                         std::initializer_list<int64_t> dims) {
  return check_shape(std::vector<int64_t>(a.shape(), a.shape() + a.ndim()), name, dims);
}

/// Moves a std::vector into a numpy array without copying (the array owns the vector).
template <typename V>
pybind11::array_t<V> to_numpy(std::vector<V>&& v, std::vector<pybind11::ssize_t> shape) {
  auto* heap = new std::vector<V>(std::move(v));
  pybind11::capsule owner(heap, [](void* p) { delete static_cast<std::vector<V>*>(p); });
  return pybind11::array_t<V>(shape, heap->data(), owner);
}

// ---- CUDA arguments ------------------------------------------------------------------------

/// __cuda_array_interface__ type string and numpy name of the element types the CUDA kernels
/// take (bool: a torch bool tensor read as uint8).
template <typename V>
struct CudaType;
template <> struct CudaType<double> { static constexpr const char* str = "<f8", *name = "float64"; };
template <> struct CudaType<float> { static constexpr const char* str = "<f4", *name = "float32"; };
template <> struct CudaType<int32_t> { static constexpr const char* str = "<i4", *name = "int32"; };
template <> struct CudaType<int64_t> { static constexpr const char* str = "<i8", *name = "int64"; };
template <> struct CudaType<bool> { static constexpr const char* str = "|b1", *name = "bool"; };

/// How a CUDA argument is used.
enum class CudaUse { kIn, kOut, kOptionalOut };

/// The CUDA arguments of one kernel call, validated before the launch: get() checks each
/// object's metadata as it is read, check_devices() then checks where every pointer lives.
class CudaArgs {
 public:
  /// Device pointer of argument `name`: any object with __cuda_array_interface__ (a torch
  /// CUDA tensor; detach() tensors that require grad).
  ///   TypeError:  not a CUDA array, or an element type other than V;
  ///   ValueError: shape other than `dims` (-1 = any; the sizes are returned in *shape), not
  ///               C-contiguous, a read-only output or a null pointer.
  /// kOptionalOut accepts None (nullptr).
  template <typename V>
  V* get(pybind11::handle obj, const char* name, std::initializer_list<int64_t> dims,
         CudaUse use = CudaUse::kIn, std::vector<int64_t>* shape = nullptr) {
    namespace py = pybind11;
    if (obj.is_none() && use == CudaUse::kOptionalOut) return nullptr;
    const std::string n(name);
    py::dict cai;
    try {
      cai = obj.attr("__cuda_array_interface__").cast<py::dict>();
    } catch (py::error_already_set& e) {  // AttributeError: not a CUDA array; torch raises
      if (e.matches(PyExc_AttributeError)) {  // RuntimeError for tensors requiring grad
        throw py::type_error(n + " must be a CUDA array (a torch CUDA tensor), got " +
                             py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
      }
      throw py::type_error(n + ": " + e.what());
    }
    const std::string typestr = py::str(cai["typestr"]);
    if (typestr != CudaType<V>::str) {
      throw py::type_error(n + " must have dtype " + CudaType<V>::name + " (" +
                           CudaType<V>::str + "), got '" + typestr + "'");
    }
    std::vector<int64_t> have;
    for (auto s : cai["shape"]) have.push_back(s.cast<int64_t>());
    check_shape(have, name, dims);
    int64_t numel = 1;
    for (int64_t s : have) numel *= s;
    if (cai.contains("strides") && !cai["strides"].is_none() && numel > 1) {
      int64_t expect = static_cast<int64_t>(sizeof(V));
      std::vector<int64_t> strides;
      for (auto v : cai["strides"]) strides.push_back(v.cast<int64_t>());
      for (size_t k = have.size(); k-- > 0;) {
        if (have[k] > 1 && strides.at(k) != expect) {
          throw py::value_error(n + " must be C-contiguous (call .contiguous())");
        }
        expect *= have[k];
      }
    }
    const auto data = cai["data"].cast<py::tuple>();
    const auto address = data[0].cast<std::uintptr_t>();
    if (use != CudaUse::kIn && data[1].cast<bool>()) throw py::value_error(n + " is read-only");
    if (shape != nullptr) *shape = have;
    if (numel == 0) return nullptr;
    if (address == 0) throw py::value_error(n + " has a null data pointer");
    pointers_.emplace_back(n, reinterpret_cast<const void*>(address));
    return reinterpret_cast<V*>(address);
  }

  /// ValueError "<name> <where it points>" for memory that is not on the current CUDA device
  /// (cuda_check_device_pointer); RuntimeError in a CPU-only build.
  void check_devices() const {
    for (const auto& [name, p] : pointers_) {
      const Status st = cuda_check_device_pointer(p);
      if (st.code == StatusCode::kNotCompiled) throw std::runtime_error(st.message);
      if (!st.ok()) throw pybind11::value_error(name + " " + st.message);
    }
  }

 private:
  std::vector<std::pair<std::string, const void*>> pointers_;
};

/// The cudaStream_t of a stream handle passed as an integer (torch Stream.cuda_stream).
inline void* cuda_stream(std::uintptr_t handle) { return reinterpret_cast<void*>(handle); }

}  // namespace deepft::python
