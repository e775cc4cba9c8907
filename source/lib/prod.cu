// CUDA force and virial reductions (see prod.h): one thread per (center, slot) with atomics on
// the scattered outputs; the global virial is a per-frame block reduction of the atom virial.
#include "cuda_common.cuh"
#include "prod.h"

namespace deepft::cuda {
namespace {

using detail::blocks_for;
using detail::kBlock;

template <typename T>
__global__ void force_kernel(PairGradient<T> in, T* force) {
  const int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (k >= in.nframes * in.nloc * in.nnei) return;
  const int64_t j = in.nlist[k];
  if (j < 0 || j >= in.nall) return;
  const int64_t row = k / in.nnei;  // frame * nloc + i
  const int64_t f = row / in.nloc, i = row % in.nloc;
  T* F = force + f * in.nall * 3;
  for (int a = 0; a < 3; ++a) {
    const T g = in.grad_rij[3 * k + a];
    atomicAdd(F + 3 * i + a, g);
    atomicAdd(F + 3 * j + a, -g);
  }
}

template <typename T>
__global__ void atom_virial_kernel(PairGradient<T> in, T* atom_virial) {
  const int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (k >= in.nframes * in.nloc * in.nnei) return;
  const int64_t j = in.nlist[k];
  if (j < 0 || j >= in.nall) return;
  const int64_t f = k / (in.nloc * in.nnei);
  T* V = atom_virial + (f * in.nall + j) * 9;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) atomicAdd(V + 3 * a + b, -in.grad_rij[3 * k + a] * in.rij[3 * k + b]);
}

// grid (nframes, 9): block sums atom_virial[f, :, c] into virial[f, c].
template <typename T>
__global__ void sum_atoms_kernel(const T* atom_virial, int64_t nall, T* virial) {
  __shared__ T part[kBlock];
  const int64_t f = blockIdx.x;
  const int c = blockIdx.y;
  T s = 0;
  for (int64_t j = threadIdx.x; j < nall; j += blockDim.x) s += atom_virial[(f * nall + j) * 9 + c];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if (threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) virial[f * 9 + c] = part[0];
}

template <typename T>
Status validate(const PairGradient<T>& in, bool need_rij) {
  if (in.nframes < 0 || in.nloc < 0 || in.nnei < 0 || in.nall < in.nloc)
    return Status::Error(StatusCode::kInvalidArgument,
                         "need nframes, nloc, nnei >= 0 and nall >= nloc");
  if (in.nframes * in.nloc * in.nnei > 0 && (!in.grad_rij || !in.nlist || (need_rij && !in.rij)))
    return Status::Error(StatusCode::kInvalidArgument, "missing device input arrays");
  return Status::Ok();
}

}  // namespace

template <typename T>
Status prod_force(const PairGradient<T>& in, T* force, void* stream) noexcept {
  Status st = validate(in, false);
  if (!st.ok()) return st;
  if (!force) return Status::Error(StatusCode::kInvalidArgument, "force is required");
  cudaStream_t s = detail::as_stream(stream);
  st = detail::check(cudaMemsetAsync(force, 0, sizeof(T) * in.nframes * in.nall * 3, s),
                     "prod_force memset");
  const int64_t n = in.nframes * in.nloc * in.nnei;
  if (!st.ok() || n == 0) return st;
  force_kernel<T><<<blocks_for(n), kBlock, 0, s>>>(in, force);
  return detail::last_error("prod_force launch");
}

template <typename T>
Status prod_virial(const PairGradient<T>& in, T* virial, T* atom_virial, void* stream) noexcept {
  Status st = validate(in, true);
  if (!st.ok()) return st;
  if (!virial) return Status::Error(StatusCode::kInvalidArgument, "virial is required");
  cudaStream_t s = detail::as_stream(stream);
  const int64_t nav = in.nframes * in.nall * 9;
  detail::Scratch<T> own(atom_virial ? 0 : nav, s);
  st = detail::check(own.error(), "prod_virial scratch");
  if (!st.ok()) return st;
  T* av = atom_virial ? atom_virial : own.get();
  if (nav > 0) {
    st = detail::check(cudaMemsetAsync(av, 0, sizeof(T) * nav, s), "prod_virial memset");
    if (!st.ok()) return st;
  }
  const int64_t n = in.nframes * in.nloc * in.nnei;
  if (n > 0) atom_virial_kernel<T><<<blocks_for(n), kBlock, 0, s>>>(in, av);
  if (in.nframes > 0)
    sum_atoms_kernel<T><<<dim3(static_cast<unsigned>(in.nframes), 9), kBlock, 0, s>>>(av, in.nall,
                                                                                       virial);
  return detail::last_error("prod_virial launch");
}

template Status prod_force<double>(const PairGradient<double>&, double*, void*) noexcept;
template Status prod_force<float>(const PairGradient<float>&, float*, void*) noexcept;
template Status prod_virial<double>(const PairGradient<double>&, double*, double*, void*) noexcept;
template Status prod_virial<float>(const PairGradient<float>&, float*, float*, void*) noexcept;

}  // namespace deepft::cuda
