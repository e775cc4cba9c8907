#include "activation.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "multiversion.h"

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

inline __attribute__((always_inline)) int64_t bits_of(double v) {
  int64_t i;
  std::memcpy(&i, &v, sizeof(i));
  return i;
}

inline __attribute__((always_inline)) double from_bits(int64_t i) {
  double v;
  std::memcpy(&v, &i, sizeof(v));
  return v;
}

/// tanh without branches: tanh(a) = -expm1(-2a) / (2 + expm1(-2a)) for a = |x| (capped at
/// 20, where tanh is 1 to double precision), sign restored. expm1(y) = 2^k (p + 1) - 1 with
/// y = k ln2 + r, |r| <= ln2 / 2 and p = expm1(r) from its Taylor series to r^13
/// (truncation error < 5e-18), evaluated by Estrin's scheme.
inline __attribute__((always_inline)) double tanh_kernel(double x) {
  const double a = std::fabs(x);
  const double y = -2.0 * std::min(a, 20.0);
  constexpr double kShifter = 0x1.8p52;  // adding it rounds to an integer
  const double t = y * 1.4426950408889634074 + kShifter;
  const double kd = t - kShifter;
  const double r = (y - kd * 6.93147180369123816490e-01) - kd * 1.90821492927058770002e-10;
  // expm1(r) = r + r^2 q(r), q(r) = sum_{i=0..11} r^i / (i + 2)!, by Estrin's scheme (a short
  // dependency chain: the Horner form's 12 dependent FMAs made the loop latency bound)
  const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
  const double p01 = 1.0 / 2 + r * (1.0 / 6);
  const double p23 = 1.0 / 24 + r * (1.0 / 120);
  const double p45 = 1.0 / 720 + r * (1.0 / 5040);
  const double p67 = 1.0 / 40320 + r * (1.0 / 362880);
  const double p89 = 1.0 / 3628800 + r * (1.0 / 39916800);
  const double pab = 1.0 / 479001600 + r * (1.0 / 6227020800.0);
  const double p03 = p01 + r2 * p23;
  const double p47 = p45 + r2 * p67;
  const double p8b = p89 + r2 * pab;
  const double q = (p03 + r4 * p47) + r8 * p8b;
  const double p = r + r2 * q;  // expm1(r)
  const int64_t k = bits_of(t) - bits_of(kShifter);
  const double s = from_bits((k + 1023) << 52);  // 2^k, k in [-58, 0]
  const double em1 = s * p + (s - 1.0);
  return std::copysign(-em1 / (2.0 + em1), x);
}

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
