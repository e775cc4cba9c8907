#include <cuda_runtime.h>

#include "cuda_info.h"

namespace deepft {

bool cuda_compiled() { return true; }

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

Status cuda_check_device_pointer(const void* p) noexcept {
  cudaPointerAttributes attr{};
  const cudaError_t err = cudaPointerGetAttributes(&attr, p);
  if (err != cudaSuccess) {
    cudaGetLastError();  // not a sticky error: clear it
    return Status::Error(StatusCode::kInvalidArgument, "is not CUDA memory (%s)",
                         cudaGetErrorString(err));
  }
  if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged) {
    return Status::Error(StatusCode::kInvalidArgument,
                         "points to host memory, not to CUDA device memory");
  }
  int current = -1;
  if (cudaGetDevice(&current) != cudaSuccess) {
    cudaGetLastError();
    return Status::Error(StatusCode::kInvalidArgument, "cannot be checked: no current CUDA device");
  }
  if (attr.device != current) {
    return Status::Error(StatusCode::kInvalidArgument,
                         "is on CUDA device %d but the kernel runs on device %d", attr.device,
                         current);
  }
  return Status::Ok();
}

}  // namespace deepft
