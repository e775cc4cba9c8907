// The native core end to end: DeepPot evaluates real (small, random-weight) model files, an
// se_e2_a one and DPA-1 ones (smooth: strip + smooth type embedding; sharp: concat without
// smoothing, whose energy jumps where a neighbor crosses rcut); forces are minus the energy
// gradient (finite differences and, for smooth models, a line integral: energy conservation),
// the virial is minus the strain derivative, the LAMMPS-style neighbor-list form agrees with
// the coordinate form, overlapping atoms are an AtomsTooCloseError, and the evaluator
// overwrites every output row (a virtual center's with 0).
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "branch_config.h"
#include "deep_pot.h"
#include "errors.h"
#include "evaluator.h"
#include "harness.h"
#include "model_file.h"

using deepft::DeepPot;
using deepft::DeepPotOutput;

namespace {

constexpr double kFdStep = 1e-5;        // Å (and strain)
constexpr double kFdTol = 2e-7;         // eV/Å, central differences of a smooth model
constexpr double kLineTol = 1e-7;       // eV, Simpson line integral of the forces
constexpr double kSameMathTol = 1e-10;  // two code paths, same float64 math

struct TestModel {
  std::string name;  ///< the environment variable naming the file
  bool smooth;       ///< energy continuous along any path (not the sharp DPA-1)
  DeepPot pot;
};

/// The models every test runs on; the test's context() names the one being checked.
const std::vector<std::unique_ptr<TestModel>>& models() {
  static const auto list = [] {
    std::vector<std::unique_ptr<TestModel>> m;
    for (const auto& [env, smooth] : {std::pair<const char*, bool>{"DEEPFT_TEST_MODEL", true},
                                      {"DEEPFT_TEST_DPA1_MODEL", true},
                                      {"DEEPFT_TEST_DPA1_SHARP_MODEL", false}}) {
      m.push_back(std::make_unique<TestModel>(
          TestModel{env, smooth, DeepPot(deepft_test::env_path(env))}));
    }
    return m;
  }();
  return list;
}

/// Runs check(pot) for every model (only the smooth ones with smooth_only).
template <typename Fn>
void for_each_model(Fn&& check, bool smooth_only = false) {
  for (const auto& m : models()) {
    if (smooth_only && !m->smooth) continue;
    deepft_test::context() = m->name;
    check(m->pot);
  }
}

struct Frame {
  std::vector<double> coord, box;
  std::vector<int32_t> atype;
  int64_t n = 0;
};

// 18 atoms (6 "molecules" O H H) in a 6.2 Å periodic cubic box, no pair closer than 0.9 Å.
Frame water_like() {
  Frame f;
  f.box = {6.2, 0, 0, 0.3, 6.0, 0, -0.2, 0.4, 6.1};
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 6.0), d(-1, 1);
  while (f.n < 18) {
    double x[3] = {u(rng), u(rng), u(rng)};
    if (f.n % 3 != 0) {  // a hydrogen about 1 Å from its oxygen
      const int64_t o = f.n - f.n % 3;
      double v[3] = {d(rng), d(rng), d(rng)};
      const double nv = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
      for (int a = 0; a < 3; ++a) x[a] = f.coord[o * 3 + a] + v[a] / nv;
    }
    bool far = true;
    for (int64_t j = 0; j < f.n && far; ++j) {
      double d2 = 0;
      for (int a = 0; a < 3; ++a) d2 += (x[a] - f.coord[j * 3 + a]) * (x[a] - f.coord[j * 3 + a]);
      far = d2 > 0.81;
    }
    if (!far) continue;
    f.coord.insert(f.coord.end(), x, x + 3);
    f.atype.push_back(f.n % 3 == 0 ? 0 : 1);
    ++f.n;
  }
  return f;
}

double energy(const DeepPot& pot, const Frame& f, const double* box) {
  DeepPotOutput out;
  pot.compute(out, f.coord.data(), 1, f.n, f.atype.data(), box);
  return out.energy[0];
}

}  // namespace

TEST(forces_are_minus_the_energy_gradient) {
  for_each_model([](const DeepPot& pot) {
    Frame f = water_like();
    DeepPotOutput out;
    pot.compute(out, f.coord.data(), 1, f.n, f.atype.data(), f.box.data(), true);
    CHECK(std::isfinite(out.energy[0]));
    double sum_ae = 0, fsum[3] = {0, 0, 0};
    for (int64_t i = 0; i < f.n; ++i) sum_ae += out.atom_energy[i];
    CHECK_NEAR(sum_ae, out.energy[0], kSameMathTol);
    for (int64_t i = 0; i < f.n; ++i)
      for (int a = 0; a < 3; ++a) fsum[a] += out.force[i * 3 + a];
    for (double s : fsum) CHECK_NEAR(s, 0.0, kSameMathTol);  // translation invariance
    for (int64_t i : {0, 4, 11, 17}) {
      for (int a = 0; a < 3; ++a) {
        Frame p = f, m = f;
        p.coord[i * 3 + a] += kFdStep;
        m.coord[i * 3 + a] -= kFdStep;
        const double fd =
            -(energy(pot, p, p.box.data()) - energy(pot, m, m.box.data())) / (2 * kFdStep);
        CHECK_NEAR(out.force[i * 3 + a], fd, kFdTol);
      }
    }
  });
}

TEST(energy_is_conserved_along_a_path) {
  for_each_model([](const DeepPot& pot) {
    // E(x1) - E(x0) = -integral of F . dx along a straight path, Simpson with 40 intervals
    Frame f = water_like();
    std::mt19937_64 rng(8);
    std::normal_distribution<double> nd(0, 0.05);
    std::vector<double> dx(f.coord.size());
    for (auto& v : dx) v = nd(rng);
    const int steps = 40;
    double work = 0, e0 = 0, e1 = 0;
    for (int s = 0; s <= steps; ++s) {
      Frame g = f;
      for (size_t k = 0; k < dx.size(); ++k) g.coord[k] += dx[k] * s / steps;
      DeepPotOutput out;
      pot.compute(out, g.coord.data(), 1, g.n, g.atype.data(), g.box.data());
      double fdx = 0;
      for (size_t k = 0; k < dx.size(); ++k) fdx += out.force[k] * dx[k];
      work += (s == 0 || s == steps ? 1 : (s % 2 ? 4 : 2)) * fdx / (3.0 * steps);
      if (s == 0) e0 = out.energy[0];
      if (s == steps) e1 = out.energy[0];
    }
    CHECK(std::fabs(e1 - e0) > 1e-3);  // the path does change the energy
    CHECK_NEAR(e1 - e0, -work, kLineTol);
  }, true);
}

TEST(virial_is_minus_the_strain_derivative) {
  for_each_model([](const DeepPot& pot) {
    Frame f = water_like();
    DeepPotOutput out;
    pot.compute(out, f.coord.data(), 1, f.n, f.atype.data(), f.box.data());
    for (int a = 0; a < 3; ++a) {
      for (int b = 0; b < 3; ++b) {
        double e[2];
        for (int sgn = 0; sgn < 2; ++sgn) {
          const double h = sgn ? -kFdStep : kFdStep;
          Frame g = f;  // x -> x (I + h E_ab) for atoms and lattice vectors (rows)
          for (int64_t i = 0; i < g.n; ++i) g.coord[i * 3 + b] += h * f.coord[i * 3 + a];
          for (int r = 0; r < 3; ++r) g.box[r * 3 + b] += h * f.box[r * 3 + a];
          e[sgn] = energy(pot, g, g.box.data());
        }
        CHECK_NEAR(out.virial[a * 3 + b], -(e[0] - e[1]) / (2 * kFdStep), kFdTol * 10);
      }
    }
  });
}

TEST(neighbor_list_form_equals_coordinate_form) {
  for_each_model([](const DeepPot& pot) {
    Frame f = water_like();  // used as an isolated cluster: every pair is a candidate
    DeepPotOutput a, b;
    pot.compute(a, f.coord.data(), 1, f.n, f.atype.data(), nullptr, true);
    std::vector<std::vector<int>> nb(f.n);
    std::vector<int> numneigh(f.n);
    std::vector<const int*> first(f.n);
    for (int64_t i = 0; i < f.n; ++i) {
      for (int64_t j = f.n - 1; j >= 0; --j)
        if (j != i) nb[i].push_back(static_cast<int>(j));
      numneigh[i] = static_cast<int>(nb[i].size());
      first[i] = nb[i].data();
    }
    deepft::NeighborListView list{f.n, nullptr, numneigh.data(), first.data()};
    pot.compute(b, f.coord.data(), f.atype.data(), f.n, f.n, list, nullptr, true);
    CHECK_NEAR(a.energy[0], b.energy[0], kSameMathTol);
    for (size_t k = 0; k < a.force.size(); ++k) CHECK_NEAR(a.force[k], b.force[k], kSameMathTol);
    for (int k = 0; k < 9; ++k) CHECK_NEAR(a.virial[k], b.virial[k], kSameMathTol);
  });
}

TEST(overlapping_atoms_raise_naming_them) {
  for_each_model([](const DeepPot& pot) {
    Frame f = water_like();
    for (int a = 0; a < 3; ++a) f.coord[13 * 3 + a] = f.coord[5 * 3 + a];
    DeepPotOutput out;
    bool thrown = false;
    try {
      pot.compute(out, f.coord.data(), 1, f.n, f.atype.data(), f.box.data());
    } catch (const deepft::AtomsTooCloseError& e) {
      thrown = true;
      CHECK((e.i == 5 && e.j == 13) || (e.i == 13 && e.j == 5));
      CHECK(e.distance == 0.0 && e.frame == 0);
      CHECK(std::string(e.what()).find(" are 0 Å apart") != std::string::npos);
    }
    CHECK(thrown);
    f.coord[13 * 3] += 1e-4;  // distinct: finite
    pot.compute(out, f.coord.data(), 1, f.n, f.atype.data(), f.box.data());
    CHECK(std::isfinite(out.energy[0]));
    for (double v : out.force) CHECK(std::isfinite(v));
  });
}

TEST(evaluator_overwrites_every_row) {
  // the Evaluator contract (evaluator.h): outputs overwritten, a virtual center's energy and
  // pair gradients 0, whatever the buffers held (here NaN)
  for (const char* env : {"DEEPFT_TEST_MODEL", "DEEPFT_TEST_DPA1_MODEL"}) {
    deepft_test::context() = env;
    const deepft::ModelFile f = deepft::ModelFile::read(deepft_test::env_path(env));
    const deepft::BranchConfig cfg = deepft::read_branch_config(f, "");
    const auto ev = deepft::make_evaluator(f, cfg);
    const int64_t nnei = cfg.nnei();
    std::vector<int64_t> nlist(3 * nnei, -1);
    std::vector<double> rij(3 * nnei * 3, 0.0);
    for (int64_t c = 0; c < 3; ++c) {  // every center sees atom (c + 1) % 3 at 1.1 Å, slot 0
      nlist[c * nnei] = (c + 1) % 3;
      rij[c * nnei * 3] = 1.1;
    }
    const int32_t ctype[3] = {0, -1, 0}, atype[3] = {0, 0, 0};
    const double nan = std::nan("");
    std::vector<double> energy(3, nan), grad(3 * nnei * 3, nan);
    ev->evaluate({3, nnei, nlist.data(), rij.data(), ctype, atype}, {energy.data(), grad.data()});
    CHECK(std::isfinite(energy[0]) && energy[1] == 0.0);
    CHECK_NEAR(energy[0], energy[2], kSameMathTol);
    CHECK(grad[0] != 0.0);  // dE/dx of the pair along x (y, z: 0 by symmetry)
    CHECK_NEAR(grad[0], grad[2 * nnei * 3], kSameMathTol);
    for (int64_t k = 0; k < 3 * nnei * 3; ++k) {
      const bool real = k % (nnei * 3) < 3 && k / (nnei * 3) != 1;  // slot 0 of centers 0, 2
      CHECK(real ? std::isfinite(grad[k]) : grad[k] == 0.0);
    }
    const int32_t bad[3] = {0, 7, 0};
    CHECK_THROWS(ev->evaluate({3, nnei, nlist.data(), rij.data(), bad, atype},
                              {energy.data(), grad.data()}),
                 deepft::InputError, "atom type 7 out of range");
  }
}
