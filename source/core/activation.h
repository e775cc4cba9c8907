// Activation functions of the embedding and fitting nets, with their derivatives, and the
// element-wise "epilogue" of a dense layer (bias, activation, timestep, skip connection).
//
// Activations (deepft.config: tanh, gelu, relu, silu, linear):
//   tanh    tanh(z)
//   gelu    tanh approximation: 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))
//   relu    max(z, 0), derivative 0 at z = 0 (torch's convention)
//   silu    z sigmoid(z)
//   linear  z
// tanh is evaluated by an own branch-free routine (exp by range reduction + degree-13
// polynomial, accurate to a few ulp) so the compiler can vectorize it; libm's tanh is scalar
// and dominated the run time.
#pragma once

#include <cstdint>
#include <string>

namespace deepft {

enum class Activation { kTanh, kGelu, kRelu, kSilu, kLinear };

/// "tanh" | "gelu" | "relu" | "silu" | "linear" (also "none"); throws std::invalid_argument.
Activation parse_activation(const std::string& name);

/// Fills y = tanh(x) and d = 1 - y^2 for n values (the vectorized routine; for tests).
void tanh_with_derivative(const double* x, int64_t n, double* y, double* d);

/// One dense layer after its matrix product, for `rows` rows of width `out` (row stride out):
///   z = acc + b;  a = act(z) * idt;  d = act'(z) * idt   (idt == nullptr: factor 1)
///   y = a + x              when residual and out == in
///   y = a + [x, x]         when residual and out == 2 in
///   y = a                  otherwise
/// `acc_y` holds acc on entry and y on return; d may be nullptr (forward only).
/// x is [rows, in] (row stride in), read only for the skip connection.
template <typename T>
void layer_epilogue(Activation act, int64_t rows, int64_t in, int64_t out, const T* b,
                    const T* idt, bool residual, const T* x, T* acc_y, T* d);

/// Forward-mode version for a net with a scalar input s: rows of values (acc_y, as above) and
/// of tangents dy/ds (acc_t: on entry the tangent of the matrix product, (dx/ds) W):
///   y = act(z) * idt + skip(xy),   t = act'(z) * idt * acc_t + skip(xt)
/// with z = acc_y + b and the skip connections of layer_epilogue (xy, xt: [rows, in]).
template <typename T>
void layer_epilogue_tangent(Activation act, int64_t rows, int64_t in, int64_t out, const T* b,
                            const T* idt, bool residual, const T* xy, const T* xt, T* acc_y,
                            T* acc_t);

}  // namespace deepft
