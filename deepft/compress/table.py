"""The tabulated embedding net: knots, input range and quintic Hermite coefficients (numpy).

An se_e2_a embedding net maps the normalized first environment-matrix column
x = (s(r) - davg[t_i, 0]) / dstd[t_i, 0] (s(r) = sw(r)/r in 1/Å, x dimensionless) to M outputs.
Its table covers [lower, xmax] with two uniform grids (DeePMD-kit's scheme):

    fine    lower + i * step,    i = 0 .. n_fine      (up to upper = lower + n_fine * step)
    coarse  upper + k * stride1, k = 0 .. n_coarse    (stride1 = 10 * step, up to xmax)

``lower`` is floor(min x of an empty neighbor, s = 0), ``upper`` >= ceil(x at the shortest
pair distance of the training data), xmax >= extrapolate * upper. On interval q (start x_q,
width h) each output is the quintic ``sum_p c[q, p] * (x - x_q)**p`` that matches the net's
value, first and second derivative at both ends, so the table is C2 at every knot.
Coefficients are stored as ``[n_fine + n_coarse, 6, M]`` (p-major: one contiguous row of M
values per power, the layout the C++ kernel vectorizes over).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: the coarse grid's stride in units of the fine step (DeePMD-kit's stride1 = 10 * stride0)
COARSE_FACTOR = 10


@dataclass(frozen=True)
class Grid:
    """The knots of one net's table (see the module docstring); x is dimensionless."""

    lower: float
    step: float
    n_fine: int
    n_coarse: int

    @property
    def stride1(self) -> float:
        return COARSE_FACTOR * self.step

    @property
    def upper(self) -> float:
        return self.lower + self.n_fine * self.step

    @property
    def xmax(self) -> float:
        return self.upper + self.n_coarse * self.stride1

    def starts(self) -> np.ndarray:
        """``[n_fine + n_coarse]`` start of every interval (the same arithmetic as the C++
        locate step: lower + i * step, then upper + k * stride1)."""
        fine = self.lower + np.arange(self.n_fine) * self.step
        coarse = self.upper + np.arange(self.n_coarse) * self.stride1
        return np.concatenate([fine, coarse])

    def widths(self) -> np.ndarray:
        """``[n_fine + n_coarse]`` width of every interval."""
        return np.concatenate([np.full(self.n_fine, self.step),
                               np.full(self.n_coarse, self.stride1)])


def make_grid(lower: float, upper: float, step: float, extrapolate: float) -> Grid:
    """The grid over [lower, upper] (fine) and [upper, extrapolate * upper] (coarse); both
    bounds are rounded outwards onto the grid. Needs lower < upper, upper > 0, extrapolate > 1."""
    if not (step > 0 and math.isfinite(step)):
        raise ValueError(f"step must be a positive number, got {step}")
    if not (extrapolate > 1 and math.isfinite(extrapolate)):
        raise ValueError(f"extrapolate must be > 1, got {extrapolate}")
    if not (lower < upper and upper > 0):
        raise ValueError(f"needs lower < upper and upper > 0, got [{lower}, {upper}]")
    n_fine = max(1, math.ceil((upper - lower) / step - 1e-9))
    top = lower + n_fine * step
    n_coarse = max(1, math.ceil((extrapolate * upper - top) / (COARSE_FACTOR * step) - 1e-9))
    return Grid(float(lower), float(step), int(n_fine), int(n_coarse))


def switch(r: float, rcut_smth: float, rcut: float) -> float:
    """The se_e2_a weight s(r) = sw(r) / r (1/Å) with the quintic switch of the descriptor."""
    if r < rcut_smth:
        return 1.0 / r
    if r >= rcut:
        return 0.0
    u = (r - rcut_smth) / (rcut - rcut_smth)
    return (u ** 3 * (-6 * u ** 2 + 15 * u - 10) + 1) / r


def input_range(davg0: np.ndarray, dstd0: np.ndarray, min_nbor_dist: float, rcut_smth: float,
                rcut: float) -> tuple[np.ndarray, np.ndarray]:
    """Per center type (``[ntypes]`` each): the normalized x of an empty slot (s = 0) and of a
    neighbor at ``min_nbor_dist`` (Å), floored / ceiled to integers as DeePMD-kit does."""
    s_max = switch(float(min_nbor_dist), rcut_smth, rcut)
    lower = -np.asarray(davg0, float) / np.asarray(dstd0, float)
    upper = (s_max - np.asarray(davg0, float)) / np.asarray(dstd0, float)
    return np.floor(lower), np.ceil(upper)


def quintic_coefficients(y: np.ndarray, dy: np.ndarray, d2y: np.ndarray,
                         h: np.ndarray) -> np.ndarray:
    """``[nint, 6, M]`` coefficients of the quintic Hermite interpolant of every interval.

    y, dy, d2y: ``[nint + 1, M]`` value, first and second derivative at the knots; h:
    ``[nint]`` interval widths. Each interval's polynomial in t = x - x_q reproduces the six
    end conditions exactly (in exact arithmetic)."""
    y0, y1 = y[:-1], y[1:]
    d0, d1 = dy[:-1], dy[1:]
    s0, s1 = d2y[:-1], d2y[1:]
    h = np.asarray(h, float)[:, None]
    dyy = y1 - y0
    c = np.empty((y0.shape[0], 6, y0.shape[1]))
    c[:, 0] = y0
    c[:, 1] = d0
    c[:, 2] = s0 / 2
    c[:, 3] = (20 * dyy - (8 * d1 + 12 * d0) * h - (3 * s0 - s1) * h ** 2) / (2 * h ** 3)
    c[:, 4] = (-30 * dyy + (14 * d1 + 16 * d0) * h + (3 * s0 - 2 * s1) * h ** 2) / (2 * h ** 4)
    c[:, 5] = (12 * dyy - 6 * (d1 + d0) * h - (s0 - s1) * h ** 2) / (2 * h ** 5)
    return c


def tabulate(net: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]],
             grid: Grid) -> np.ndarray:
    """``[n_fine + n_coarse, 6, M]`` coefficients of ``net`` on ``grid``; ``net(x)`` returns
    value, first and second derivative ``[len(x), M]`` at the knots ``x``."""
    knots = np.append(grid.starts(), grid.xmax)
    y, dy, d2y = net(knots)
    return quintic_coefficients(y, dy, d2y, grid.widths())


def evaluate(coef: np.ndarray, grid: Grid, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference evaluation (tests): value and dG/dx ``[len(x), M]`` of the table at ``x``,
    clamped outside [lower, xmax] (constant value, zero derivative), as the C++ kernel does."""
    x = np.asarray(x, float)
    starts = grid.starts()
    q = np.clip(np.searchsorted(starts, x, side="right") - 1, 0, len(starts) - 1)
    t = np.clip(x - starts[q], 0.0, grid.widths()[q])
    inside = (x >= grid.lower) & (x < grid.xmax)
    c = coef[q]  # n x 6 x M
    val = c[:, 5]
    der = 5 * c[:, 5]
    for p in range(4, -1, -1):
        val = val * t[:, None] + c[:, p]
        if p >= 1:
            der = der * t[:, None] + p * c[:, p]
    return val, np.where(inside[:, None], der, 0.0)
