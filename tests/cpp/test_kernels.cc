// Kernels of source/lib: neighbor list vs brute force, env matrix vs finite differences of
// itself (derivative, vjp, jvp, hvp), prod_force / prod_virial vs their defining sums.
#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "env_mat.h"
#include "harness.h"
#include "neighbor_list.h"
#include "prod.h"

using namespace deepft;

namespace {

constexpr double kExact = 1e-12;     // same sums in another order
constexpr double kFdStep = 1e-6;     // Å, central differences
constexpr double kFdTol = 1e-6;      // relative to 1 + |value| for O(h^2) differences

std::vector<double> uniform(std::mt19937_64& rng, size_t n, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// A triclinic box thinner than 2 rcut (several images of a neighbor), unwrapped positions.
const double kBox[9] = {5.5, 0, 0, 0.7, 6.1, 0, -0.4, 0.9, 5.8};
constexpr double kRcut = 3.7;

struct BrutePair {
  int64_t j;
  std::array<int32_t, 3> s;
  double d;
};

std::vector<std::vector<BrutePair>> brute_pairs(const std::vector<double>& x, int64_t n) {
  std::vector<std::vector<BrutePair>> out(n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int32_t a = -3; a <= 3; ++a)
        for (int32_t b = -3; b <= 3; ++b)
          for (int32_t c = -3; c <= 3; ++c) {
            if (i == j && a == 0 && b == 0 && c == 0) continue;
            double d2 = 0;
            for (int k = 0; k < 3; ++k) {
              const double r = x[j * 3 + k] + a * kBox[k] + b * kBox[3 + k] + c * kBox[6 + k] -
                               x[i * 3 + k];
              d2 += r * r;
            }
            if (d2 < kRcut * kRcut) out[i].push_back({j, {a, b, c}, std::sqrt(d2)});
          }
  return out;
}

std::vector<double> random_positions(std::mt19937_64& rng, int64_t n) {
  const auto frac = uniform(rng, n * 3, -0.2, 1.2);
  std::vector<double> x(n * 3, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int a = 0; a < 3; ++a)
      for (int k = 0; k < 3; ++k) x[i * 3 + k] += frac[i * 3 + a] * kBox[a * 3 + k];
  return x;
}

}  // namespace

TEST(neighbor_pairs_match_brute_force) {
  std::mt19937_64 rng(1);
  const int64_t n = 40;
  const auto x = random_positions(rng, n);
  PairList<double> pl;
  PairOptions opt;
  opt.distances = true;
  const bool periodic[3] = {true, true, true};
  CHECK(neighbor_pairs<double>(x.data(), n, kBox, periodic, kRcut, opt, pl).ok());
  std::set<std::tuple<int64_t, int64_t, int32_t, int32_t, int32_t>> got, want;
  for (int64_t p = 0; p < pl.size(); ++p) {
    got.insert({pl.first[p], pl.second[p], pl.shift[p * 3], pl.shift[p * 3 + 1],
                pl.shift[p * 3 + 2]});
  }
  const auto brute = brute_pairs(x, n);
  size_t total = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (const auto& bp : brute[i]) want.insert({i, bp.j, bp.s[0], bp.s[1], bp.s[2]});
    total += brute[i].size();
  }
  CHECK(total > 200);  // the test is not vacuous
  CHECK(got == want);
  CHECK(static_cast<size_t>(pl.size()) == total);  // no duplicates
}

TEST(build_nlist_keeps_the_nearest_sel_per_type_and_reports_counts) {
  std::mt19937_64 rng(2);
  const int64_t n = 30;
  const auto x = random_positions(rng, n);
  std::vector<int32_t> atype(n);
  for (int64_t i = 0; i < n; ++i) atype[i] = static_cast<int32_t>(i % 3 == 0 ? 0 : 1);
  const std::vector<int64_t> sel = {6, 9};  // fewer slots than neighbors: truncation happens
  const int64_t nnei = 15;
  std::vector<int64_t> nlist(n * nnei), counts(n * 2), maxn(2);
  std::vector<int32_t> image(n * nnei * 3);
  std::vector<double> rij(n * nnei * 3);
  NlistOutput<double> out;
  out.nlist = nlist.data();
  out.image = image.data();
  out.rij = rij.data();
  out.max_neighbors = maxn.data();
  out.type_counts = counts.data();
  CHECK(build_nlist<double>(x.data(), kBox, atype.data(), 1, n, {kRcut, sel.data(), 2}, out).ok());
  const auto brute = brute_pairs(x, n);
  int64_t maxc[2] = {0, 0};
  for (int64_t i = 0; i < n; ++i) {
    for (int32_t t = 0; t < 2; ++t) {
      std::vector<double> d;
      for (const auto& bp : brute[i])
        if (atype[bp.j] == t) d.push_back(bp.d);
      std::sort(d.begin(), d.end());
      CHECK(counts[i * 2 + t] == static_cast<int64_t>(d.size()));
      maxc[t] = std::max<int64_t>(maxc[t], d.size());
      const int64_t begin = t == 0 ? 0 : sel[0];
      for (int64_t s = 0; s < sel[t]; ++s) {
        const int64_t k = i * nnei + begin + s;
        if (s >= static_cast<int64_t>(d.size())) {
          CHECK(nlist[k] == -1);
          continue;
        }
        CHECK(nlist[k] >= 0 && atype[nlist[k]] == t);
        const double* r = &rij[k * 3];
        CHECK_NEAR(std::sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]), d[s], kExact);
        for (int c = 0; c < 3; ++c) {
          const int32_t* S = &image[k * 3];
          const double want = x[nlist[k] * 3 + c] + S[0] * kBox[c] + S[1] * kBox[3 + c] +
                              S[2] * kBox[6 + c] - x[i * 3 + c];
          CHECK_NEAR(r[c], want, kExact);
        }
      }
    }
  }
  CHECK(maxn[0] == maxc[0] && maxn[1] == maxc[1]);
  CHECK(maxc[1] > sel[1]);  // truncation was exercised
}

namespace {

struct EnvCase {
  int64_t nc = 5, nnei = 7;
  std::vector<double> rij, davg, dstd;
  std::vector<uint8_t> mask;
  std::vector<int32_t> ctype;
  EnvMatParams<double> p;
  EnvMatInput<double> in;

  explicit EnvCase(uint64_t seed) {
    std::mt19937_64 rng(seed);
    // directions and radii in [0.4, 4.4] Å: inside, in the switching region and past rcut
    const auto dir = uniform(rng, nc * nnei * 3, -1, 1);
    const auto rad = uniform(rng, nc * nnei, 0.4, 4.4);
    rij.resize(nc * nnei * 3);
    for (int64_t k = 0; k < nc * nnei; ++k) {
      const double* v = &dir[k * 3];
      const double norm = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
      for (int a = 0; a < 3; ++a) rij[k * 3 + a] = v[a] / norm * rad[k];
    }
    mask.resize(nc * nnei);
    for (int64_t k = 0; k < nc * nnei; ++k) mask[k] = (k % 5 != 4);
    ctype = {0, 1, 1, 0, 1};
    davg = uniform(rng, 8, -0.2, 0.2);
    dstd = uniform(rng, 8, 0.3, 1.5);
    p = {4.0, 1.0, davg.data(), dstd.data(), 2};
    in = {rij.data(), mask.data(), ctype.data(), nc, nnei};
  }

  std::vector<double> em() const {
    std::vector<double> out(nc * nnei * 4);
    CHECK(env_mat_se_a<double>(in, p, out.data(), nullptr).ok());
    return out;
  }
  std::vector<double> vjp(const std::vector<double>& g) const {
    std::vector<double> out(nc * nnei * 3);
    CHECK(env_mat_se_a_vjp<double>(in, p, g.data(), out.data()).ok());
    return out;
  }
};

}  // namespace

TEST(env_mat_derivatives_match_finite_differences) {
  EnvCase c(3);
  std::vector<double> em(c.nc * c.nnei * 4), deriv(c.nc * c.nnei * 12);
  CHECK(env_mat_se_a<double>(c.in, c.p, em.data(), deriv.data()).ok());
  CHECK(em == c.em());  // with and without the derivative: same values
  std::mt19937_64 rng(4);
  const auto g = uniform(rng, c.nc * c.nnei * 4, -1, 1);
  const auto v = uniform(rng, c.nc * c.nnei * 3, -1, 1);
  const auto vjp = c.vjp(g);
  std::vector<double> jvp(c.nc * c.nnei * 4), hvp(c.nc * c.nnei * 3);
  CHECK(env_mat_se_a_jvp<double>(c.in, c.p, v.data(), jvp.data()).ok());
  CHECK(env_mat_se_a_hvp<double>(c.in, c.p, g.data(), v.data(), hvp.data()).ok());
  int checked = 0;
  for (int64_t k = 0; k < c.nc * c.nnei; ++k) {
    if (!c.mask[k]) {
      for (int q = 0; q < 4; ++q) CHECK(em[k * 4 + q] == 0.0);
      continue;
    }
    for (int a = 0; a < 3; ++a) {  // derivative column a by central differences
      EnvCase plus = c, minus = c;
      plus.in.rij = plus.rij.data();
      minus.in.rij = minus.rij.data();
      plus.rij[k * 3 + a] += kFdStep;
      minus.rij[k * 3 + a] -= kFdStep;
      const auto ep = plus.em(), emn = minus.em();
      for (int q = 0; q < 4; ++q) {
        const double fd = (ep[k * 4 + q] - emn[k * 4 + q]) / (2 * kFdStep);
        const double d = deriv[k * 12 + q * 3 + a];
        CHECK_NEAR(d, fd, kFdTol * (1 + std::fabs(d)));
        ++checked;
      }
    }
    for (int a = 0; a < 3; ++a) {
      double s = 0;
      for (int q = 0; q < 4; ++q) s += g[k * 4 + q] * deriv[k * 12 + q * 3 + a];
      CHECK_NEAR(vjp[k * 3 + a], s, kExact * (1 + std::fabs(s)));
    }
    for (int q = 0; q < 4; ++q) {
      double s = 0;
      for (int a = 0; a < 3; ++a) s += deriv[k * 12 + q * 3 + a] * v[k * 3 + a];
      CHECK_NEAR(jvp[k * 4 + q], s, kExact * (1 + std::fabs(s)));
    }
  }
  // hvp = directional derivative of the vjp along v
  EnvCase plus = c, minus = c;
  plus.in.rij = plus.rij.data();
  minus.in.rij = minus.rij.data();
  for (size_t i = 0; i < c.rij.size(); ++i) {
    plus.rij[i] += kFdStep * v[i];
    minus.rij[i] -= kFdStep * v[i];
  }
  const auto vp = plus.vjp(g), vm = minus.vjp(g);
  for (int64_t k = 0; k < c.nc * c.nnei; ++k) {
    for (int a = 0; a < 3 && c.mask[k]; ++a) {
      const double fd = (vp[k * 3 + a] - vm[k * 3 + a]) / (2 * kFdStep);
      CHECK_NEAR(hvp[k * 3 + a], fd, kFdTol * (1 + std::fabs(fd)));
    }
  }
  CHECK(checked > 300);
}

TEST(env_mat_refuses_coincident_atoms_and_is_finite_near_them) {
  EnvCase c(5);
  c.rij[6 * 3 + 0] = c.rij[6 * 3 + 1] = c.rij[6 * 3 + 2] = 0.0;  // center 0, slot 6
  std::vector<double> em(c.nc * c.nnei * 4);
  const Status st = env_mat_se_a<double>(c.in, c.p, em.data(), nullptr);
  CHECK(st.code == StatusCode::kInvalidArgument);
  CHECK(std::string(st.message).find("center 0, neighbor slot 6: r_ij = 0") != std::string::npos);
  c.rij[6 * 3 + 2] = 1e-8;
  const auto ok = c.em();
  for (double v : ok) CHECK(std::isfinite(v));
}

TEST(prod_force_and_virial_match_their_definitions) {
  std::mt19937_64 rng(6);
  const int64_t nf = 2, nloc = 5, nnei = 4, nall = 7;
  const auto g = uniform(rng, nf * nloc * nnei * 3, -1, 1);
  const auto r = uniform(rng, nf * nloc * nnei * 3, -3, 3);
  std::vector<int64_t> nlist(nf * nloc * nnei);
  std::uniform_int_distribution<int64_t> pick(-1, nall - 1);
  for (auto& j : nlist) j = pick(rng);
  std::vector<double> force(nf * nall * 3, 7.0), vir(nf * 9, 7.0), avir(nf * nall * 9, 7.0);
  const PairGradient<double> pg{g.data(), r.data(), nlist.data(), nf, nloc, nnei, nall};
  CHECK(prod_force<double>(pg, force.data()).ok());
  CHECK(prod_virial<double>(pg, vir.data(), avir.data()).ok());
  std::vector<double> wf(force.size(), 0.0), wv(vir.size(), 0.0), wa(avir.size(), 0.0);
  for (int64_t f = 0; f < nf; ++f)
    for (int64_t i = 0; i < nloc; ++i)
      for (int64_t s = 0; s < nnei; ++s) {
        const int64_t k = (f * nloc + i) * nnei + s, j = nlist[k];
        if (j < 0) continue;
        for (int a = 0; a < 3; ++a) {
          wf[(f * nall + i) * 3 + a] += g[k * 3 + a];
          wf[(f * nall + j) * 3 + a] -= g[k * 3 + a];
          for (int b = 0; b < 3; ++b) {
            wv[f * 9 + a * 3 + b] -= g[k * 3 + a] * r[k * 3 + b];
            wa[(f * nall + j) * 9 + a * 3 + b] -= g[k * 3 + a] * r[k * 3 + b];
          }
        }
      }
  for (size_t k = 0; k < wf.size(); ++k) CHECK_NEAR(force[k], wf[k], kExact);
  for (size_t k = 0; k < wv.size(); ++k) CHECK_NEAR(vir[k], wv[k], kExact);
  for (size_t k = 0; k < wa.size(); ++k) CHECK_NEAR(avir[k], wa[k], kExact);
}
