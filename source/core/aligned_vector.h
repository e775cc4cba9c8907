// std::vector storage aligned to a 64-byte cache line, for the arrays the kernels stream with
// vector loads (packed weights, compression tables). The default allocator gives 16-byte
// alignment, and a large block (mmap'ed by malloc) starts 16 bytes into a page: then every
// other 32-byte load straddles two cache lines, measured ~10 % slower on the compressed path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace deepft {

template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};

  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(::operator new(n * sizeof(T), kAlign));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, kAlign); }

  template <typename U>
  bool operator==(const CacheLineAllocator<U>&) const noexcept { return true; }
  template <typename U>
  bool operator!=(const CacheLineAllocator<U>&) const noexcept { return false; }
};

template <typename T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

/// Grows v to at least n elements (scratch buffers reused between chunks).
template <typename T, typename Alloc>
void grow(std::vector<T, Alloc>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
}

}  // namespace deepft
