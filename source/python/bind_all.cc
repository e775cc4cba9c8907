#include "bindings.h"
#include "threads.h"

namespace deepft::python {

void bind_all(pybind11::module_& m) {
  m.def("num_threads", &deepft::num_threads, "Number of OpenMP threads of the CPU kernels.");
  m.def("set_num_threads", &deepft::set_num_threads, pybind11::arg("n"),
        "Sets the number of OpenMP threads of the CPU kernels.");
  bind_neighbor(m);
  bind_env_mat(m);
  bind_prod(m);
  bind_core(m);
  bind_train(m);
}

}  // namespace deepft::python
