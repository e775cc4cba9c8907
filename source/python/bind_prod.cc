// Bindings of source/lib/prod.h.
#include "bindings.h"
#include "prod.h"

namespace py = pybind11;

namespace deepft::python {
namespace {

constexpr auto kIn = py::array::c_style | py::array::forcecast;

template <typename T>
PairGradient<T> pair_gradient(const py::array_t<T, kIn>& grad_rij,
                              const py::array_t<int64_t, kIn>& nlist, int64_t nall) {
  const auto s = expect_shape(nlist, "nlist", {-1, -1, -1});
  expect_shape(grad_rij, "grad_rij", {s[0], s[1], s[2], 3});
  PairGradient<T> in;
  in.grad_rij = grad_rij.data();
  in.nlist = nlist.data();
  in.nframes = s[0];
  in.nloc = s[1];
  in.nnei = s[2];
  in.nall = nall;
  return in;
}

template <typename T>
py::array_t<T> prod_force(py::array_t<T, kIn> grad_rij, py::array_t<int64_t, kIn> nlist,
                          int64_t nall) {
  auto in = pair_gradient<T>(grad_rij, nlist, nall);
  py::array_t<T> force({in.nframes, nall, int64_t{3}});
  T* f = force.mutable_data();
  Status st;
  {
    py::gil_scoped_release release;
    st = deepft::prod_force<T>(in, f);
  }
  check(st);
  return force;
}

template <typename T>
py::object prod_virial(py::array_t<T, kIn> grad_rij, py::array_t<T, kIn> rij,
                       py::array_t<int64_t, kIn> nlist, int64_t nall, bool atomic) {
  auto in = pair_gradient<T>(grad_rij, nlist, nall);
  expect_shape(rij, "rij", {in.nframes, in.nloc, in.nnei, 3});
  in.rij = rij.data();
  py::array_t<T> virial({in.nframes, int64_t{9}});
  py::array_t<T> atom_virial;
  if (atomic) atom_virial = py::array_t<T>({in.nframes, nall, int64_t{9}});
  T* v = virial.mutable_data();
  T* av = atomic ? atom_virial.mutable_data() : nullptr;
  Status st;
  {
    py::gil_scoped_release release;
    st = deepft::prod_virial<T>(in, v, av);
  }
  check(st);
  if (atomic) return py::make_tuple(virial, atom_virial);
  return std::move(virial);
}

template <typename T>
void prod_cuda(bool virial, std::uintptr_t grad_rij, std::uintptr_t rij, std::uintptr_t nlist,
               int64_t nframes, int64_t nloc, int64_t nnei, int64_t nall, std::uintptr_t out,
               std::uintptr_t atom_out, std::uintptr_t stream) {
  PairGradient<T> in;
  in.grad_rij = device_ptr<const T>(grad_rij);
  in.rij = device_ptr<const T>(rij);
  in.nlist = device_ptr<const int64_t>(nlist);
  in.nframes = nframes;
  in.nloc = nloc;
  in.nnei = nnei;
  in.nall = nall;
  Status st;
  {
    py::gil_scoped_release release;
    st = virial ? deepft::cuda::prod_virial<T>(in, device_ptr<T>(out), device_ptr<T>(atom_out),
                                               device_ptr<void>(stream))
                : deepft::cuda::prod_force<T>(in, device_ptr<T>(out), device_ptr<void>(stream));
  }
  check(st);
}

template <typename T>
void define(py::module_& m, const std::string& suffix) {
  m.def("prod_force", &prod_force<T>, py::arg("grad_rij"), py::arg("nlist"), py::arg("nall"),
        "force [nf, nall, 3] = -dE/dx from grad_rij = dE/drij [nf, nloc, nnei, 3] and nlist.");
  m.def("prod_virial", &prod_virial<T>, py::arg("grad_rij"), py::arg("rij"), py::arg("nlist"),
        py::arg("nall"), py::arg("atomic") = false,
        "virial [nf, 9] = -sum g (x) rij (, atom_virial [nf, nall, 9] on the neighbor atom).");
  m.def(("prod_cuda_" + suffix).c_str(), &prod_cuda<T>, py::arg("virial"), py::arg("grad_rij"),
        py::arg("rij"), py::arg("nlist"), py::arg("nframes"), py::arg("nloc"), py::arg("nnei"),
        py::arg("nall"), py::arg("out"), py::arg("atom_out"), py::arg("stream"),
        "CUDA prod_force (virial=False, out=force) or prod_virial (out=virial, atom_out=atom "
        "virial or 0) on device addresses.");
}

}  // namespace

void bind_prod(py::module_& m) {
  define<double>(m, "f64");
  define<float>(m, "f32");
}

}  // namespace deepft::python
