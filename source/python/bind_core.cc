// Bindings of the native inference core (source/core) as deepft._core.infer: no logic here.
// C++ exceptions become deepft.errors.ModelFileError / InputError (with their hint).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bindings.h"
#include "deep_pot.h"
#include "json.h"
#include "packed_gemm.h"

namespace py = pybind11;

namespace deepft::python {

namespace {

using DArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IArray = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;
using LArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

void raise_deepft(const char* cls, const std::string& message, const std::string& hint) {
  py::object type = py::module_::import("deepft.errors").attr(cls);
  py::object exc = hint.empty() ? type(message) : type(message, hint);
  PyErr_SetObject(type.ptr(), exc.ptr());
}

py::object json_to_python(const Json& j) {
  switch (j.type()) {
    case Json::Type::kNull: return py::none();
    case Json::Type::kBool: return py::bool_(j.as_bool());
    case Json::Type::kNumber:
      if (j.is_integer()) return py::int_(j.as_int());
      return py::float_(j.as_double());
    case Json::Type::kString: return py::str(j.as_string());
    case Json::Type::kArray: {
      py::list out;
      for (const auto& v : j.as_array()) out.append(json_to_python(v));
      return std::move(out);
    }
    case Json::Type::kObject: {
      py::dict out;
      for (const auto& kv : j.as_object()) out[py::str(kv.first)] = json_to_python(kv.second);
      return std::move(out);
    }
  }
  return py::none();
}

py::dict to_dict(DeepPotOutput& o, int64_t nframes, int64_t nout, int64_t nloc,
                 bool atomic) {
  py::dict d;
  const auto ntypes = static_cast<py::ssize_t>(o.max_neighbors.size());
  d["energy"] = to_numpy(std::move(o.energy), {nframes});
  d["force"] = to_numpy(std::move(o.force), {nframes, nout, 3});
  d["virial"] = to_numpy(std::move(o.virial), {nframes, 9});
  d["max_neighbors"] = to_numpy(std::move(o.max_neighbors), {ntypes});
  if (atomic) {
    d["atom_energy"] = to_numpy(std::move(o.atom_energy), {nframes, nloc});
    d["atom_virial"] = to_numpy(std::move(o.atom_virial), {nframes, nout, 9});
  }
  return d;
}

py::dict compute_frames(const DeepPot& pot, const DArray& coord, const IArray& atype,
                        const std::optional<DArray>& box, bool atomic) {
  if (coord.ndim() != 3 || coord.shape(2) != 3) throw InputError("coord must be [nframes, natoms, 3]");
  const int64_t nf = coord.shape(0), na = coord.shape(1);
  if (atype.ndim() != 1 || atype.shape(0) != na) throw InputError("atype must be [natoms]");
  if (box && (box->ndim() != 2 || box->shape(0) != nf || box->shape(1) != 9)) {
    throw InputError("box must be [nframes, 9]");
  }
  DeepPotOutput out;
  {
    py::gil_scoped_release nogil;
    pot.compute(out, coord.data(), nf, na, atype.data(), box ? box->data() : nullptr, atomic);
  }
  return to_dict(out, nf, na, na, atomic);
}

py::dict compute_nlist(const DeepPot& pot, const DArray& coord, const IArray& atype, int64_t nloc,
                       const IArray& numneigh, const IArray& neighbors,
                       const std::optional<IArray>& ilist, const std::optional<LArray>& mapping,
                       bool atomic) {
  if (coord.ndim() != 2 || coord.shape(1) != 3) throw InputError("coord must be [nall, 3]");
  const int64_t nall = coord.shape(0);
  if (atype.ndim() != 1 || atype.shape(0) != nall) throw InputError("atype must be [nall]");
  if (numneigh.ndim() != 1 || numneigh.shape(0) != nloc) throw InputError("numneigh must be [nloc]");
  std::vector<const int*> first(nloc);
  int64_t offset = 0;
  for (int64_t i = 0; i < nloc; ++i) {
    first[i] = neighbors.data() + offset;
    offset += numneigh.data()[i];
  }
  if (offset != neighbors.size()) throw InputError("neighbors must hold sum(numneigh) entries");
  if (mapping && mapping->size() != nall) throw InputError("mapping must be [nall]");
  NeighborListView list;
  list.inum = ilist ? ilist->size() : nloc;
  list.ilist = ilist ? ilist->data() : nullptr;
  list.numneigh = numneigh.data();
  list.firstneigh = first.data();
  DeepPotOutput out;
  {
    py::gil_scoped_release nogil;
    pot.compute(out, coord.data(), atype.data(), nloc, nall, list,
                mapping ? mapping->data() : nullptr, atomic);
  }
  return to_dict(out, 1, mapping ? nloc : nall, nloc, atomic);
}

}  // namespace

void bind_core(py::module_& m) {
  py::module_ sub = m.def_submodule("infer", "native inference core (model.dft evaluator)");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ModelFileError& e) {
      raise_deepft("ModelFileError", e.what(), e.hint());
    } catch (const InputError& e) {
      raise_deepft("InputError", e.what(), e.hint());
    }
  });
  py::class_<DeepPot>(sub, "DeepPot", "A frozen model loaded by the C++ core (see deep_pot.h).")
      .def(py::init([](const std::string& path, const std::string& branch) {
             auto pot = std::make_unique<DeepPot>(path, branch);
             if (!pot->load_warnings().empty()) {
               py::object cls = py::module_::import("deepft.errors").attr("ModelFileWarning");
               for (const std::string& w : pot->load_warnings()) {
                 if (PyErr_WarnEx(cls.ptr(), w.c_str(), 1) != 0) throw py::error_already_set();
               }
             }
             return pot;
           }),
           py::arg("path"), py::arg("branch") = "")
      .def_property_readonly("type_map", &DeepPot::type_map)
      .def_property_readonly("ntypes", &DeepPot::ntypes)
      .def_property_readonly("cutoff", &DeepPot::cutoff)
      .def_property_readonly("branch", &DeepPot::branch)
      .def_property_readonly("branches", &DeepPot::branches)
      .def_property_readonly("precision", &DeepPot::precision)
      .def_property_readonly("sel", &DeepPot::sel)
      .def_property_readonly("descriptor_type", &DeepPot::descriptor_type)
      .def_property_readonly("compressed", &DeepPot::compressed)
      .def_property_readonly("check_frequency", &DeepPot::check_frequency)
      .def("table_counts",
           [](const DeepPot& p) {
             const TableCounts c = p.table_counts();
             return py::make_tuple(c.neighbors, c.beyond_data, c.beyond_table);
           })
      .def("compute", &compute_frames, py::arg("coord"), py::arg("atype"),
           py::arg("box") = py::none(), py::arg("atomic") = false,
           "coord [nframes, natoms, 3] Å, atype [natoms], box [nframes, 9] or None -> dict of "
           "energy [nf], force [nf, natoms, 3], virial [nf, 9] (+ atom_energy, atom_virial)")
      .def("compute_nlist", &compute_nlist, py::arg("coord"), py::arg("atype"), py::arg("nloc"),
           py::arg("numneigh"), py::arg("neighbors"), py::arg("ilist") = py::none(),
           py::arg("mapping") = py::none(), py::arg("atomic") = false,
           "LAMMPS-style call: coord [nall, 3], atype [nall], full neighbor list in CSR form "
           "(numneigh [nloc], neighbors [sum numneigh]); optional ghost->owner mapping [nall]");
  sub.def("set_num_threads", &DeepPot::set_num_threads, py::arg("n"));
  sub.def("num_threads", &DeepPot::num_threads);
  sub.def("blas_backend", &DeepPot::blas_backend);
  sub.def("set_packed_layers", &set_packed_layers, py::arg("on"),
          "Network layers on the packed-weight kernel (True, default) or on OpenBLAS (False).");
  sub.def("packed_layers", &packed_layers);
  sub.def("packed_peak_gflops", &packed_peak_gflops, py::arg("m"), py::arg("k"), py::arg("n"),
          py::arg("repeat") = 50, "Single-thread GFLOP/s of the packed layer kernel.");
  sub.def("parse_json", [](const std::string& text) {
    try {
      return json_to_python(Json::parse(text));
    } catch (const JsonError& e) {
      throw py::value_error(e.what());
    }
  }, py::arg("text"), "Parse JSON with the core's own parser (for tests).");
}

}  // namespace deepft::python
