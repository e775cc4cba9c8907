#include "model_devi.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace deepft_lmp {

void force_deviation(const std::vector<const double*>& forces, int64_t n, double relative_eps,
                     double* out) {
  const size_t m = forces.size();
  for (int64_t i = 0; i < n; ++i) {
    double avg[3] = {0, 0, 0};
    for (size_t k = 0; k < m; ++k) {
      for (int d = 0; d < 3; ++d) avg[d] += forces[k][3 * i + d];
    }
    for (int d = 0; d < 3; ++d) avg[d] /= static_cast<double>(m);
    double var = 0;
    for (size_t k = 0; k < m; ++k) {
      for (int d = 0; d < 3; ++d) {
        const double diff = forces[k][3 * i + d] - avg[d];
        var += diff * diff;
      }
    }
    double dev = std::sqrt(var / static_cast<double>(m));
    if (relative_eps >= 0) {
      const double norm = std::sqrt(avg[0] * avg[0] + avg[1] * avg[1] + avg[2] * avg[2]);
      dev /= norm + relative_eps;
    }
    out[i] = dev;
  }
}

DeviStats virial_deviation(const std::vector<std::vector<double>>& virials, double relative_eps) {
  const size_t m = virials.size();
  DeviStats s;
  s.max = 0;
  s.min = std::numeric_limits<double>::max();
  double sumsq = 0;
  for (int c = 0; c < 9; ++c) {
    double avg = 0;
    for (size_t k = 0; k < m; ++k) avg += virials[k][c];
    avg /= static_cast<double>(m);
    double var = 0;
    for (size_t k = 0; k < m; ++k) var += (virials[k][c] - avg) * (virials[k][c] - avg);
    double dev = std::sqrt(var / static_cast<double>(m));
    if (relative_eps >= 0) dev /= std::fabs(avg) + relative_eps;
    s.max = std::max(s.max, dev);
    s.min = std::min(s.min, dev);
    sumsq += dev * dev;
  }
  s.avg = std::sqrt(sumsq / 9.0);
  return s;
}

std::string devi_header(bool atomic) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "#%11s%19s%19s%19s%19s%19s%19s", "step", "max_devi_v",
                "min_devi_v", "avg_devi_v", "max_devi_f", "min_devi_f", "avg_devi_f");
  std::string h = buf;
  if (atomic) {
    std::snprintf(buf, sizeof(buf), "%19s", "atm_devi_f(N)");
    h += buf;
  }
  return h;
}

std::string devi_line(int64_t step, const DeviStats& v, const DeviStats& f,
                      const std::vector<double>& atomic) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%12lld", static_cast<long long>(step));
  std::string line = buf;
  const double cols[6] = {v.max, v.min, v.avg, f.max, f.min, f.avg};
  for (double c : cols) {
    std::snprintf(buf, sizeof(buf), " %18.6e", c);
    line += buf;
  }
  for (double a : atomic) {
    std::snprintf(buf, sizeof(buf), " %18.6e", a);
    line += buf;
  }
  return line;
}

}  // namespace deepft_lmp
