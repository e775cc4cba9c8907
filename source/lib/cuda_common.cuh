// Internal (not part of the public API): launch helpers shared by the .cu kernels.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "status.h"

namespace deepft::cuda::detail {

constexpr int kBlock = 256;

inline unsigned blocks_for(int64_t n) {
  return static_cast<unsigned>((n + kBlock - 1) / kBlock);
}

inline cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

/// Status of the last launch / runtime call (clears CUDA's non-sticky error state).
inline Status last_error(const char* what) {
  const cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) return Status::Ok();
  return Status::Error(StatusCode::kCudaError, "%s: %s", what, cudaGetErrorString(err));
}

inline Status check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return Status::Ok();
  cudaGetLastError();
  return Status::Error(err == cudaErrorMemoryAllocation ? StatusCode::kOutOfMemory
                                                        : StatusCode::kCudaError,
                       "%s: %s", what, cudaGetErrorString(err));
}

/// Stream-ordered scratch buffer, freed on the stream when it goes out of scope.
template <typename V>
class Scratch {
 public:
  Scratch(int64_t n, cudaStream_t s) : stream_(s) {
    if (n > 0) err_ = cudaMallocAsync(reinterpret_cast<void**>(&ptr_), sizeof(V) * n, s);
  }
  ~Scratch() {
    if (ptr_) cudaFreeAsync(ptr_, stream_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  V* get() const { return ptr_; }
  cudaError_t error() const { return err_; }

 private:
  V* ptr_ = nullptr;
  cudaStream_t stream_;
  cudaError_t err_ = cudaSuccess;
};

}  // namespace deepft::cuda::detail
