// Binning of positions for the CPU neighbor searches (see cell_list.h).
#include "cell_list.h"

#include <algorithm>
#include <cmath>
#include <new>

namespace deepft::detail {
namespace {

void cross(const double a[3], const double b[3], double out[3]) {
  out[0] = a[1] * b[2] - a[2] * b[1];
  out[1] = a[2] * b[0] - a[0] * b[2];
  out[2] = a[0] * b[1] - a[1] * b[0];
}

double norm(const double a[3]) { return std::sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]); }

double dot(const double a[3], const double b[3]) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

// Inverse of the 3x3 matrix m (rows); false when (numerically) singular.
bool invert(const double m[3][3], double inv[3][3]) {
  double c0[3], c1[3], c2[3];
  cross(m[1], m[2], c0);
  cross(m[2], m[0], c1);
  cross(m[0], m[1], c2);
  const double det = dot(m[0], c0);
  const double scale = norm(m[0]) * norm(m[1]) * norm(m[2]);
  if (!(std::fabs(det) > 1e-12 * scale) || !std::isfinite(det)) return false;
  // inverse = adjugate / det; with x = f @ m, f = x @ inv where inv's columns are c_k / det.
  for (int r = 0; r < 3; ++r) {
    inv[r][0] = c0[r] / det;
    inv[r][1] = c1[r] / det;
    inv[r][2] = c2[r] / det;
  }
  return true;
}

// Fills basis rows for non-periodic directions with an orthonormal completion of the periodic
// lattice vectors. Returns false when the periodic vectors are degenerate.
bool make_basis(const double* box, const bool periodic[3], double basis[3][3]) {
  int per[3], non[3], np = 0, nn = 0;
  for (int k = 0; k < 3; ++k) (periodic[k] ? per[np++] : non[nn++]) = k;
  for (int k = 0; k < 3; ++k)
    for (int a = 0; a < 3; ++a) basis[k][a] = periodic[k] ? box[3 * k + a] : 0.0;
  if (np == 0) {
    for (int k = 0; k < 3; ++k) basis[k][k] = 1.0;
    return true;
  }
  if (np == 1) {
    const double* v = basis[per[0]];
    const double len = norm(v);
    if (!(len > 0) || !std::isfinite(len)) return false;
    // the coordinate axis least aligned with v is never parallel to it
    int axis = 0;
    for (int a = 1; a < 3; ++a)
      if (std::fabs(v[a]) < std::fabs(v[axis])) axis = a;
    double e[3] = {0, 0, 0}, u[3], w[3];
    e[axis] = 1.0;
    cross(v, e, u);
    const double lu = norm(u);
    for (double& x : u) x /= lu;
    cross(v, u, w);
    const double lw = norm(w);
    for (double& x : w) x /= lw;
    for (int a = 0; a < 3; ++a) {
      basis[non[0]][a] = u[a];
      basis[non[1]][a] = w[a];
    }
    return true;
  }
  if (np == 2) {
    double n[3];
    cross(basis[per[0]], basis[per[1]], n);
    const double len = norm(n);
    if (!(len > 1e-12 * norm(basis[per[0]]) * norm(basis[per[1]])) || !std::isfinite(len))
      return false;
    for (int a = 0; a < 3; ++a) basis[non[0]][a] = n[a] / len;
    return true;
  }
  return true;  // np == 3: checked by invert()
}

}  // namespace

template <typename T>
Status CellList::build(const T* positions, int64_t natoms, const T* box, const bool periodic[3],
                       double cutoff) noexcept {
  if (natoms < 0) return Status::Error(StatusCode::kInvalidArgument, "natoms must be >= 0");
  if (!(cutoff > 0) || !std::isfinite(cutoff))
    return Status::Error(StatusCode::kInvalidArgument, "cutoff must be finite and > 0, got %g",
                         cutoff);
  const bool any_periodic = periodic[0] || periodic[1] || periodic[2];
  if (any_periodic && box == nullptr)
    return Status::Error(StatusCode::kInvalidArgument, "a periodic system needs a box");
  try {
    natoms_ = natoms;
    cutoff_ = cutoff;
    cutoff2_ = cutoff * cutoff;
    double box_d[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
    for (int k = 0; k < 3; ++k) {
      periodic_[k] = periodic[k];
      if (periodic[k])
        for (int a = 0; a < 3; ++a) box_d[3 * k + a] = static_cast<double>(box[3 * k + a]);
    }
    if (!make_basis(box_d, periodic_, basis_) || !invert(basis_, inverse_))
      return Status::Error(StatusCode::kInvalidArgument,
                           "the lattice vectors of the periodic directions are degenerate "
                           "(zero volume or parallel vectors)");
    orthogonal_ = true;
    for (int a = 0; a < 3; ++a)
      for (int b = a + 1; b < 3; ++b)
        if (std::fabs(dot(basis_[a], basis_[b])) > 1e-12 * norm(basis_[a]) * norm(basis_[b]))
          orthogonal_ = false;

    // Fractional coordinates; wrap periodic directions into [0, 1).
    std::vector<double> frac(3 * natoms);
    std::vector<int32_t> wrap(3 * natoms, 0);
    double fmin[3] = {0, 0, 0}, fmax[3] = {0, 0, 0};
    for (int64_t i = 0; i < natoms; ++i) {
      const double x[3] = {static_cast<double>(positions[3 * i]),
                           static_cast<double>(positions[3 * i + 1]),
                           static_cast<double>(positions[3 * i + 2])};
      for (int k = 0; k < 3; ++k) {
        double f = x[0] * inverse_[0][k] + x[1] * inverse_[1][k] + x[2] * inverse_[2][k];
        if (!std::isfinite(f))
          return Status::Error(StatusCode::kInvalidArgument,
                               "position of atom %lld is not finite", static_cast<long long>(i));
        if (periodic_[k]) {
          const double w = std::floor(f);
          if (std::fabs(w) > 2e9)
            return Status::Error(StatusCode::kInvalidArgument,
                                 "atom %lld is more than 2e9 boxes away from the origin",
                                 static_cast<long long>(i));
          f -= w;
          wrap[3 * i + k] = static_cast<int32_t>(w);
        }
        frac[3 * i + k] = f;
        if (i == 0 || f < fmin[k]) fmin[k] = f;
        if (i == 0 || f > fmax[k]) fmax[k] = f;
      }
    }

    // Bins: about kBinsPerCutoff per cutoff along each face normal, capped in total.
    double height[3];  // Å per unit fractional coordinate along the face normal
    for (int k = 0; k < 3; ++k) {
      const double col[3] = {inverse_[0][k], inverse_[1][k], inverse_[2][k]};
      height[k] = 1.0 / norm(col);
      if (periodic_[k]) {
        lo_[k] = 0.0;
        span_[k] = 1.0;
      } else {
        lo_[k] = fmin[k];
        span_[k] = std::max(fmax[k] - fmin[k], 1e-12 * cutoff / height[k]);
      }
      const double length = span_[k] * height[k];
      nbin_[k] = std::max<int64_t>(1, static_cast<int64_t>(
                                          std::min(1e9, std::floor(length * kBinsPerCutoff / cutoff))));
    }
    const double max_cells = 2.0 * static_cast<double>(natoms) + 64.0;
    double ncells_d = static_cast<double>(nbin_[0]) * nbin_[1] * nbin_[2];
    if (ncells_d > max_cells) {
      const double f = std::cbrt(max_cells / ncells_d);
      for (int k = 0; k < 3; ++k)
        nbin_[k] = std::max<int64_t>(1, static_cast<int64_t>(nbin_[k] * f));
    }
    for (int k = 0; k < 3; ++k) {
      width_[k] = span_[k] * height[k] / nbin_[k];
      // |Δf| * height <= cutoff for a neighbor, so bins up to ceil(cutoff / width) away.
      double r = std::ceil(cutoff / width_[k] * (1.0 + 1e-9));
      if (!periodic_[k]) r = std::min(r, static_cast<double>(nbin_[k] - 1));
      if (r > 1e6)
        return Status::Error(StatusCode::kInvalidArgument,
                             "the box is too thin for this cutoff (%g Å across, cutoff %g Å)",
                             span_[k] * height[k], cutoff);
      reach_[k] = static_cast<int>(r);
    }

    // Counting sort of atoms by cell.
    const int64_t ncells = nbin_[0] * nbin_[1] * nbin_[2];
    bin_.resize(3 * natoms);
    frac_in_bin_.resize(3 * natoms);
    std::vector<int64_t> cell_of(natoms);
    cell_start_.assign(ncells + 1, 0);
    for (int64_t i = 0; i < natoms; ++i) {
      int64_t c[3];
      for (int k = 0; k < 3; ++k) {
        const double b = (frac[3 * i + k] - lo_[k]) / span_[k] * nbin_[k];
        int64_t ib = static_cast<int64_t>(std::floor(b));
        ib = std::min<int64_t>(std::max<int64_t>(ib, 0), nbin_[k] - 1);
        c[k] = ib;
        bin_[3 * i + k] = ib;
        frac_in_bin_[3 * i + k] = b - ib;
      }
      cell_of[i] = (c[0] * nbin_[1] + c[1]) * nbin_[2] + c[2];
      ++cell_start_[cell_of[i] + 1];
    }
    for (int64_t c = 0; c < ncells; ++c) cell_start_[c + 1] += cell_start_[c];
    std::vector<int64_t> fill(cell_start_.begin(), cell_start_.end() - 1);
    sorted_pos_.resize(3 * natoms);
    sorted_atom_.resize(natoms);
    sorted_wrap_.resize(3 * natoms);
    slot_.resize(natoms);
    for (int64_t i = 0; i < natoms; ++i) {
      const int64_t p = fill[cell_of[i]]++;
      sorted_atom_[p] = i;
      slot_[i] = p;
      for (int k = 0; k < 3; ++k) sorted_wrap_[3 * p + k] = wrap[3 * i + k];
      for (int a = 0; a < 3; ++a) {
        double x = static_cast<double>(positions[3 * i + a]);
        for (int k = 0; k < 3; ++k) x -= wrap[3 * i + k] * basis_[k][a];
        sorted_pos_[3 * p + a] = x;
      }
    }
  } catch (const std::bad_alloc&) {
    return Status::Error(StatusCode::kOutOfMemory, "out of memory building the cell list");
  } catch (...) {
    return Status::Error(StatusCode::kInternal, "unexpected error building the cell list");
  }
  return Status::Ok();
}

template Status CellList::build<double>(const double*, int64_t, const double*, const bool[3],
                                        double) noexcept;
template Status CellList::build<float>(const float*, int64_t, const float*, const bool[3],
                                       double) noexcept;

}  // namespace deepft::detail
