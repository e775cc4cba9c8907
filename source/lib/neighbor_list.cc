// CPU neighbor lists: full pair list and formatted per-atom tables (see neighbor_list.h).
#include "neighbor_list.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <new>

#include "cell_list.h"
#include "threads.h"

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef __linux__
#include <sys/mman.h>
#endif

namespace deepft {
namespace {

// ---- pair list ------------------------------------------------------------------------------

// Appends the neighbors of atoms [begin, end) to `out`, recomputing distances / vectors from
// the positions as given (not the wrapped ones) so they equal x_j + S @ box - x_i.
template <typename T>
void collect_pairs(const detail::CellList& cells, const T* pos, const double box[9],
                   int64_t begin, int64_t end, const PairOptions& opt, PairList<T>& out) {
  for (int64_t i = begin; i < end; ++i) {
    cells.for_each_neighbor(i, opt.self_interaction,
                            [&](int64_t j, const int32_t* S, double) {
                              out.first.push_back(i);
                              out.second.push_back(j);
                              out.shift.push_back(S[0]);
                              out.shift.push_back(S[1]);
                              out.shift.push_back(S[2]);
                              if (!opt.distances && !opt.vectors) return;
                              double d[3];
                              for (int a = 0; a < 3; ++a)
                                d[a] = static_cast<double>(pos[3 * j + a]) -
                                       static_cast<double>(pos[3 * i + a]) + S[0] * box[a] +
                                       S[1] * box[3 + a] + S[2] * box[6 + a];
                              if (opt.distances)
                                out.distance.push_back(
                                    static_cast<T>(std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])));
                              if (opt.vectors)
                                for (double x : d) out.vector.push_back(static_cast<T>(x));
                            });
  }
}

// Large output buffers are written once, front to back: ask for transparent huge pages so
// that first-touch page faults (which dominate the cost of big lists) happen per 2 MiB.
template <typename V>
void reserve_large(std::vector<V>& v, int64_t n) {
  v.reserve(static_cast<size_t>(n));
#ifdef __linux__
  constexpr uintptr_t kHuge = uintptr_t{1} << 21;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(v.data()) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(v.data() + v.capacity())) & ~(kHuge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#endif
}

template <typename T>
void reserve_pairs(PairList<T>& out, int64_t n, const PairOptions& opt) {
  reserve_large(out.first, n);
  reserve_large(out.second, n);
  reserve_large(out.shift, 3 * n);
  if (opt.distances) reserve_large(out.distance, n);
  if (opt.vectors) reserve_large(out.vector, 3 * n);
}

template <typename T>
void append(PairList<T>& dst, const PairList<T>& src) {
  dst.first.insert(dst.first.end(), src.first.begin(), src.first.end());
  dst.second.insert(dst.second.end(), src.second.begin(), src.second.end());
  dst.shift.insert(dst.shift.end(), src.shift.begin(), src.shift.end());
  dst.distance.insert(dst.distance.end(), src.distance.begin(), src.distance.end());
  dst.vector.insert(dst.vector.end(), src.vector.begin(), src.vector.end());
}

// ---- formatted tables -----------------------------------------------------------------------

struct Candidate {
  double r2;
  int64_t j;
  int32_t s[3];
};

inline bool operator<(const Candidate& a, const Candidate& b) {
  if (a.r2 != b.r2) return a.r2 < b.r2;
  if (a.j != b.j) return a.j < b.j;
  if (a.s[0] != b.s[0]) return a.s[0] < b.s[0];
  if (a.s[1] != b.s[1]) return a.s[1] < b.s[1];
  return a.s[2] < b.s[2];
}

// Validated layout: slot offset of each type block.
struct Layout {
  int32_t ntypes = 0;
  int64_t nnei = 0;
  std::vector<int64_t> sel, begin;
};

template <typename T>
Status make_layout(const NlistFormat<T>& format, const NlistOutput<T>& out, Layout& layout) {
  if (!(format.rcut > 0) || !std::isfinite(static_cast<double>(format.rcut)))
    return Status::Error(StatusCode::kInvalidArgument, "rcut must be finite and > 0, got %g",
                         static_cast<double>(format.rcut));
  if (format.ntypes < 1 || format.sel == nullptr)
    return Status::Error(StatusCode::kInvalidArgument, "need ntypes >= 1 and a sel array");
  if (out.nlist == nullptr)
    return Status::Error(StatusCode::kInvalidArgument, "the nlist output is required");
  layout.ntypes = format.ntypes;
  layout.sel.assign(format.sel, format.sel + format.ntypes);
  layout.begin.resize(format.ntypes);
  layout.nnei = 0;
  for (int32_t t = 0; t < format.ntypes; ++t) {
    if (layout.sel[t] < 0)
      return Status::Error(StatusCode::kInvalidArgument, "sel[%d] = %lld is negative", t,
                           static_cast<long long>(layout.sel[t]));
    layout.begin[t] = layout.nnei;
    layout.nnei += layout.sel[t];
  }
  return Status::Ok();
}

// Per-thread scratch: candidates of each neighbor type and the running max counts.
struct Scratch {
  std::vector<std::vector<Candidate>> by_type;
  std::vector<int64_t> max_count;
  explicit Scratch(int32_t ntypes) : by_type(ntypes), max_count(ntypes, 0) {}
  void clear() {
    for (auto& v : by_type) v.clear();
  }
};

// Sorts the candidates of one center into its table row (row = flat row index).
template <typename T>
void write_row(const Layout& L, Scratch& scratch, int64_t row, const double* box,
               const T* xi, const T* coord, const NlistOutput<T>& out) {
  int64_t* nl = out.nlist + row * L.nnei;
  std::fill(nl, nl + L.nnei, int64_t{-1});
  if (out.image) std::fill(out.image + row * L.nnei * 3, out.image + (row + 1) * L.nnei * 3, 0);
  if (out.rij) std::fill(out.rij + row * L.nnei * 3, out.rij + (row + 1) * L.nnei * 3, T(0));
  for (int32_t t = 0; t < L.ntypes; ++t) {
    auto& c = scratch.by_type[t];
    const int64_t count = static_cast<int64_t>(c.size());
    const int64_t keep = std::min(count, L.sel[t]);
    if (out.type_counts) out.type_counts[row * L.ntypes + t] = count;
    scratch.max_count[t] = std::max(scratch.max_count[t], count);
    if (keep < count) std::nth_element(c.begin(), c.begin() + keep, c.end());
    std::sort(c.begin(), c.begin() + keep);
    for (int64_t k = 0; k < keep; ++k) {
      const int64_t slot = L.begin[t] + k;
      const Candidate& cand = c[k];
      nl[slot] = cand.j;
      if (out.image)
        for (int a = 0; a < 3; ++a) out.image[(row * L.nnei + slot) * 3 + a] = cand.s[a];
      if (out.rij) {
        for (int a = 0; a < 3; ++a) {
          double d = static_cast<double>(coord[3 * cand.j + a]) - static_cast<double>(xi[a]);
          if (box)
            d += cand.s[0] * box[a] + cand.s[1] * box[3 + a] + cand.s[2] * box[6 + a];
          out.rij[(row * L.nnei + slot) * 3 + a] = static_cast<T>(d);
        }
      }
    }
  }
}

template <typename T>
void finish_max(const Layout& L, std::vector<Scratch>& scratch, const NlistOutput<T>& out) {
  if (!out.max_neighbors) return;
  for (int32_t t = 0; t < L.ntypes; ++t) {
    int64_t m = 0;
    for (const auto& s : scratch) m = std::max(m, s.max_count[t]);
    out.max_neighbors[t] = m;
  }
}

Status oom(const char* what) {
  return Status::Error(StatusCode::kOutOfMemory, "out of memory in %s", what);
}

}  // namespace

// ---- public entry points --------------------------------------------------------------------

template <typename T>
Status neighbor_pairs(const T* positions, int64_t natoms, const T* box, const bool periodic[3],
                      T cutoff, const PairOptions& options, PairList<T>& out) noexcept {
  try {
    out = PairList<T>{};
    if (natoms > 0 && positions == nullptr)
      return Status::Error(StatusCode::kInvalidArgument, "positions is null");
    detail::CellList cells;
    Status st = cells.build(positions, natoms, box, periodic, static_cast<double>(cutoff));
    if (!st.ok()) return st;
    double box_d[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
    for (int k = 0; k < 3; ++k)
      if (periodic[k])
        for (int a = 0; a < 3; ++a) box_d[3 * k + a] = static_cast<double>(box[3 * k + a]);
    // Expected pair count from the density (periodic directions only) for one reservation.
    double estimate = 0;
    if (periodic[0] && periodic[1] && periodic[2]) {
      const double vol = std::fabs(box_d[0] * (box_d[4] * box_d[8] - box_d[5] * box_d[7]) -
                                   box_d[1] * (box_d[3] * box_d[8] - box_d[5] * box_d[6]) +
                                   box_d[2] * (box_d[3] * box_d[7] - box_d[4] * box_d[6]));
      const double rc = static_cast<double>(cutoff);
      estimate = 1.05 * natoms * (natoms / vol) * 4.18879020478639 * rc * rc * rc + 16;
    }
    const int nthreads = threads_for(natoms * 100);
    if (nthreads <= 1) {
      if (estimate > 0) reserve_pairs(out, static_cast<int64_t>(estimate), options);
      collect_pairs(cells, positions, box_d, 0, natoms, options, out);
      return Status::Ok();
    }
    std::vector<PairList<T>> parts(nthreads);
    std::atomic<bool> failed{false};
#pragma omp parallel num_threads(nthreads)
    {
      const int t = thread_id();
      const int nt = nthreads;
      const int64_t begin = natoms * t / nt, end = natoms * (t + 1) / nt;
      try {
        if (estimate > 0) reserve_pairs(parts[t], static_cast<int64_t>(estimate / nt), options);
        collect_pairs(cells, positions, box_d, begin, end, options, parts[t]);
      } catch (...) {
        failed = true;
      }
    }
    if (failed) return oom("neighbor_pairs");
    int64_t total = 0;
    for (const auto& p : parts) total += p.size();
    reserve_pairs(out, total, options);
    for (auto& p : parts) {
      append(out, p);
      p = PairList<T>{};
    }
  } catch (const std::bad_alloc&) {
    return oom("neighbor_pairs");
  } catch (...) {
    return Status::Error(StatusCode::kInternal, "unexpected error in neighbor_pairs");
  }
  return Status::Ok();
}

template <typename T>
Status build_nlist(const T* coord, const T* box, const int32_t* atype, int64_t nframes,
                   int64_t nloc, const NlistFormat<T>& format, const NlistOutput<T>& out) noexcept {
  try {
    Layout L;
    Status st = make_layout(format, out, L);
    if (!st.ok()) return st;
    if (nframes < 0 || nloc < 0)
      return Status::Error(StatusCode::kInvalidArgument, "nframes and nloc must be >= 0");
    if (nframes * nloc > 0 && (coord == nullptr || atype == nullptr))
      return Status::Error(StatusCode::kInvalidArgument, "coord and atype must not be null");
    for (int64_t i = 0; i < nloc; ++i)
      if (atype[i] >= L.ntypes)
        return Status::Error(StatusCode::kInvalidArgument,
                             "atom %lld has type %d but only %d types are declared (sel has %d "
                             "entries)",
                             static_cast<long long>(i), atype[i], L.ntypes, L.ntypes);
    const bool periodic[3] = {box != nullptr, box != nullptr, box != nullptr};
    const double rc2 = static_cast<double>(format.rcut) * static_cast<double>(format.rcut);
    const int nthreads = threads_for(nframes * nloc * 100);
    std::vector<Scratch> scratch(nthreads, Scratch(L.ntypes));
    detail::CellList cells;
    for (int64_t f = 0; f < nframes; ++f) {
      const T* x = coord + f * nloc * 3;
      double bd[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
      if (box)
        for (int a = 0; a < 9; ++a) bd[a] = static_cast<double>(box[f * 9 + a]);
      st = cells.build(x, nloc, box ? box + f * 9 : nullptr, periodic,
                       static_cast<double>(format.rcut));
      if (!st.ok()) return st;
      std::atomic<bool> failed{false};
#pragma omp parallel for schedule(dynamic, 16) num_threads(nthreads)
      for (int64_t i = 0; i < nloc; ++i) {
        Scratch& s = scratch[thread_id()];
        try {
          s.clear();
          if (atype[i] >= 0) {
            cells.for_each_neighbor(
                i, false, [&](int64_t j, const int32_t* S, double) {
                  const int32_t tj = atype[j];
                  if (tj < 0) return;
                  // distance from the coordinates as given, so it matches rij / image exactly
                  double r2 = 0;
                  for (int a = 0; a < 3; ++a) {
                    const double d = static_cast<double>(x[3 * j + a]) -
                                     static_cast<double>(x[3 * i + a]) + S[0] * bd[a] +
                                     S[1] * bd[3 + a] + S[2] * bd[6 + a];
                    r2 += d * d;
                  }
                  if (r2 < rc2) s.by_type[tj].push_back(Candidate{r2, j, {S[0], S[1], S[2]}});
                });
          }
          write_row(L, s, f * nloc + i, box ? bd : nullptr, x + 3 * i, x, out);
        } catch (...) {
          failed = true;
        }
      }
      if (failed) return oom("build_nlist");
    }
    finish_max(L, scratch, out);
  } catch (const std::bad_alloc&) {
    return oom("build_nlist");
  } catch (...) {
    return Status::Error(StatusCode::kInternal, "unexpected error in build_nlist");
  }
  return Status::Ok();
}

template <typename T>
Status format_nlist_from_full_list(const T* coord, const int32_t* atype, int64_t nloc,
                                   int64_t nall, const ExternalNeighborList& list,
                                   const NlistFormat<T>& format,
                                   const NlistOutput<T>& out) noexcept {
  try {
    Layout L;
    Status st = make_layout(format, out, L);
    if (!st.ok()) return st;
    if (nloc < 0 || nall < nloc)
      return Status::Error(StatusCode::kInvalidArgument, "need 0 <= nloc <= nall");
    if (nall > 0 && (coord == nullptr || atype == nullptr))
      return Status::Error(StatusCode::kInvalidArgument, "coord and atype must not be null");
    if (list.inum < 0 || list.inum > nloc || (list.inum > 0 && (list.numneigh == nullptr ||
                                                                list.firstneigh == nullptr)))
      return Status::Error(StatusCode::kInvalidArgument,
                           "invalid external list: need 0 <= inum <= nloc and numneigh / "
                           "firstneigh arrays");
    for (int64_t i = 0; i < nall; ++i)
      if (atype[i] >= L.ntypes)
        return Status::Error(StatusCode::kInvalidArgument,
                             "atom %lld has type %d but only %d types are declared",
                             static_cast<long long>(i), atype[i], L.ntypes);
    // Rows of local atoms absent from ilist stay empty.
    Scratch empty(L.ntypes);
    for (int64_t i = 0; i < nloc; ++i) write_row(L, empty, i, nullptr, coord + 3 * i, coord, out);
    const double rc2 = static_cast<double>(format.rcut) * static_cast<double>(format.rcut);
    const int nthreads = threads_for(list.inum * 100);
    std::vector<Scratch> scratch(nthreads, Scratch(L.ntypes));
    std::atomic<int> error{0};  // 1: bad index, 2: out of memory
    std::atomic<int64_t> bad_row{-1}, bad_value{0};
#pragma omp parallel for schedule(dynamic, 16) num_threads(nthreads)
    for (int64_t ii = 0; ii < list.inum; ++ii) {
      const int64_t i = list.ilist ? list.ilist[ii] : ii;
      if (i < 0 || i >= nloc) {
        error = 1;
        bad_row = ii;
        bad_value = i;
        continue;
      }
      Scratch& s = scratch[thread_id()];
      try {
        s.clear();
        if (atype[i] >= 0) {
          const int* js = list.firstneigh[i];
          for (int n = 0; n < list.numneigh[i]; ++n) {
            const int64_t j = js[n];
            if (j < 0 || j >= nall) {
              error = 1;
              bad_row = i;
              bad_value = j;
              break;
            }
            if (j == i || atype[j] < 0) continue;
            double r2 = 0;
            for (int a = 0; a < 3; ++a) {
              const double d =
                  static_cast<double>(coord[3 * j + a]) - static_cast<double>(coord[3 * i + a]);
              r2 += d * d;
            }
            if (r2 < rc2) s.by_type[atype[j]].push_back(Candidate{r2, j, {0, 0, 0}});
          }
        }
        write_row(L, s, i, nullptr, coord + 3 * i, coord, out);
      } catch (...) {
        error = 2;
      }
    }
    if (error == 1)
      return Status::Error(StatusCode::kInvalidArgument,
                           "external neighbor list: row %lld holds index %lld outside [0, %lld) "
                           "(clear LAMMPS special bits with j & NEIGHMASK)",
                           static_cast<long long>(bad_row.load()),
                           static_cast<long long>(bad_value.load()),
                           static_cast<long long>(nall));
    if (error == 2) return oom("format_nlist_from_full_list");
    finish_max(L, scratch, out);
  } catch (const std::bad_alloc&) {
    return oom("format_nlist_from_full_list");
  } catch (...) {
    return Status::Error(StatusCode::kInternal, "unexpected error in format_nlist_from_full_list");
  }
  return Status::Ok();
}

#define DEEPFT_INSTANTIATE(T)                                                                  \
  template Status neighbor_pairs<T>(const T*, int64_t, const T*, const bool[3], T,            \
                                    const PairOptions&, PairList<T>&) noexcept;               \
  template Status build_nlist<T>(const T*, const T*, const int32_t*, int64_t, int64_t,         \
                                 const NlistFormat<T>&, const NlistOutput<T>&) noexcept;       \
  template Status format_nlist_from_full_list<T>(const T*, const int32_t*, int64_t, int64_t,   \
                                                 const ExternalNeighborList&,                  \
                                                 const NlistFormat<T>&,                        \
                                                 const NlistOutput<T>&) noexcept;
DEEPFT_INSTANTIATE(double)
DEEPFT_INSTANTIATE(float)
#undef DEEPFT_INSTANTIATE

}  // namespace deepft
