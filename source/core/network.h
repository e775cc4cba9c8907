// Multi-layer perceptrons of se_e2_a (embedding nets) and of the energy fitting, evaluated on
// a batch of rows, forward and backward (input gradient only: inference needs dE/dx, never
// dE/dW).
//
// Layer rule (DeePMD-kit, deepft.model.Layer): z = x W + b, a = act(z) * idt,
//   y = x + a if out == in and the layer has a skip connection, y = [x, x] + a if
//   out == 2 in, y = a otherwise. Hidden layers of both nets have skip connections; the final
//   fitting layer (out = 1) has neither activation, timestep nor skip connection.
#pragma once

#include <cstdint>
#include <vector>

#include "activation.h"
#include "aligned_vector.h"
#include "packed_gemm.h"

namespace deepft {

template <typename T>
struct DenseLayer {
  int64_t in = 0;
  int64_t out = 0;
  std::vector<T> matrix;  ///< [in, out]
  std::vector<T> bias;    ///< [out]
  std::vector<T> idt;     ///< [out] timestep scale, or empty
  Activation act = Activation::kTanh;
  bool residual = true;   ///< skip connection when out == in or out == 2 in
  PackedWeights<T> packed;    ///< matrix packed for x W (layers with in, out >= 2)
  PackedWeights<T> packed_t;  ///< matrixᵀ packed for g Wᵀ (backward)

  /// Fills packed / packed_t from matrix (call once the matrix is final).
  void pack() {
    if (in < 2 || out < 2) return;
    packed = PackedWeights<T>(matrix.data(), in, out, false);
    packed_t = PackedWeights<T>(matrix.data(), in, out, true);
  }
};

/// Scratch memory of one thread, grown on demand and reused between calls.
template <typename T>
struct MlpWorkspace {
  AlignedVector<T> a, b;  ///< ping-pong buffers [rows, max width] ([2 rows, ..] for tangents)
  std::vector<T> ones;  ///< [rows] ds/ds = 1, the input tangent of forward_tangent
};

template <typename T>
class Mlp {
 public:
  std::vector<DenseLayer<T>> layers;

  int64_t in_dim() const { return layers.front().in; }
  int64_t out_dim() const { return layers.back().out; }
  /// Values saved per row for backward: the sum of all layer widths.
  int64_t saved_width() const;

  /// y [rows, out_dim] = net(x [rows, in_dim]). Saves act' per layer into `saved`
  /// ([rows, saved_width()], layer-major blocks: layer l at rows * sum_{m<l} out_m) unless
  /// saved == nullptr. x and y must not overlap.
  void forward(const T* x, int64_t rows, T* y, T* saved, MlpWorkspace<T>& ws) const;

  /// Forward mode for a net of one scalar input (the embedding net, in_dim = 1): fills
  /// yt [2 rows, out_dim] with y = net(x) in rows [0, rows) and t = dy/dx in rows
  /// [rows, 2 rows). Values and tangents go through each matrix product together (one product
  /// of 2 rows), so inference needs no backward pass through the net: dE/dx = dE/dy · t.
  void forward_tangent(const T* x, int64_t rows, T* yt, MlpWorkspace<T>& ws) const;

  /// gx [rows, in_dim] = dL/dx from gy [rows, out_dim] = dL/dy and the values saved by
  /// forward(). gy is used as scratch (overwritten).
  void backward(T* gy, int64_t rows, const T* saved, T* gx, MlpWorkspace<T>& ws) const;
};

/// acc [rows, out] = x [rows, in] W: the product of a layer, without bias or activation.
template <typename T>
void layer_product(const DenseLayer<T>& l, const T* x, int64_t rows, T* acc);

/// gx [rows, in] += gz [rows, out] Wᵀ: the input gradient of that product.
template <typename T>
void layer_product_transposed_acc(const DenseLayer<T>& l, const T* gz, int64_t rows, T* gx);

}  // namespace deepft
