// tanh for vectorized loops (internal to the core): a branch-free routine the compiler can
// inline into a loop and vectorize (libm's tanh is scalar and dominated the run time), accurate
// to a few ulp. Used by the network epilogues (activation.cc) and the training kernels
// (train_kernels.cc).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace deepft::detail {

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

}  // namespace deepft::detail
