#include "network.h"

#include <algorithm>
#include <stdexcept>

#include "gemm.h"

namespace deepft {

namespace {

template <typename T>
int64_t max_width(const std::vector<DenseLayer<T>>& layers) {
  int64_t w = 0;
  for (const auto& l : layers) w = std::max({w, l.in, l.out});
  return w;
}

}  // namespace

// The degenerate widths of the first embedding layer (in = 1) and of the fitting output
// (out = 1) are plain loops.
template <typename T>
void layer_product(const DenseLayer<T>& l, const T* x, int64_t rows, T* acc) {
  const T* w = l.matrix.data();
  if (l.in == 1) {
    for (int64_t r = 0; r < rows; ++r) {
      const T xr = x[r];
      T* ar = acc + r * l.out;
      for (int64_t k = 0; k < l.out; ++k) ar[k] = xr * w[k];
    }
  } else if (l.out == 1) {
    for (int64_t r = 0; r < rows; ++r) {
      const T* xr = x + r * l.in;
      T s = 0;
      for (int64_t k = 0; k < l.in; ++k) s += xr[k] * w[k];
      acc[r] = s;
    }
  } else if (packed_layers() && !l.packed.empty()) {
    l.packed.multiply(x, rows, l.in, acc, l.out, false);
  } else {
    blas::gemm<T>(blas::Op::kN, blas::Op::kN, rows, l.out, l.in, T(1), x, l.in, w, l.out, T(0),
                  acc, l.out);
  }
}

template <typename T>
void layer_product_transposed_acc(const DenseLayer<T>& l, const T* gz, int64_t rows, T* gx) {
  const T* w = l.matrix.data();
  if (l.in == 1) {
    for (int64_t r = 0; r < rows; ++r) {
      const T* gr = gz + r * l.out;
      T s = 0;
      for (int64_t k = 0; k < l.out; ++k) s += gr[k] * w[k];
      gx[r] += s;
    }
  } else if (l.out == 1) {
    for (int64_t r = 0; r < rows; ++r) {
      const T g = gz[r];
      T* xr = gx + r * l.in;
      for (int64_t k = 0; k < l.in; ++k) xr[k] += g * w[k];
    }
  } else if (packed_layers() && !l.packed_t.empty()) {
    l.packed_t.multiply(gz, rows, l.out, gx, l.in, true);
  } else {
    blas::gemm<T>(blas::Op::kN, blas::Op::kT, rows, l.in, l.out, T(1), gz, l.out, w, l.out, T(1),
                  gx, l.in);
  }
}

template void layer_product<double>(const DenseLayer<double>&, const double*, int64_t, double*);
template void layer_product<float>(const DenseLayer<float>&, const float*, int64_t, float*);
template void layer_product_transposed_acc<double>(const DenseLayer<double>&, const double*,
                                                   int64_t, double*);
template void layer_product_transposed_acc<float>(const DenseLayer<float>&, const float*,
                                                  int64_t, float*);

template <typename T>
int64_t Mlp<T>::saved_width() const {
  int64_t w = 0;
  for (const auto& l : layers) w += l.out;
  return w;
}

template <typename T>
void Mlp<T>::forward(const T* x, int64_t rows, T* y, T* saved, MlpWorkspace<T>& ws) const {
  const int64_t width = max_width(layers);
  grow(ws.a, rows * width);
  grow(ws.b, rows * width);
  const T* cur = x;
  int64_t offset = 0;
  for (size_t li = 0; li < layers.size(); ++li) {
    const DenseLayer<T>& l = layers[li];
    T* dst = li + 1 == layers.size() ? y : (cur == ws.a.data() ? ws.b.data() : ws.a.data());
    layer_product(l, cur, rows, dst);
    T* d = saved != nullptr ? saved + rows * offset : nullptr;
    layer_epilogue<T>(l.act, rows, l.in, l.out, l.bias.data(),
                      l.idt.empty() ? nullptr : l.idt.data(), l.residual, cur, dst, d);
    offset += l.out;
    cur = dst;
  }
}

template <typename T>
void Mlp<T>::forward_tangent(const T* x, int64_t rows, T* yt, MlpWorkspace<T>& ws) const {
  const int64_t width = max_width(layers);
  grow(ws.a, 2 * rows * width);
  grow(ws.b, 2 * rows * width);
  if (static_cast<int64_t>(ws.ones.size()) < rows) ws.ones.assign(rows, T(1));
  const T* cur = x;                // values [rows, in] (the tangents follow at cur + rows*in)
  const T* cur_t = ws.ones.data();  // tangents of the input: ds/ds = 1
  for (size_t li = 0; li < layers.size(); ++li) {
    const DenseLayer<T>& l = layers[li];
    T* dst = li + 1 == layers.size() ? yt : (cur == ws.a.data() ? ws.b.data() : ws.a.data());
    T* dst_t = dst + rows * l.out;
    if (li == 0) {
      if (l.in != 1) throw std::logic_error("forward_tangent needs a net with one input");
      layer_product(l, cur, rows, dst);  // s W
      for (int64_t r = 0; r < rows; ++r) {
        std::copy(l.matrix.begin(), l.matrix.end(), dst_t + r * l.out);  // (ds/ds) W
      }
    } else {
      // [y; t] W in one product of 2 rows (the two halves are contiguous)
      layer_product(l, cur, 2 * rows, dst);
    }
    layer_epilogue_tangent<T>(l.act, rows, l.in, l.out, l.bias.data(),
                              l.idt.empty() ? nullptr : l.idt.data(), l.residual, cur, cur_t,
                              dst, dst_t);
    cur = dst;
    cur_t = dst_t;
  }
}

template <typename T>
void Mlp<T>::backward(T* gy, int64_t rows, const T* saved, T* gx, MlpWorkspace<T>& ws) const {
  const int64_t width = max_width(layers);
  grow(ws.a, rows * width);
  grow(ws.b, rows * width);
  int64_t offset = saved_width();
  T* g = gy;  // dL/dy of the current layer, [rows, out]
  for (size_t li = layers.size(); li-- > 0;) {
    const DenseLayer<T>& l = layers[li];
    offset -= l.out;
    const T* d = saved + rows * offset;
    T* dst = li == 0 ? gx : (g == ws.a.data() ? ws.b.data() : ws.a.data());
    // skip connection: dL/dx gets dL/dy directly (once per copy of x)
    for (int64_t r = 0; r < rows; ++r) {
      const T* gr = g + r * l.out;
      T* xr = dst + r * l.in;
      if (l.residual && l.out == l.in) {
        std::copy(gr, gr + l.in, xr);
      } else if (l.residual && l.out == 2 * l.in) {
        for (int64_t k = 0; k < l.in; ++k) xr[k] = gr[k] + gr[l.in + k];
      } else {
        std::fill(xr, xr + l.in, T(0));
      }
    }
    const int64_t n = rows * l.out;
    for (int64_t k = 0; k < n; ++k) g[k] *= d[k];  // dL/dz
    layer_product_transposed_acc(l, g, rows, dst);
    g = dst;
  }
}

template class Mlp<double>;
template class Mlp<float>;

}  // namespace deepft
