// Products with a fixed weight matrix packed once at load time: the layers of the embedding and
// fitting nets.
//
// Why not OpenBLAS here: the core multiplies small row blocks (8-16 atoms, or the ~700
// neighbor rows of a few atoms) by the same weights thousands of times per frame; OpenBLAS
// re-packs both operands on every call, which at these shapes costs as much as the arithmetic.
// Packing W once into column panels and streaming X rows through a register-blocked kernel
// measured 1.5-3x faster than cblas_dgemm for every layer shape of the DeePMD-kit water model
// (see tests/benchmarks/bench_inference.py, which reports both). OpenBLAS (gemm.h) stays for
// the products whose operands change every call.
#pragma once

#include <cstdint>
#include <vector>

#include "aligned_vector.h"

namespace deepft {

/// W [k, n] (row-major) packed into column panels of [k, kPanel], zero padded; a remainder of at
/// most kPanel / 2 columns gets a narrow last panel [k, kPanel / 2] (less padding work: the
/// 50-column layer of the water model computes 56 columns instead of 64).
/// kPanel = two 64-byte vectors (16 doubles or 32 floats).
template <typename T>
class PackedWeights {
 public:
  static constexpr int64_t kPanel = 2 * 64 / static_cast<int64_t>(sizeof(T));

  PackedWeights() = default;
  /// Packs w [k, n]; with `transpose`, packs wᵀ ([n, k] stored as w [k, n]) instead.
  PackedWeights(const T* w, int64_t k, int64_t n, bool transpose = false);

  int64_t rows() const { return k_; }  ///< k: inner dimension of the product
  int64_t cols() const { return n_; }  ///< n: columns of the result
  bool empty() const { return k_ == 0; }
  /// Number of full-width panels for n columns (the rest, if any, is one panel of kPanel or
  /// kPanel / 2 columns).
  static int64_t full_panels(int64_t n) {
    const int64_t full = n / kPanel, rest = n % kPanel;
    return rest > kPanel / 2 ? full + 1 : full;
  }

  /// y [m, n] (row stride ldy) = x [m, k] (row stride ldx) · W, or += when `accumulate`.
  void multiply(const T* x, int64_t m, int64_t ldx, T* y, int64_t ldy, bool accumulate) const;

 private:
  int64_t k_ = 0, n_ = 0;
  AlignedVector<T> panels_;  ///< [npanel, k, kPanel]
};

/// GFLOP/s of one thread multiplying x [m, k] by a packed [k, n] (best of `repeat` products on
/// cache-resident operands): the practical peak of this kernel, a reference for benchmarks.
double packed_peak_gflops(int64_t m, int64_t k, int64_t n, int repeat);

/// Which kernel the network layers use: true (default) the packed kernel above, false OpenBLAS
/// (gemm.h) for every layer; process wide, for benchmarks.
void set_packed_layers(bool on);
bool packed_layers();

}  // namespace deepft
