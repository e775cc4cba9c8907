#include "activation.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "multiversion.h"
#include "tanh_kernel.h"

namespace deepft {

Activation parse_activation(const std::string& name) {
  if (name == "tanh") return Activation::kTanh;
  if (name == "gelu") return Activation::kGelu;
  if (name == "relu") return Activation::kRelu;
  if (name == "silu") return Activation::kSilu;
  if (name == "linear" || name == "none") return Activation::kLinear;
  throw std::invalid_argument("unknown activation function '" + name +
                              "' (deepft implements tanh, gelu, relu, silu, linear)");
}

namespace {

using detail::tanh_kernel;

// act(z) and act'(z) for one value (T = float computes in double).
template <Activation A>
inline __attribute__((always_inline)) void act_value(double z, double& a, double& d) {
  if constexpr (A == Activation::kTanh) {
    a = tanh_kernel(z);
    d = 1.0 - a * a;
  } else if constexpr (A == Activation::kGelu) {
    constexpr double c = 0.7978845608028654;  // sqrt(2 / pi)
    const double u = c * (z + 0.044715 * z * z * z);
    const double th = tanh_kernel(u);
    a = 0.5 * z * (1.0 + th);
    d = 0.5 * (1.0 + th) + 0.5 * z * (1.0 - th * th) * c * (1.0 + 3.0 * 0.044715 * z * z);
  } else if constexpr (A == Activation::kRelu) {
    a = z > 0.0 ? z : 0.0;
    d = z > 0.0 ? 1.0 : 0.0;
  } else if constexpr (A == Activation::kSilu) {
    const double sg = 0.5 * (1.0 + tanh_kernel(0.5 * z));
    a = z * sg;
    d = sg * (1.0 + z * (1.0 - sg));
  } else {
    a = z;
    d = 1.0;
  }
}

// act over a flat array: y = act(z), d = act'(z) (z may alias y). One simple loop that the
// compiler vectorizes well (branch-free act_value, no per-row setup).
template <typename T, Activation A>
inline __attribute__((always_inline)) void flat_activate(int64_t n, T* __restrict y, T* __restrict d) {
  for (int64_t k = 0; k < n; ++k) {
    double a, dk;
    act_value<A>(static_cast<double>(y[k]), a, dk);
    y[k] = static_cast<T>(a);
    d[k] = static_cast<T>(dk);
  }
}

template <typename T, Activation A>
inline __attribute__((always_inline)) void flat_activate_value(int64_t n, T* __restrict y) {
  for (int64_t k = 0; k < n; ++k) {
    double a, dk;
    act_value<A>(static_cast<double>(y[k]), a, dk);
    y[k] = static_cast<T>(a);
  }
}

// Three passes over [rows, out]: z = acc + b; (a, d) = act(z); a *= idt, d *= idt, y += x.
template <typename T, Activation A>
inline __attribute__((always_inline)) void epilogue_rows(int64_t rows, int64_t in, int64_t out, const T* b, const T* idt,
                          bool residual, const T* x, T* acc_y, T* d) {
  for (int64_t r = 0; r < rows; ++r) {
    T* __restrict yr = acc_y + r * out;
    for (int64_t k = 0; k < out; ++k) yr[k] += b[k];
  }
  if (d != nullptr) {
    flat_activate<T, A>(rows * out, acc_y, d);
  } else {
    flat_activate_value<T, A>(rows * out, acc_y);
  }
  for (int64_t r = 0; r < rows; ++r) {
    T* __restrict yr = acc_y + r * out;
    if (idt != nullptr) {
      for (int64_t k = 0; k < out; ++k) yr[k] *= idt[k];
      if (d != nullptr) {
        T* __restrict dr = d + r * out;
        for (int64_t k = 0; k < out; ++k) dr[k] *= idt[k];
      }
    }
    if (!residual) continue;
    const T* __restrict xr = x + r * in;
    if (out == in) {
      for (int64_t k = 0; k < out; ++k) yr[k] += xr[k];
    } else if (out == 2 * in) {
      for (int64_t k = 0; k < in; ++k) yr[k] += xr[k];
      for (int64_t k = 0; k < in; ++k) yr[in + k] += xr[k];
    }
  }
}

// Forward-mode (tangent) epilogue: the value half as epilogue_rows, and the tangent half
//   t = act'(z) * idt * acc_t + (skip connection of the input tangent xt)
template <typename T, Activation A>
inline __attribute__((always_inline)) void tangent_rows(int64_t rows, int64_t in, int64_t out,
                                                        const T* b, const T* idt, bool residual,
                                                        const T* xy, const T* xt, T* acc_y,
                                                        T* acc_t) {
  for (int64_t r = 0; r < rows; ++r) {
    T* __restrict yr = acc_y + r * out;
    for (int64_t k = 0; k < out; ++k) yr[k] += b[k];
  }
  const int64_t n = rows * out;
  T* __restrict y = acc_y;
  T* __restrict t = acc_t;
  for (int64_t k = 0; k < n; ++k) {
    double a, dk;
    act_value<A>(static_cast<double>(y[k]), a, dk);
    y[k] = static_cast<T>(a);
    t[k] = static_cast<T>(dk * static_cast<double>(t[k]));
  }
  for (int64_t r = 0; r < rows; ++r) {
    T* __restrict yr = acc_y + r * out;
    T* __restrict tr = acc_t + r * out;
    if (idt != nullptr) {
      for (int64_t k = 0; k < out; ++k) yr[k] *= idt[k];
      for (int64_t k = 0; k < out; ++k) tr[k] *= idt[k];
    }
    if (!residual || (out != in && out != 2 * in)) continue;
    const T* __restrict xyr = xy + r * in;
    const T* __restrict xtr = xt + r * in;
    for (int64_t k = 0; k < in; ++k) yr[k] += xyr[k];
    for (int64_t k = 0; k < in; ++k) tr[k] += xtr[k];
    if (out == 2 * in) {
      for (int64_t k = 0; k < in; ++k) yr[in + k] += xyr[k];
      for (int64_t k = 0; k < in; ++k) tr[in + k] += xtr[k];
    }
  }
}

#define DEEPFT_TANGENT(T, A, NAME)                                                            \
  DEEPFT_MULTIVERSION void NAME(int64_t rows, int64_t in, int64_t out, const T* b,            \
                                const T* idt, bool residual, const T* xy, const T* xt,        \
                                T* acc_y, T* acc_t) {                                         \
    tangent_rows<T, A>(rows, in, out, b, idt, residual, xy, xt, acc_y, acc_t);                \
  }

DEEPFT_TANGENT(double, Activation::kTanh, tg_tanh_d)
DEEPFT_TANGENT(double, Activation::kGelu, tg_gelu_d)
DEEPFT_TANGENT(double, Activation::kRelu, tg_relu_d)
DEEPFT_TANGENT(double, Activation::kSilu, tg_silu_d)
DEEPFT_TANGENT(double, Activation::kLinear, tg_linear_d)
DEEPFT_TANGENT(float, Activation::kTanh, tg_tanh_f)
DEEPFT_TANGENT(float, Activation::kGelu, tg_gelu_f)
DEEPFT_TANGENT(float, Activation::kRelu, tg_relu_f)
DEEPFT_TANGENT(float, Activation::kSilu, tg_silu_f)
DEEPFT_TANGENT(float, Activation::kLinear, tg_linear_f)

#define DEEPFT_EPILOGUE(T, A, NAME)                                                           \
  DEEPFT_MULTIVERSION void NAME(int64_t rows, int64_t in, int64_t out, const T* b,            \
                                const T* idt, bool residual, const T* x, T* acc_y, T* d) {   \
    epilogue_rows<T, A>(rows, in, out, b, idt, residual, x, acc_y, d);                        \
  }

DEEPFT_EPILOGUE(double, Activation::kTanh, ep_tanh_d)
DEEPFT_EPILOGUE(double, Activation::kGelu, ep_gelu_d)
DEEPFT_EPILOGUE(double, Activation::kRelu, ep_relu_d)
DEEPFT_EPILOGUE(double, Activation::kSilu, ep_silu_d)
DEEPFT_EPILOGUE(double, Activation::kLinear, ep_linear_d)
DEEPFT_EPILOGUE(float, Activation::kTanh, ep_tanh_f)
DEEPFT_EPILOGUE(float, Activation::kGelu, ep_gelu_f)
DEEPFT_EPILOGUE(float, Activation::kRelu, ep_relu_f)
DEEPFT_EPILOGUE(float, Activation::kSilu, ep_silu_f)
DEEPFT_EPILOGUE(float, Activation::kLinear, ep_linear_f)

DEEPFT_MULTIVERSION void tanh_loop(const double* x, int64_t n, double* y, double* d) {
  for (int64_t i = 0; i < n; ++i) {
    const double t = tanh_kernel(x[i]);
    y[i] = t;
    d[i] = 1.0 - t * t;
  }
}

}  // namespace

void tanh_with_derivative(const double* x, int64_t n, double* y, double* d) {
  tanh_loop(x, n, y, d);
}

template <>
void layer_epilogue<double>(Activation act, int64_t rows, int64_t in, int64_t out,
                            const double* b, const double* idt, bool residual, const double* x,
                            double* acc_y, double* d) {
  switch (act) {
    case Activation::kTanh: return ep_tanh_d(rows, in, out, b, idt, residual, x, acc_y, d);
    case Activation::kGelu: return ep_gelu_d(rows, in, out, b, idt, residual, x, acc_y, d);
    case Activation::kRelu: return ep_relu_d(rows, in, out, b, idt, residual, x, acc_y, d);
    case Activation::kSilu: return ep_silu_d(rows, in, out, b, idt, residual, x, acc_y, d);
    case Activation::kLinear: return ep_linear_d(rows, in, out, b, idt, residual, x, acc_y, d);
  }
}

template <>
void layer_epilogue<float>(Activation act, int64_t rows, int64_t in, int64_t out,
                           const float* b, const float* idt, bool residual, const float* x,
                           float* acc_y, float* d) {
  switch (act) {
    case Activation::kTanh: return ep_tanh_f(rows, in, out, b, idt, residual, x, acc_y, d);
    case Activation::kGelu: return ep_gelu_f(rows, in, out, b, idt, residual, x, acc_y, d);
    case Activation::kRelu: return ep_relu_f(rows, in, out, b, idt, residual, x, acc_y, d);
    case Activation::kSilu: return ep_silu_f(rows, in, out, b, idt, residual, x, acc_y, d);
    case Activation::kLinear: return ep_linear_f(rows, in, out, b, idt, residual, x, acc_y, d);
  }
}

#define DEEPFT_TANGENT_DISPATCH(T, SUFFIX)                                                    \
  template <>                                                                                 \
  void layer_epilogue_tangent<T>(Activation act, int64_t rows, int64_t in, int64_t out,       \
                                 const T* b, const T* idt, bool residual, const T* xy,        \
                                 const T* xt, T* acc_y, T* acc_t) {                           \
    switch (act) {                                                                            \
      case Activation::kTanh:                                                                 \
        return tg_tanh_##SUFFIX(rows, in, out, b, idt, residual, xy, xt, acc_y, acc_t);       \
      case Activation::kGelu:                                                                 \
        return tg_gelu_##SUFFIX(rows, in, out, b, idt, residual, xy, xt, acc_y, acc_t);       \
      case Activation::kRelu:                                                                 \
        return tg_relu_##SUFFIX(rows, in, out, b, idt, residual, xy, xt, acc_y, acc_t);       \
      case Activation::kSilu:                                                                 \
        return tg_silu_##SUFFIX(rows, in, out, b, idt, residual, xy, xt, acc_y, acc_t);       \
      case Activation::kLinear:                                                               \
        return tg_linear_##SUFFIX(rows, in, out, b, idt, residual, xy, xt, acc_y, acc_t);     \
    }                                                                                         \
  }

DEEPFT_TANGENT_DISPATCH(double, d)
DEEPFT_TANGENT_DISPATCH(float, f)

}  // namespace deepft
