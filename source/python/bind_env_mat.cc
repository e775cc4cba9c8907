// Bindings of source/lib/env_mat.h (CPU on numpy arrays, CUDA on device addresses).
#include "bindings.h"
#include "env_mat.h"

namespace py = pybind11;

namespace deepft::python {
namespace {

constexpr auto kIn = py::array::c_style | py::array::forcecast;

template <typename T>
struct CpuArgs {
  EnvMatInput<T> in;
  EnvMatParams<T> p;
  int64_t ncenter = 0, nnei = 0;
};

// Checks shapes and fills the kernel arguments (arrays stay owned by the caller).
template <typename T>
CpuArgs<T> cpu_args(const py::array_t<T, kIn>& rij, const py::array_t<bool, kIn>& mask,
                    const py::array_t<int32_t, kIn>& center_type,
                    const py::array_t<T, kIn>& davg, const py::array_t<T, kIn>& dstd,
                    double rcut, double rcut_smth) {
  CpuArgs<T> a;
  const auto s = expect_shape(rij, "rij", {-1, -1, 3});
  a.ncenter = s[0];
  a.nnei = s[1];
  expect_shape(mask, "mask", {a.ncenter, a.nnei});
  expect_shape(center_type, "center_type", {a.ncenter});
  const int64_t ntypes = expect_shape(davg, "davg", {-1, 4})[0];
  expect_shape(dstd, "dstd", {ntypes, 4});
  a.in.rij = rij.data();
  a.in.mask = reinterpret_cast<const uint8_t*>(mask.data());
  a.in.center_type = center_type.data();
  a.in.ncenter = a.ncenter;
  a.in.nnei = a.nnei;
  a.p.rcut = static_cast<T>(rcut);
  a.p.rcut_smth = static_cast<T>(rcut_smth);
  a.p.davg = davg.data();
  a.p.dstd = dstd.data();
  a.p.ntypes = static_cast<int32_t>(ntypes);
  return a;
}

#define DEEPFT_CPU_ARGS                                                                       \
  py::array_t<T, kIn> rij, py::array_t<bool, kIn> mask, py::array_t<int32_t, kIn> center_type, \
      py::array_t<T, kIn> davg, py::array_t<T, kIn> dstd, double rcut, double rcut_smth
#define DEEPFT_CPU_PASS rij, mask, center_type, davg, dstd, rcut, rcut_smth

template <typename T>
py::object forward(DEEPFT_CPU_ARGS, bool with_deriv) {
  auto a = cpu_args<T>(DEEPFT_CPU_PASS);
  py::array_t<T> em({a.ncenter, a.nnei, int64_t{4}});
  py::array_t<T> deriv;
  if (with_deriv) deriv = py::array_t<T>({a.ncenter, a.nnei, int64_t{4}, int64_t{3}});
  T* em_ptr = em.mutable_data();
  T* deriv_ptr = with_deriv ? deriv.mutable_data() : nullptr;
  Status st;
  {
    py::gil_scoped_release release;
    st = deepft::env_mat_se_a<T>(a.in, a.p, em_ptr, deriv_ptr);
  }
  check(st);
  if (with_deriv) return py::make_tuple(em, deriv);
  return std::move(em);
}

template <typename T>
py::array_t<T> vjp(DEEPFT_CPU_ARGS, py::array_t<T, kIn> grad_em) {
  auto a = cpu_args<T>(DEEPFT_CPU_PASS);
  expect_shape(grad_em, "grad_em", {a.ncenter, a.nnei, 4});
  py::array_t<T> out({a.ncenter, a.nnei, int64_t{3}});
  T* o = out.mutable_data();
  Status st;
  {
    py::gil_scoped_release release;
    st = deepft::env_mat_se_a_vjp<T>(a.in, a.p, grad_em.data(), o);
  }
  check(st);
  return out;
}

template <typename T>
py::array_t<T> jvp(DEEPFT_CPU_ARGS, py::array_t<T, kIn> tangent_rij) {
  auto a = cpu_args<T>(DEEPFT_CPU_PASS);
  expect_shape(tangent_rij, "tangent_rij", {a.ncenter, a.nnei, 3});
  py::array_t<T> out({a.ncenter, a.nnei, int64_t{4}});
  T* o = out.mutable_data();
  Status st;
  {
    py::gil_scoped_release release;
    st = deepft::env_mat_se_a_jvp<T>(a.in, a.p, tangent_rij.data(), o);
  }
  check(st);
  return out;
}

template <typename T>
py::array_t<T> hvp(DEEPFT_CPU_ARGS, py::array_t<T, kIn> grad_em, py::array_t<T, kIn> tangent_rij) {
  auto a = cpu_args<T>(DEEPFT_CPU_PASS);
  expect_shape(grad_em, "grad_em", {a.ncenter, a.nnei, 4});
  expect_shape(tangent_rij, "tangent_rij", {a.ncenter, a.nnei, 3});
  py::array_t<T> out({a.ncenter, a.nnei, int64_t{3}});
  T* o = out.mutable_data();
  Status st;
  {
    py::gil_scoped_release release;
    st = deepft::env_mat_se_a_hvp<T>(a.in, a.p, grad_em.data(), tangent_rij.data(), o);
  }
  check(st);
  return out;
}

#undef DEEPFT_CPU_ARGS
#undef DEEPFT_CPU_PASS

// ---- CUDA: torch CUDA tensors (__cuda_array_interface__), validated before the launch ------

// op: 0 forward (a = em, b = em_deriv or None), 1 vjp (a = grad_em, b = grad_rij),
// 2 jvp (a = tangent_rij, b = tangent_em), 3 hvp (a = grad_em, b = tangent_rij, c = out).
template <typename T>
void cuda_call(int op, py::handle rij, py::handle mask, py::handle center_type, py::handle davg,
               py::handle dstd, double rcut, double rcut_smth, py::handle a, py::handle b,
               py::handle c, std::uintptr_t stream) {
  if (op < 0 || op > 3) throw py::value_error("op must be 0 (forward), 1 (vjp), 2 (jvp) or 3 (hvp)");
  CudaArgs args;
  std::vector<int64_t> s, t;
  EnvMatInput<T> in;
  in.rij = args.get<T>(rij, "rij", {-1, -1, 3}, CudaUse::kIn, &s);
  const int64_t nc = s[0], nn = s[1];
  in.mask = reinterpret_cast<const uint8_t*>(args.get<bool>(mask, "mask", {nc, nn}));
  in.center_type = args.get<int32_t>(center_type, "center_type", {nc});
  in.ncenter = nc;
  in.nnei = nn;
  EnvMatParams<T> p;
  p.rcut = static_cast<T>(rcut);
  p.rcut_smth = static_cast<T>(rcut_smth);
  p.davg = args.get<T>(davg, "davg", {-1, 4}, CudaUse::kIn, &t);
  p.ntypes = static_cast<int32_t>(t[0]);
  p.dstd = args.get<T>(dstd, "dstd", {t[0], 4});
  const auto out = CudaUse::kOut;
  void* st_ = cuda_stream(stream);
  const T* in_a = nullptr;
  const T* in_b = nullptr;
  T *out_a = nullptr, *out_b = nullptr;
  switch (op) {
    case 0:
      out_a = args.get<T>(a, "em", {nc, nn, 4}, out);
      out_b = args.get<T>(b, "em_deriv", {nc, nn, 4, 3}, CudaUse::kOptionalOut);
      break;
    case 1:
      in_a = args.get<T>(a, "grad_em", {nc, nn, 4});
      out_b = args.get<T>(b, "grad_rij", {nc, nn, 3}, out);
      break;
    case 2:
      in_a = args.get<T>(a, "tangent_rij", {nc, nn, 3});
      out_b = args.get<T>(b, "tangent_em", {nc, nn, 4}, out);
      break;
    default:
      in_a = args.get<T>(a, "grad_em", {nc, nn, 4});
      in_b = args.get<T>(b, "tangent_rij", {nc, nn, 3});
      out_a = args.get<T>(c, "hvp", {nc, nn, 3}, out);
  }
  args.check_devices();
  Status st;
  {
    py::gil_scoped_release release;
    switch (op) {
      case 0: st = deepft::cuda::env_mat_se_a<T>(in, p, out_a, out_b, st_); break;
      case 1: st = deepft::cuda::env_mat_se_a_vjp<T>(in, p, in_a, out_b, st_); break;
      case 2: st = deepft::cuda::env_mat_se_a_jvp<T>(in, p, in_a, out_b, st_); break;
      default: st = deepft::cuda::env_mat_se_a_hvp<T>(in, p, in_a, in_b, out_a, st_);
    }
  }
  check(st);
}

template <typename T>
void define(py::module_& m, const std::string& suffix) {
  m.def("env_mat_se_a", &forward<T>, py::arg("rij"), py::arg("mask"), py::arg("center_type"),
        py::arg("davg"), py::arg("dstd"), py::arg("rcut"), py::arg("rcut_smth"),
        py::arg("with_deriv") = false,
        "se_e2_a env matrix: rij [nc, nnei, 3], mask [nc, nnei] bool, center_type [nc] int32, "
        "davg/dstd [ntypes, 4] -> em [nc, nnei, 4] (, deriv [nc, nnei, 4, 3]).");
  m.def("env_mat_se_a_vjp", &vjp<T>, py::arg("rij"), py::arg("mask"), py::arg("center_type"),
        py::arg("davg"), py::arg("dstd"), py::arg("rcut"), py::arg("rcut_smth"),
        py::arg("grad_em"), "grad_em [nc, nnei, 4] -> grad_rij [nc, nnei, 3].");
  m.def("env_mat_se_a_jvp", &jvp<T>, py::arg("rij"), py::arg("mask"), py::arg("center_type"),
        py::arg("davg"), py::arg("dstd"), py::arg("rcut"), py::arg("rcut_smth"),
        py::arg("tangent_rij"), "tangent_rij [nc, nnei, 3] -> tangent_em [nc, nnei, 4].");
  m.def("env_mat_se_a_hvp", &hvp<T>, py::arg("rij"), py::arg("mask"), py::arg("center_type"),
        py::arg("davg"), py::arg("dstd"), py::arg("rcut"), py::arg("rcut_smth"),
        py::arg("grad_em"), py::arg("tangent_rij"),
        "(grad_em [nc, nnei, 4], tangent_rij [nc, nnei, 3]) -> hvp [nc, nnei, 3].");
  m.def(("env_mat_se_a_cuda_" + suffix).c_str(), &cuda_call<T>, py::arg("op"), py::arg("rij"),
        py::arg("mask"), py::arg("center_type"), py::arg("davg"), py::arg("dstd"),
        py::arg("rcut"), py::arg("rcut_smth"), py::arg("a"), py::arg("b") = py::none(),
        py::arg("c") = py::none(), py::arg("stream") = 0,
        "CUDA env-matrix kernels on torch CUDA tensors (checked: device, dtype, shape, "
        "contiguity); op 0 forward (a=em, b=deriv|None), 1 vjp (a=grad_em, b=grad_rij), 2 jvp "
        "(a=tangent_rij, b=tangent_em), 3 hvp (a=grad_em, b=tangent_rij, c=out).");
}

}  // namespace

void bind_env_mat(py::module_& m) {
  define<double>(m, "f64");
  define<float>(m, "f32");
}

}  // namespace deepft::python
