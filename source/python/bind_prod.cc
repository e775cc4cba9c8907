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

// CUDA: torch CUDA tensors (__cuda_array_interface__), validated before the launch.
template <typename T>
void prod_cuda(bool virial, py::handle grad_rij, py::handle rij, py::handle nlist, int64_t nall,
               py::handle out, py::handle atom_out, std::uintptr_t stream) {
  CudaArgs args;
  std::vector<int64_t> s;
  PairGradient<T> in;
  in.grad_rij = args.get<T>(grad_rij, "grad_rij", {-1, -1, -1, 3}, CudaUse::kIn, &s);
  const int64_t nf = s[0], nloc = s[1], nnei = s[2];
  if (nall < nloc) throw py::value_error("need nall >= nloc");
  if (virial) in.rij = args.get<T>(rij, "rij", {nf, nloc, nnei, 3});
  in.nlist = args.get<int64_t>(nlist, "nlist", {nf, nloc, nnei});
  in.nframes = nf;
  in.nloc = nloc;
  in.nnei = nnei;
  in.nall = nall;
  T* o = virial ? args.get<T>(out, "virial", {nf, 9}, CudaUse::kOut)
                : args.get<T>(out, "force", {nf, nall, 3}, CudaUse::kOut);
  T* ao = virial ? args.get<T>(atom_out, "atom_virial", {nf, nall, 9}, CudaUse::kOptionalOut)
                 : nullptr;
  args.check_devices();
  Status st;
  {
    py::gil_scoped_release release;
    st = virial ? deepft::cuda::prod_virial<T>(in, o, ao, cuda_stream(stream))
                : deepft::cuda::prod_force<T>(in, o, cuda_stream(stream));
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
        py::arg("rij"), py::arg("nlist"), py::arg("nall"), py::arg("out"),
        py::arg("atom_out") = py::none(), py::arg("stream") = 0,
        "CUDA prod_force (virial=False, out=force [nf, nall, 3], rij None) or prod_virial "
        "(out=virial [nf, 9], atom_out=atom virial [nf, nall, 9] or None) on torch CUDA "
        "tensors (checked: device, dtype, shape, contiguity).");
}

}  // namespace

void bind_prod(py::module_& m) {
  define<double>(m, "f64");
  define<float>(m, "f32");
}

}  // namespace deepft::python
