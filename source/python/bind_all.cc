#include "bindings.h"

namespace deepft::python {

void bind_all(pybind11::module_& m) { (void)m; }

}  // namespace deepft::python
