// deepft._core module definition: each bind_*.cc registers one concept.
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "cuda_info.h"

#ifndef DEEPFT_VERSION
#define DEEPFT_VERSION "dev"
#endif

PYBIND11_MODULE(_core, m) {
  m.doc() = "deepft compiled kernels (neighbor list, se_e2_a environment matrix, reductions)";
  m.def("version", [] { return std::string(DEEPFT_VERSION); }, "Version of the compiled core.");
  m.def("cuda_compiled", &deepft::cuda_compiled, "True when the CUDA kernels were built in.");
  m.def("has_cuda", [] { return deepft::cuda_device_count() > 0; },
        "True when the CUDA kernels were built in and a CUDA device is visible.");
  deepft::python::bind_all(m);
}
