// Registration functions of the deepft._core submodules (one bind_*.cc per concept).
#pragma once
#include <pybind11/pybind11.h>

namespace deepft::python {

/// Registers every kernel binding on the module; defined in bind_all.cc.
void bind_all(pybind11::module_& m);

}  // namespace deepft::python
