// Bindings of source/core/train_kernels.h (deepft._core.train): numpy arrays in, new arrays
// out. Used by deepft.ops.embedding on CPU tensors.
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"
#include "train_kernels.h"

namespace py = pybind11;

namespace deepft::python {
namespace {

constexpr auto kIn = py::array::c_style | py::array::forcecast;

template <typename T>
using In = py::array_t<T, kIn>;

/// Data of an optional input (None -> nullptr) whose shape must be `dims`.
template <typename T>
const T* optional_data(const std::optional<In<T>>& a, const char* name,
                       std::initializer_list<int64_t> dims) {
  if (!a) return nullptr;
  expect_shape(*a, name, dims);
  return a->data();
}

/// (in, out) of a layer's matrix w [in, out] and the width of its input x [rows, in].
template <typename T>
std::pair<int64_t, int64_t> layer_shape(const In<T>& w, const In<T>& x, int skip) {
  const auto ws = expect_shape(w, "matrix", {-1, -1});
  const int64_t in = ws[0], out = ws[1];
  expect_shape(x, "x", {-1, in});
  const bool fits = skip == 0 || (skip == 1 && out == in) || (skip == 2 && out == 2 * in);
  if (skip < 0 || skip > 2 || !fits) {
    throw py::value_error("skip " + std::to_string(skip) + " (0 none, 1 same, 2 double) does not "
                          "fit a layer " + std::to_string(in) + " -> " + std::to_string(out));
  }
  return {in, out};
}

template <typename T>
py::tuple tanh_tangent_layer(In<T> x, In<T> xt, In<T> w, In<T> b, std::optional<In<T>> idt,
                             int skip) {
  const auto [in, out] = layer_shape<T>(w, x, skip);
  const int64_t rows = x.shape(0);
  expect_shape(xt, "xt", {rows, in});
  expect_shape(b, "bias", {out});
  const T* ip = optional_data<T>(idt, "idt", {out});
  py::array_t<T> h({rows, out}), zt({rows, out}), y({rows, out}), yt({rows, out});
  T *hp = h.mutable_data(), *ztp = zt.mutable_data(), *yp = y.mutable_data();
  T* ytp = yt.mutable_data();
  {
    py::gil_scoped_release release;
    train::tanh_tangent_layer<T>(rows, in, out, static_cast<train::Skip>(skip), w.data(),
                                 b.data(), ip, x.data(), xt.data(), hp, ztp, yp, ytp);
  }
  return py::make_tuple(h, zt, y, yt);
}

template <typename T>
py::tuple tanh_tangent_layer_backward(In<T> x, In<T> xt, In<T> w, std::optional<In<T>> idt,
                                      int skip, In<T> h, In<T> zt, In<T> dy, In<T> dyt,
                                      bool want_w, bool want_idt, bool want_x) {
  const auto [in, out] = layer_shape<T>(w, x, skip);
  const int64_t rows = x.shape(0);
  expect_shape(xt, "xt", {rows, in});
  for (const auto* a : {&h, &zt, &dy, &dyt}) expect_shape(*a, "h/zt/dy/dyt", {rows, out});
  const T* ip = optional_data<T>(idt, "idt", {out});
  if (want_idt && ip == nullptr) throw py::value_error("d_idt needs idt");
  py::array_t<T> d_bias(out);
  py::object dw = py::none(), d_idt = py::none(), dx = py::none(), dxt = py::none();
  T *dwp = nullptr, *dip = nullptr, *dxp = nullptr, *dxtp = nullptr;
  if (want_w) {
    py::array_t<T> a({in, out});
    dwp = a.mutable_data();
    dw = a;
  }
  if (want_idt) {
    py::array_t<T> a(out);
    dip = a.mutable_data();
    d_idt = a;
  }
  if (want_x) {
    py::array_t<T> a({rows, in}), c({rows, in});
    dxp = a.mutable_data();
    dxtp = c.mutable_data();
    dx = a;
    dxt = c;
  }
  T* dbp = d_bias.mutable_data();
  {
    py::gil_scoped_release release;
    train::tanh_tangent_layer_backward<T>(rows, in, out, static_cast<train::Skip>(skip),
                                          w.data(), ip, x.data(), xt.data(), h.data(),
                                          zt.data(), dy.data(), dyt.data(), dwp, dbp, dip, dxp,
                                          dxtp);
  }
  return py::make_tuple(dx, dxt, dw, d_bias, d_idt);
}

/// (N, K, M) of r [N, K, 4] and rows [N, K, M].
template <typename T>
std::vector<int64_t> atom_rows(const In<T>& r, const In<T>& g, const char* name) {
  const auto s = expect_shape(r, "r", {-1, -1, 4});
  const auto gs = expect_shape(g, name, {s[0], s[1], -1});
  return {s[0], s[1], gs[2]};
}

template <typename T>
py::array_t<T> env_contract(In<T> r, In<T> g) {
  const auto d = atom_rows<T>(r, g, "g");
  py::array_t<T> t({d[0], int64_t{4}, d[2]});
  T* tp = t.mutable_data();
  {
    py::gil_scoped_release release;
    train::env_contract<T>(d[0], d[1], d[2], r.data(), g.data(), tp);
  }
  return t;
}

template <typename T>
py::array_t<T> env_contract_backward(In<T> r, In<T> dt) {
  const auto s = expect_shape(r, "r", {-1, -1, 4});
  const int64_t m = expect_shape(dt, "dt", {s[0], 4, -1})[2];
  py::array_t<T> dg({s[0], s[1], m});
  T* dgp = dg.mutable_data();
  {
    py::gil_scoped_release release;
    train::env_contract_backward<T>(s[0], s[1], m, r.data(), dt.data(), dgp);
  }
  return dg;
}

template <typename T>
py::array_t<T> pair_grad(In<T> r, In<T> g, In<T> gt, In<T> a) {
  const auto d = atom_rows<T>(r, g, "g");
  expect_shape(gt, "gt", {d[0], d[1], d[2]});
  expect_shape(a, "a", {d[0], 4, d[2]});
  py::array_t<T> out({d[0], d[1], int64_t{4}});
  T* op = out.mutable_data();
  {
    py::gil_scoped_release release;
    train::pair_grad<T>(d[0], d[1], d[2], r.data(), g.data(), gt.data(), a.data(), op);
  }
  return out;
}

template <typename T>
py::tuple pair_grad_backward(In<T> r, In<T> g, In<T> gt, In<T> a, In<T> v) {
  const auto d = atom_rows<T>(r, g, "g");
  expect_shape(gt, "gt", {d[0], d[1], d[2]});
  expect_shape(a, "a", {d[0], 4, d[2]});
  expect_shape(v, "v", {d[0], d[1], 4});
  py::array_t<T> da({d[0], int64_t{4}, d[2]}), dg({d[0], d[1], d[2]}), dgt({d[0], d[1], d[2]});
  T *dap = da.mutable_data(), *dgp = dg.mutable_data(), *dgtp = dgt.mutable_data();
  {
    py::gil_scoped_release release;
    train::pair_grad_backward<T>(d[0], d[1], d[2], r.data(), g.data(), gt.data(), a.data(),
                                 v.data(), dap, dgp, dgtp);
  }
  return py::make_tuple(da, dg, dgt);
}

template <typename T>
void define(py::module_& sub) {
  sub.def("tanh_tangent_layer", &tanh_tangent_layer<T>, py::arg("x"), py::arg("xt"),
          py::arg("matrix"), py::arg("bias"), py::arg("idt"), py::arg("skip"),
          "(h, zt, y, yt) of a tanh layer in forward mode (skip: 0 none, 1 same, 2 double).");
  sub.def("tanh_tangent_layer_backward", &tanh_tangent_layer_backward<T>, py::arg("x"),
          py::arg("xt"), py::arg("matrix"), py::arg("idt"), py::arg("skip"), py::arg("h"),
          py::arg("zt"), py::arg("dy"), py::arg("dyt"), py::arg("want_matrix"),
          py::arg("want_idt"), py::arg("want_x"),
          "(dx, dxt, d_matrix, d_bias, d_idt); None where not wanted.");
  sub.def("env_contract", &env_contract<T>, py::arg("r"), py::arg("g"));
  sub.def("env_contract_backward", &env_contract_backward<T>, py::arg("r"), py::arg("dt"));
  sub.def("pair_grad", &pair_grad<T>, py::arg("r"), py::arg("g"), py::arg("gt"), py::arg("a"));
  sub.def("pair_grad_backward", &pair_grad_backward<T>, py::arg("r"), py::arg("g"),
          py::arg("gt"), py::arg("a"), py::arg("v"));
}

}  // namespace

void bind_train(py::module_& m) {
  py::module_ sub = m.def_submodule("train", "fused loops of the training step (CPU)");
  define<double>(sub);
  define<float>(sub);
}

}  // namespace deepft::python
