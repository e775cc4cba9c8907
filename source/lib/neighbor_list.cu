// CUDA formatted neighbor tables (see neighbor_list.h). One thread per center atom scans all
// atoms of its frame and, for periodic frames, exactly the lattice images that can lie within
// rcut (per-pair bounds from the face heights of the box), keeping each type block sorted by
// insertion. Cost is O(nloc^2) per frame, which suits training-size frames (up to a few
// thousand atoms); large systems use the CPU cell list or an external list
// (format_nlist_from_csr).
#include <cmath>

#include "cuda_common.cuh"
#include "neighbor_list.h"

namespace deepft::cuda {
namespace {

using detail::blocks_for;
using detail::kBlock;

constexpr int kMaxTypes = 64;

struct Blocks {
  int32_t ntypes;
  int64_t nnei;
  int64_t sel[kMaxTypes];
  int64_t begin[kMaxTypes];
};

template <typename T>
Status make_blocks(const NlistFormat<T>& format, const NlistOutput<T>& out, Blocks& b) {
  if (!(format.rcut > 0))
    return Status::Error(StatusCode::kInvalidArgument, "rcut must be > 0");
  if (format.ntypes < 1 || format.ntypes > kMaxTypes || format.sel == nullptr)
    return Status::Error(StatusCode::kInvalidArgument,
                         "the CUDA neighbor list supports 1 to %d types with a host sel array",
                         kMaxTypes);
  if (out.nlist == nullptr)
    return Status::Error(StatusCode::kInvalidArgument, "the nlist output is required");
  b.ntypes = format.ntypes;
  b.nnei = 0;
  for (int t = 0; t < format.ntypes; ++t) {
    if (format.sel[t] < 0) return Status::Error(StatusCode::kInvalidArgument, "sel[%d] < 0", t);
    b.sel[t] = format.sel[t];
    b.begin[t] = b.nnei;
    b.nnei += format.sel[t];
  }
  return Status::Ok();
}

// Per-frame geometry: inverse box (f = x @ inv) and face heights; 12 doubles per frame.
template <typename T>
__global__ void geometry_kernel(const T* box, int64_t nframes, double* geom) {
  const int64_t f = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (f >= nframes) return;
  double m[9];
  for (int a = 0; a < 9; ++a) m[a] = static_cast<double>(box[9 * f + a]);
  // columns of the inverse = (b x c, c x a, a x b) / det, with rows a, b, c of m
  double c[3][3];
  for (int k = 0; k < 3; ++k) {
    const double* u = m + 3 * ((k + 1) % 3);
    const double* v = m + 3 * ((k + 2) % 3);
    c[k][0] = u[1] * v[2] - u[2] * v[1];
    c[k][1] = u[2] * v[0] - u[0] * v[2];
    c[k][2] = u[0] * v[1] - u[1] * v[0];
  }
  const double det = m[0] * c[0][0] + m[1] * c[0][1] + m[2] * c[0][2];
  double* g = geom + 12 * f;
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 3; ++k) g[3 * r + k] = c[k][r] / det;
  for (int k = 0; k < 3; ++k)
    g[9 + k] = fabs(det) / sqrt(c[k][0] * c[k][0] + c[k][1] * c[k][1] + c[k][2] * c[k][2]);
}

// Fractional coordinates wrapped into [0, 1) and the integer wrap (x = (frac + wrap) @ box).
template <typename T>
__global__ void wrap_kernel(const T* coord, const double* geom, int64_t nframes, int64_t nloc,
                            double* frac, int32_t* wrap) {
  const int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (k >= nframes * nloc) return;
  const double* inv = geom + 12 * (k / nloc);
  const double x[3] = {static_cast<double>(coord[3 * k]), static_cast<double>(coord[3 * k + 1]),
                       static_cast<double>(coord[3 * k + 2])};
  for (int c = 0; c < 3; ++c) {
    const double f = x[0] * inv[c] + x[1] * inv[3 + c] + x[2] * inv[6 + c];
    const double w = floor(f);
    frac[3 * k + c] = f - w;
    wrap[3 * k + c] = static_cast<int32_t>(w);
  }
}

// Squared distance |x_j - x_i + S @ box|^2 evaluated in exactly the order of the CPU code
// (no FMA contraction), so CPU and GPU tables sort ties identically.
template <typename T>
__device__ double pair_r2(const T* xj, const T* xi, const int32_t* S, const T* box) {
  double r2 = 0;
  for (int a = 0; a < 3; ++a) {
    double d = __dadd_rn(static_cast<double>(xj[a]), -static_cast<double>(xi[a]));
    if (box)
      for (int k = 0; k < 3; ++k)
        d = __dadd_rn(d, __dmul_rn(static_cast<double>(S[k]), static_cast<double>(box[3 * k + a])));
    r2 = __dadd_rn(r2, __dmul_rn(d, d));
  }
  return r2;
}

struct Key {
  double r2;
  int64_t j;
  int32_t s[3];
};

__device__ bool less(const Key& a, const Key& b) {
  if (a.r2 != b.r2) return a.r2 < b.r2;
  if (a.j != b.j) return a.j < b.j;
  if (a.s[0] != b.s[0]) return a.s[0] < b.s[0];
  if (a.s[1] != b.s[1]) return a.s[1] < b.s[1];
  return a.s[2] < b.s[2];
}

// Inserts `key` into the sorted block [0, min(filled, sel)) of one row (nl / img / r2 point at
// the block start); drops the largest key when the block is full.
__device__ void insert(int64_t* nl, int32_t* img, double* r2, int64_t sel, int64_t filled,
                       const Key& key) {
  if (sel == 0) return;
  int64_t pos = filled < sel ? filled : sel;
  if (pos == sel) {
    const Key last{r2[sel - 1], nl[sel - 1], {img[3 * (sel - 1)], img[3 * (sel - 1) + 1],
                                              img[3 * (sel - 1) + 2]}};
    if (!less(key, last)) return;
    pos = sel - 1;
  }
  while (pos > 0) {
    const Key prev{r2[pos - 1], nl[pos - 1],
                   {img[3 * (pos - 1)], img[3 * (pos - 1) + 1], img[3 * (pos - 1) + 2]}};
    if (!less(key, prev)) break;
    r2[pos] = prev.r2;
    nl[pos] = prev.j;
    for (int a = 0; a < 3; ++a) img[3 * pos + a] = prev.s[a];
    --pos;
  }
  r2[pos] = key.r2;
  nl[pos] = key.j;
  for (int a = 0; a < 3; ++a) img[3 * pos + a] = key.s[a];
}

struct RowOut {
  int64_t* nlist;
  int32_t* image;     // never null (scratch when not requested)
  double* r2;         // scratch
  void* rij;          // T*, may be null
  int64_t* max_neighbors;
  int64_t* type_counts;
};

template <typename T>
__device__ void begin_row(const Blocks& b, const RowOut& o, int64_t row) {
  for (int64_t n = 0; n < b.nnei; ++n) {
    o.nlist[row * b.nnei + n] = -1;
    for (int a = 0; a < 3; ++a) o.image[(row * b.nnei + n) * 3 + a] = 0;
    if (o.rij)
      for (int a = 0; a < 3; ++a) static_cast<T*>(o.rij)[(row * b.nnei + n) * 3 + a] = T(0);
  }
}

template <typename T>
__device__ void add(const Blocks& b, const RowOut& o, int64_t row, int32_t t, int64_t* counts,
                    const Key& key) {
  const int64_t base = row * b.nnei + b.begin[t];
  insert(o.nlist + base, o.image + 3 * base, o.r2 + base, b.sel[t], counts[t], key);
  ++counts[t];
}

// Writes counts and rij of one finished row; xi is the center, coords/box as given.
template <typename T>
__device__ void end_row(const Blocks& b, const RowOut& o, int64_t row, const int64_t* counts,
                        const T* coord, const T* xi, const T* box) {
  for (int t = 0; t < b.ntypes; ++t) {
    if (o.type_counts) o.type_counts[row * b.ntypes + t] = counts[t];
    if (o.max_neighbors)
      atomicMax(reinterpret_cast<unsigned long long*>(o.max_neighbors + t),
                static_cast<unsigned long long>(counts[t]));
  }
  if (!o.rij) return;
  for (int64_t n = 0; n < b.nnei; ++n) {
    const int64_t j = o.nlist[row * b.nnei + n];
    if (j < 0) continue;
    const int32_t* S = o.image + (row * b.nnei + n) * 3;
    for (int a = 0; a < 3; ++a) {
      double d = static_cast<double>(coord[3 * j + a]) - static_cast<double>(xi[a]);
      if (box)
        d += S[0] * static_cast<double>(box[a]) + S[1] * static_cast<double>(box[3 + a]) +
             S[2] * static_cast<double>(box[6 + a]);
      static_cast<T*>(o.rij)[(row * b.nnei + n) * 3 + a] = static_cast<T>(d);
    }
  }
}

template <typename T>
__global__ void search_kernel(const T* coord, const T* box, const int32_t* atype,
                              const double* geom, const double* frac, const int32_t* wrap,
                              int64_t nframes, int64_t nloc, double rcut, Blocks b, RowOut o) {
  const int64_t row = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (row >= nframes * nloc) return;
  const int64_t f = row / nloc, i = row % nloc;
  const T* x = coord + f * nloc * 3;
  const T* bx = box ? box + 9 * f : nullptr;
  int64_t counts[kMaxTypes];
  for (int t = 0; t < b.ntypes; ++t) counts[t] = 0;
  begin_row<T>(b, o, row);
  if (atype[i] >= 0) {
    const double rc2 = rcut * rcut;
    double reach[3] = {0, 0, 0};
    if (bx)
      for (int k = 0; k < 3; ++k) reach[k] = rcut / geom[12 * f + 9 + k];
    for (int64_t j = 0; j < nloc; ++j) {
      const int32_t tj = atype[j];
      if (tj < 0 || tj >= b.ntypes) continue;
      int lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
      if (bx) {
        for (int k = 0; k < 3; ++k) {
          // wrapped fractional difference in (-1, 1): |df + s| <= rcut / height
          const double df = frac[3 * (f * nloc + j) + k] - frac[3 * row + k];
          lo[k] = static_cast<int>(ceil(-reach[k] - df - 1e-9));
          hi[k] = static_cast<int>(floor(reach[k] - df + 1e-9));
        }
      }
      const int32_t zero[3] = {0, 0, 0};
      const int32_t* wj = bx ? wrap + 3 * (f * nloc + j) : zero;
      const int32_t* wi = bx ? wrap + 3 * row : zero;
      for (int s0 = lo[0]; s0 <= hi[0]; ++s0)
        for (int s1 = lo[1]; s1 <= hi[1]; ++s1)
          for (int s2 = lo[2]; s2 <= hi[2]; ++s2) {
            Key key;
            key.j = j;
            key.s[0] = bx ? s0 - wj[0] + wi[0] : 0;
            key.s[1] = bx ? s1 - wj[1] + wi[1] : 0;
            key.s[2] = bx ? s2 - wj[2] + wi[2] : 0;
            if (j == i && key.s[0] == 0 && key.s[1] == 0 && key.s[2] == 0) continue;
            const double r2 = pair_r2(x + 3 * j, x + 3 * i, key.s, bx);
            if (!(r2 < rc2)) continue;
            key.r2 = r2;
            add<T>(b, o, row, tj, counts, key);
          }
    }
  }
  end_row<T>(b, o, row, counts, x, x + 3 * i, bx);
}

template <typename T>
__global__ void csr_kernel(const T* coord, const int32_t* atype, int64_t nloc, int64_t nall,
                           const int64_t* offsets, const int32_t* indices, double rcut, Blocks b,
                           RowOut o) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= nloc) return;
  int64_t counts[kMaxTypes];
  for (int t = 0; t < b.ntypes; ++t) counts[t] = 0;
  begin_row<T>(b, o, i);
  if (atype[i] >= 0) {
    const double rc2 = rcut * rcut;
    for (int64_t n = offsets[i]; n < offsets[i + 1]; ++n) {
      const int64_t j = indices[n];
      if (j < 0 || j >= nall || j == i) continue;
      const int32_t tj = atype[j];
      if (tj < 0 || tj >= b.ntypes) continue;
      const int32_t zero[3] = {0, 0, 0};
      const double r2 = pair_r2(coord + 3 * j, coord + 3 * i, zero, static_cast<const T*>(nullptr));
      if (!(r2 < rc2)) continue;
      add<T>(b, o, i, tj, counts, Key{r2, j, {0, 0, 0}});
    }
  }
  end_row<T>(b, o, i, counts, coord, coord + 3 * i, static_cast<const T*>(nullptr));
}

}  // namespace

template <typename T>
Status build_nlist(const T* coord, const T* box, const int32_t* atype, int64_t nframes,
                   int64_t nloc, const NlistFormat<T>& format, const NlistOutput<T>& out,
                   void* stream) noexcept {
  Blocks b;
  Status st = make_blocks(format, out, b);
  if (!st.ok()) return st;
  if (nframes < 0 || nloc < 0)
    return Status::Error(StatusCode::kInvalidArgument, "nframes and nloc must be >= 0");
  const int64_t rows = nframes * nloc;
  cudaStream_t s = detail::as_stream(stream);
  if (out.max_neighbors) {
    st = detail::check(cudaMemsetAsync(out.max_neighbors, 0, sizeof(int64_t) * b.ntypes, s),
                       "build_nlist memset");
    if (!st.ok()) return st;
  }
  if (rows == 0) return Status::Ok();
  if (!coord || !atype)
    return Status::Error(StatusCode::kInvalidArgument, "coord and atype are required");
  detail::Scratch<double> geom(box ? 12 * nframes : 0, s), frac(box ? 3 * rows : 0, s),
      r2(rows * b.nnei, s);
  detail::Scratch<int32_t> wrap(box ? 3 * rows : 0, s),
      image(out.image ? 0 : rows * b.nnei * 3, s);
  for (cudaError_t e : {geom.error(), frac.error(), r2.error(), wrap.error(), image.error()}) {
    st = detail::check(e, "build_nlist scratch");
    if (!st.ok()) return st;
  }
  if (box) {
    geometry_kernel<T><<<blocks_for(nframes), kBlock, 0, s>>>(box, nframes, geom.get());
    wrap_kernel<T><<<blocks_for(rows), kBlock, 0, s>>>(coord, geom.get(), nframes, nloc,
                                                      frac.get(), wrap.get());
  }
  RowOut o{out.nlist, out.image ? out.image : image.get(), r2.get(), out.rij, out.max_neighbors,
           out.type_counts};
  search_kernel<T><<<blocks_for(rows), kBlock, 0, s>>>(coord, box, atype, geom.get(), frac.get(),
                                                      wrap.get(), nframes, nloc,
                                                      static_cast<double>(format.rcut), b, o);
  return detail::last_error("build_nlist launch");
}

template <typename T>
Status format_nlist_from_csr(const T* coord, const int32_t* atype, int64_t nloc, int64_t nall,
                             const int64_t* offsets, const int32_t* indices,
                             const NlistFormat<T>& format, const NlistOutput<T>& out,
                             void* stream) noexcept {
  Blocks b;
  Status st = make_blocks(format, out, b);
  if (!st.ok()) return st;
  if (nloc < 0 || nall < nloc)
    return Status::Error(StatusCode::kInvalidArgument, "need 0 <= nloc <= nall");
  cudaStream_t s = detail::as_stream(stream);
  if (out.max_neighbors) {
    st = detail::check(cudaMemsetAsync(out.max_neighbors, 0, sizeof(int64_t) * b.ntypes, s),
                       "format_nlist_from_csr memset");
    if (!st.ok()) return st;
  }
  if (nloc == 0) return Status::Ok();
  if (!coord || !atype || !offsets || !indices)
    return Status::Error(StatusCode::kInvalidArgument, "missing device input arrays");
  detail::Scratch<double> r2(nloc * b.nnei, s);
  detail::Scratch<int32_t> image(out.image ? 0 : nloc * b.nnei * 3, s);
  for (cudaError_t e : {r2.error(), image.error()}) {
    st = detail::check(e, "format_nlist_from_csr scratch");
    if (!st.ok()) return st;
  }
  RowOut o{out.nlist, out.image ? out.image : image.get(), r2.get(), out.rij, out.max_neighbors,
           out.type_counts};
  csr_kernel<T><<<blocks_for(nloc), kBlock, 0, s>>>(coord, atype, nloc, nall, offsets, indices,
                                                   static_cast<double>(format.rcut), b, o);
  return detail::last_error("format_nlist_from_csr launch");
}

#define DEEPFT_INSTANTIATE(T)                                                                   \
  template Status build_nlist<T>(const T*, const T*, const int32_t*, int64_t, int64_t,          \
                                 const NlistFormat<T>&, const NlistOutput<T>&, void*) noexcept; \
  template Status format_nlist_from_csr<T>(const T*, const int32_t*, int64_t, int64_t,          \
                                           const int64_t*, const int32_t*,                      \
                                           const NlistFormat<T>&, const NlistOutput<T>&,        \
                                           void*) noexcept;
DEEPFT_INSTANTIATE(double)
DEEPFT_INSTANTIATE(float)
#undef DEEPFT_INSTANTIATE

}  // namespace deepft::cuda
