// Training loops of source/core/train_kernels.h against their definitions written as plain
// loops: the tanh tangent layer (forward and backward) for widths that exercise every tile,
// remainder row and tail column of the block products, and the se_e2_a contractions.
#include <cmath>
#include <random>
#include <vector>

#include "harness.h"
#include "train_kernels.h"

using namespace deepft;

namespace {

constexpr double kSameSums = 1e-12;  // the same sums in another order, relative to 1 + |value|

std::vector<double> normal(std::mt19937_64& rng, size_t n, double scale = 1.0) {
  std::normal_distribution<double> d(0.0, scale);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

void check_all_near(const std::vector<double>& a, const std::vector<double>& b) {
  CHECK(a.size() == b.size());
  for (size_t k = 0; k < a.size() && k < b.size(); ++k) {
    CHECK_NEAR(a[k], b[k], kSameSums * (1.0 + std::fabs(b[k])));
  }
}

struct Layer {
  int64_t rows, in, out;
  train::Skip skip;
  bool idt;
};

}  // namespace

TEST(tanh_tangent_layer_equals_its_definition) {
  std::mt19937_64 rng(7);
  // rows: more than one 128-row block and a partial one; widths: tiles of 6 rows and 2
  // vectors with remainders, one-input layers, every skip connection
  const Layer layers[] = {{300, 1, 25, train::Skip::kNone, false},
                          {300, 25, 50, train::Skip::kDouble, false},
                          {131, 50, 100, train::Skip::kDouble, true},
                          {70, 7, 7, train::Skip::kSame, true},
                          {257, 3, 5, train::Skip::kNone, true}};
  for (const Layer& l : layers) {
    deepft_test::context() = std::to_string(l.in) + " -> " + std::to_string(l.out);
    const int64_t n = l.rows, in = l.in, out = l.out;
    const auto x = normal(rng, n * in), xt = normal(rng, n * in), w = normal(rng, in * out, 0.3);
    const auto b = normal(rng, out), idt_v = normal(rng, out), dy = normal(rng, n * out);
    const auto dyt = normal(rng, n * out);
    const double* idt = l.idt ? idt_v.data() : nullptr;
    std::vector<double> h(n * out), zt(n * out), y(n * out), yt(n * out);
    train::tanh_tangent_layer<double>(n, in, out, l.skip, w.data(), b.data(), idt, x.data(),
                                      xt.data(), h.data(), zt.data(), y.data(), yt.data());
    std::vector<double> dw(in * out), db(out), di(out), dx(n * in), dxt(n * in);
    train::tanh_tangent_layer_backward<double>(n, in, out, l.skip, w.data(), idt, x.data(),
                                               xt.data(), h.data(), zt.data(), dy.data(),
                                               dyt.data(), dw.data(), db.data(),
                                               l.idt ? di.data() : nullptr, dx.data(),
                                               dxt.data());
    // the definitions
    std::vector<double> rh(n * out), rzt(n * out), ry(n * out), ryt(n * out);
    std::vector<double> rdw(in * out, 0.0), rdb(out, 0.0), rdi(out, 0.0), rdx(n * in, 0.0);
    std::vector<double> rdxt(n * in, 0.0);
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t o = 0; o < out; ++o) {
        double z = b[o], t = 0;
        for (int64_t i = 0; i < in; ++i) {
          z += x[r * in + i] * w[i * out + o];
          t += xt[r * in + i] * w[i * out + o];
        }
        const double hv = std::tanh(z), g = 1 - hv * hv, s = l.idt ? idt_v[o] : 1.0;
        const int64_t src = l.skip == train::Skip::kNone ? -1 : o % in;
        rh[r * out + o] = hv;
        rzt[r * out + o] = t;
        ry[r * out + o] = s * hv + (src < 0 ? 0.0 : x[r * in + src]);
        ryt[r * out + o] = s * g * t + (src < 0 ? 0.0 : xt[r * in + src]);
        const double gy = dy[r * out + o], gyt = dyt[r * out + o];
        const double dz = g * (s * gy - 2 * hv * t * s * gyt), dzt = g * s * gyt;
        rdb[o] += dz;
        rdi[o] += gy * hv + gyt * g * t;
        for (int64_t i = 0; i < in; ++i) {
          rdw[i * out + o] += x[r * in + i] * dz + xt[r * in + i] * dzt;
          rdx[r * in + i] += dz * w[i * out + o];
          rdxt[r * in + i] += dzt * w[i * out + o];
        }
        if (src >= 0) {
          rdx[r * in + src] += gy;
          rdxt[r * in + src] += gyt;
        }
      }
    }
    check_all_near(h, rh);
    check_all_near(zt, rzt);
    check_all_near(y, ry);
    check_all_near(yt, ryt);
    check_all_near(dw, rdw);
    check_all_near(db, rdb);
    if (l.idt) check_all_near(di, rdi);
    check_all_near(dx, rdx);
    check_all_near(dxt, rdxt);
  }
}

TEST(se_a_contractions_equal_their_definitions) {
  std::mt19937_64 rng(11);
  const int64_t n = 9, k = 13, m = 37;
  const auto r = normal(rng, n * k * 4), g = normal(rng, n * k * m), gt = normal(rng, n * k * m);
  const auto a = normal(rng, n * 4 * m), v = normal(rng, n * k * 4), dt = normal(rng, n * 4 * m);
  std::vector<double> t(n * 4 * m), dg1(n * k * m), out(n * k * 4), da(n * 4 * m);
  std::vector<double> dg(n * k * m), dgt(n * k * m);
  train::env_contract<double>(n, k, m, r.data(), g.data(), t.data());
  train::env_contract_backward<double>(n, k, m, r.data(), dt.data(), dg1.data());
  train::pair_grad<double>(n, k, m, r.data(), g.data(), gt.data(), a.data(), out.data());
  train::pair_grad_backward<double>(n, k, m, r.data(), g.data(), gt.data(), a.data(), v.data(),
                                    da.data(), dg.data(), dgt.data());
  std::vector<double> rt(n * 4 * m, 0.0), rdg1(n * k * m, 0.0), rout(n * k * 4, 0.0);
  std::vector<double> rda(n * 4 * m, 0.0), rdg(n * k * m, 0.0), rdgt(n * k * m, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < k; ++j) {
      const double* rj = &r[(i * k + j) * 4];
      const double* vj = &v[(i * k + j) * 4];
      for (int c = 0; c < 4; ++c) {
        for (int64_t q = 0; q < m; ++q) {
          const double gv = g[(i * k + j) * m + q], tv = gt[(i * k + j) * m + q];
          const double ac = a[(i * 4 + c) * m + q];
          rt[(i * 4 + c) * m + q] += rj[c] * gv;
          rdg1[(i * k + j) * m + q] += rj[c] * dt[(i * 4 + c) * m + q];
          rout[(i * k + j) * 4 + c] += gv * ac;
          rout[(i * k + j) * 4] += rj[c] * tv * ac;
          rda[(i * 4 + c) * m + q] += vj[c] * gv + vj[0] * rj[c] * tv;
          rdg[(i * k + j) * m + q] += vj[c] * ac;
          rdgt[(i * k + j) * m + q] += vj[0] * rj[c] * ac;
        }
      }
    }
  }
  check_all_near(t, rt);
  check_all_near(dg1, rdg1);
  check_all_near(out, rout);
  check_all_near(da, rda);
  check_all_near(dg, rdg);
  check_all_near(dgt, rdgt);
}
