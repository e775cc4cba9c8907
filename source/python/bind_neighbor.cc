// Bindings of source/lib/neighbor_list.h.
#include <pybind11/stl.h>

#include <array>

#include "bindings.h"
#include "neighbor_list.h"

namespace py = pybind11;

namespace deepft::python {
namespace {

constexpr auto kIn = py::array::c_style | py::array::forcecast;
using Int32In = py::array_t<int32_t, kIn>;
using Int64In = py::array_t<int64_t, kIn>;

template <typename T>
py::tuple neighbor_pairs(py::array_t<T, kIn> positions, py::object box,
                         std::array<bool, 3> periodic, double cutoff, bool self_interaction,
                         bool distances, bool vectors) {
  const int64_t n = expect_shape(positions, "positions", {-1, 3})[0];
  py::array_t<T, kIn> box_arr;
  const T* box_ptr = nullptr;
  if (!box.is_none()) {
    box_arr = box.cast<py::array_t<T, kIn>>();
    if (box_arr.size() != 9) throw py::value_error("box must have 9 values (3 x 3)");
    box_ptr = box_arr.data();
  }
  PairOptions opt;
  opt.self_interaction = self_interaction;
  opt.distances = distances;
  opt.vectors = vectors;
  PairList<T> out;
  const bool per[3] = {periodic[0], periodic[1], periodic[2]};
  Status st;
  {
    py::gil_scoped_release release;
    st = deepft::neighbor_pairs<T>(positions.data(), n, box_ptr, per, static_cast<T>(cutoff), opt,
                                   out);
  }
  check(st);
  const py::ssize_t np = out.size();
  py::object d = py::none(), v = py::none();
  if (distances) d = to_numpy(std::move(out.distance), {np});
  if (vectors) v = to_numpy(std::move(out.vector), {np, 3});
  return py::make_tuple(to_numpy(std::move(out.first), {np}), to_numpy(std::move(out.second), {np}),
                        to_numpy(std::move(out.shift), {np, 3}), d, v);
}

template <typename T>
py::tuple build_nlist(py::array_t<T, kIn> coord, py::object box, Int32In atype, double rcut,
                      Int64In sel, bool with_rij) {
  const auto shape = expect_shape(coord, "coord", {-1, -1, 3});
  const int64_t nframes = shape[0], nloc = shape[1];
  expect_shape(atype, "atype", {nloc});
  const int64_t ntypes = expect_shape(sel, "sel", {-1})[0];
  int64_t nnei = 0;
  for (int64_t t = 0; t < ntypes; ++t) nnei += std::max<int64_t>(sel.at(t), 0);
  py::array_t<T, kIn> box_arr;
  const T* box_ptr = nullptr;
  if (!box.is_none()) {
    box_arr = box.cast<py::array_t<T, kIn>>();
    expect_shape(box_arr, "box", {nframes, 9});
    box_ptr = box_arr.data();
  }
  py::array_t<int64_t> nlist({nframes, nloc, nnei});
  py::array_t<int32_t> image({nframes, nloc, nnei, int64_t{3}});
  py::array_t<int64_t> max_neighbors({ntypes});
  py::array_t<int64_t> type_counts({nframes, nloc, ntypes});
  py::array_t<T> rij;
  NlistFormat<T> fmt;
  fmt.rcut = static_cast<T>(rcut);
  fmt.sel = sel.data();
  fmt.ntypes = static_cast<int32_t>(ntypes);
  NlistOutput<T> out;
  out.nlist = nlist.mutable_data();
  out.image = image.mutable_data();
  out.max_neighbors = max_neighbors.mutable_data();
  out.type_counts = type_counts.mutable_data();
  if (with_rij) {
    rij = py::array_t<T>({nframes, nloc, nnei, int64_t{3}});
    out.rij = rij.mutable_data();
  }
  Status st;
  {
    py::gil_scoped_release release;
    st = deepft::build_nlist<T>(coord.data(), box_ptr, atype.data(), nframes, nloc, fmt, out);
  }
  check(st);
  return py::make_tuple(nlist, image, max_neighbors, type_counts,
                        with_rij ? py::object(rij) : py::object(py::none()));
}

template <typename T>
py::tuple format_nlist_from_full_list(py::array_t<T, kIn> coord, Int32In atype, int64_t nloc,
                                      Int32In numneigh, Int32In neighbors, py::object ilist,
                                      double rcut, Int64In sel) {
  const int64_t nall = expect_shape(coord, "coord", {-1, 3})[0];
  expect_shape(atype, "atype", {nall});
  expect_shape(numneigh, "numneigh", {nloc});
  const int64_t ntypes = expect_shape(sel, "sel", {-1})[0];
  int64_t nnei = 0;
  for (int64_t t = 0; t < ntypes; ++t) nnei += std::max<int64_t>(sel.at(t), 0);
  // LAMMPS keeps one pointer per atom into its neighbor pages; here rows are consecutive in
  // `neighbors`, so firstneigh[i] points at the start of row i.
  std::vector<const int*> first(nloc);
  int64_t offset = 0;
  for (int64_t i = 0; i < nloc; ++i) {
    first[i] = neighbors.data() + offset;
    offset += std::max(numneigh.at(i), 0);
  }
  if (offset != neighbors.size())
    throw py::value_error("neighbors must hold sum(numneigh) = " + std::to_string(offset) +
                          " entries, got " + std::to_string(neighbors.size()));
  Int32In ilist_arr;
  ExternalNeighborList list;
  list.inum = nloc;
  if (!ilist.is_none()) {
    ilist_arr = ilist.cast<Int32In>();
    list.inum = expect_shape(ilist_arr, "ilist", {-1})[0];
    list.ilist = ilist_arr.data();
  }
  list.numneigh = numneigh.data();
  list.firstneigh = first.data();
  py::array_t<int64_t> nlist({nloc, nnei});
  py::array_t<T> rij({nloc, nnei, int64_t{3}});
  py::array_t<int64_t> max_neighbors({ntypes});
  py::array_t<int64_t> type_counts({nloc, ntypes});
  NlistFormat<T> fmt;
  fmt.rcut = static_cast<T>(rcut);
  fmt.sel = sel.data();
  fmt.ntypes = static_cast<int32_t>(ntypes);
  NlistOutput<T> out;
  out.nlist = nlist.mutable_data();
  out.rij = rij.mutable_data();
  out.max_neighbors = max_neighbors.mutable_data();
  out.type_counts = type_counts.mutable_data();
  Status st;
  {
    py::gil_scoped_release release;
    st = deepft::format_nlist_from_full_list<T>(coord.data(), atype.data(), nloc, nall, list, fmt,
                                                out);
  }
  check(st);
  return py::make_tuple(nlist, rij, max_neighbors, type_counts);
}

// CUDA: torch CUDA tensors (__cuda_array_interface__), validated before the launch; sel
// stays a host (numpy) array. None = no such output / no box.
template <typename T>
NlistFormat<T> cuda_format(double rcut, const Int64In& sel) {
  NlistFormat<T> fmt;
  fmt.rcut = static_cast<T>(rcut);
  fmt.sel = sel.data();
  fmt.ntypes = static_cast<int32_t>(expect_shape(sel, "sel", {-1})[0]);
  return fmt;
}

int64_t total(const Int64In& sel) {
  int64_t n = 0;
  for (py::ssize_t k = 0; k < sel.size(); ++k) n += sel.data()[k];
  return n;
}

template <typename T>
void build_nlist_cuda(py::handle coord, py::handle box, py::handle atype, double rcut,
                      Int64In sel, py::handle nlist, py::handle image, py::handle rij,
                      py::handle max_neighbors, py::handle type_counts, std::uintptr_t stream) {
  const NlistFormat<T> fmt = cuda_format<T>(rcut, sel);
  const int64_t nt = fmt.ntypes, nnei = total(sel);
  CudaArgs args;
  std::vector<int64_t> s;
  const T* c = args.get<T>(coord, "coord", {-1, -1, 3}, CudaUse::kIn, &s);
  const int64_t nf = s[0], nloc = s[1];
  const T* b = box.is_none() ? nullptr : args.get<T>(box, "box", {nf, 9});
  const int32_t* at = args.get<int32_t>(atype, "atype", {nloc});
  const auto opt = CudaUse::kOptionalOut;
  NlistOutput<T> out;
  out.nlist = args.get<int64_t>(nlist, "nlist", {nf, nloc, nnei}, CudaUse::kOut);
  out.image = args.get<int32_t>(image, "image", {nf, nloc, nnei, 3}, opt);
  out.rij = args.get<T>(rij, "rij", {nf, nloc, nnei, 3}, opt);
  out.max_neighbors = args.get<int64_t>(max_neighbors, "max_neighbors", {nt}, opt);
  out.type_counts = args.get<int64_t>(type_counts, "type_counts", {nf, nloc, nt}, opt);
  args.check_devices();
  Status st;
  {
    py::gil_scoped_release release;
    st = deepft::cuda::build_nlist<T>(c, b, at, nf, nloc, fmt, out, cuda_stream(stream));
  }
  check(st);
}

template <typename T>
void format_nlist_from_csr_cuda(py::handle coord, py::handle atype, int64_t nloc,
                                py::handle offsets, py::handle indices, double rcut, Int64In sel,
                                py::handle nlist, py::handle rij, py::handle max_neighbors,
                                py::handle type_counts, std::uintptr_t stream) {
  const NlistFormat<T> fmt = cuda_format<T>(rcut, sel);
  CudaArgs args;
  const int64_t nt = fmt.ntypes, nnei = total(sel);
  std::vector<int64_t> s;
  const T* c = args.get<T>(coord, "coord", {-1, 3}, CudaUse::kIn, &s);
  const int64_t nall = s[0];
  if (nloc < 0 || nloc > nall) throw py::value_error("need 0 <= nloc <= len(coord)");
  const int32_t* at = args.get<int32_t>(atype, "atype", {nall});
  const int64_t* off = args.get<int64_t>(offsets, "offsets", {nloc + 1});
  const int32_t* idx = args.get<int32_t>(indices, "indices", {-1});
  const auto opt = CudaUse::kOptionalOut;
  NlistOutput<T> out;
  out.nlist = args.get<int64_t>(nlist, "nlist", {nloc, nnei}, CudaUse::kOut);
  out.rij = args.get<T>(rij, "rij", {nloc, nnei, 3}, opt);
  out.max_neighbors = args.get<int64_t>(max_neighbors, "max_neighbors", {nt}, opt);
  out.type_counts = args.get<int64_t>(type_counts, "type_counts", {nloc, nt}, opt);
  args.check_devices();
  Status st;
  {
    py::gil_scoped_release release;
    st = deepft::cuda::format_nlist_from_csr<T>(c, at, nloc, nall, off, idx, fmt, out,
                                                cuda_stream(stream));
  }
  check(st);
}

template <typename T>
void define(py::module_& m, const std::string& suffix) {
  m.def("neighbor_pairs", &neighbor_pairs<T>, py::arg("positions"), py::arg("box"),
        py::arg("periodic"), py::arg("cutoff"), py::arg("self_interaction") = false,
        py::arg("distances") = false, py::arg("vectors") = false,
        "Full pair list -> (i [n] int64, j [n] int64, S [n, 3] int32, d [n] | None, "
        "D [n, 3] | None); see source/lib/neighbor_list.h.");
  m.def("build_nlist", &build_nlist<T>, py::arg("coord"), py::arg("box"), py::arg("atype"),
        py::arg("rcut"), py::arg("sel"), py::arg("with_rij") = false,
        "Formatted table -> (nlist [nf, nloc, nnei] int64, image [nf, nloc, nnei, 3] int32, "
        "max_neighbors [ntypes] int64, type_counts [nf, nloc, ntypes] int64, rij | None).");
  m.def("format_nlist_from_full_list", &format_nlist_from_full_list<T>, py::arg("coord"),
        py::arg("atype"), py::arg("nloc"), py::arg("numneigh"), py::arg("neighbors"),
        py::arg("ilist"), py::arg("rcut"), py::arg("sel"),
        "Formatted table over local+ghost atoms from a LAMMPS-style full list given as numneigh "
        "[nloc] and the concatenated rows `neighbors` -> (nlist, rij, max_neighbors, "
        "type_counts).");
  m.def(("build_nlist_cuda_" + suffix).c_str(), &build_nlist_cuda<T>, py::arg("coord"),
        py::arg("box"), py::arg("atype"), py::arg("rcut"), py::arg("sel"), py::arg("nlist"),
        py::arg("image") = py::none(), py::arg("rij") = py::none(),
        py::arg("max_neighbors") = py::none(), py::arg("type_counts") = py::none(),
        py::arg("stream") = 0,
        "CUDA build_nlist on torch CUDA tensors (checked: device, dtype, shape, contiguity): "
        "coord [nf, nloc, 3], box [nf, 9] | None, atype [nloc] int32, sel numpy int64; "
        "outputs nlist [nf, nloc, nnei] and optional image, rij, max_neighbors, type_counts.");
  m.def(("format_nlist_from_csr_cuda_" + suffix).c_str(), &format_nlist_from_csr_cuda<T>,
        py::arg("coord"), py::arg("atype"), py::arg("nloc"), py::arg("offsets"),
        py::arg("indices"), py::arg("rcut"), py::arg("sel"), py::arg("nlist"),
        py::arg("rij") = py::none(), py::arg("max_neighbors") = py::none(),
        py::arg("type_counts") = py::none(), py::arg("stream") = 0,
        "CUDA formatter from a CSR neighbor list on torch CUDA tensors: coord [nall, 3], atype "
        "[nall] int32, offsets [nloc + 1] int64, indices int32 -> nlist [nloc, nnei] (+ rij, "
        "max_neighbors, type_counts).");
}

}  // namespace

void bind_neighbor(py::module_& m) {
  define<double>(m, "f64");
  define<float>(m, "f32");
}

}  // namespace deepft::python
