"""deepft.compress.table: the grid, the input range and the quintic Hermite interpolant."""

from __future__ import annotations

import numpy as np
import pytest
from support.tolerances import TIGHT

from deepft.compress.table import (
    Grid,
    evaluate,
    input_range,
    make_grid,
    quintic_coefficients,
    switch,
    tabulate,
)


def smooth(x: np.ndarray):
    """A 3-output test function with its first and second derivatives, ``[n, 3]`` each."""
    x = np.asarray(x, float)[:, None]
    k = np.array([0.7, -1.3, 2.1])
    return np.sin(k * x) + 0.1 * x ** 3, k * np.cos(k * x) + 0.3 * x ** 2, \
        -k ** 2 * np.sin(k * x) + 0.6 * x


def test_quintic_matches_value_and_two_derivatives_at_both_ends():
    x = np.array([0.2, 0.45, 0.5])  # two intervals of different widths
    y, dy, d2y = smooth(x)
    c = quintic_coefficients(y, dy, d2y, np.diff(x))
    for q, h in enumerate(np.diff(x)):
        p = c[q]  # 6 x 3
        val = sum(p[i] * h ** i for i in range(6))
        der = sum(i * p[i] * h ** (i - 1) for i in range(1, 6))
        sec = sum(i * (i - 1) * p[i] * h ** (i - 2) for i in range(2, 6))
        np.testing.assert_allclose(p[0], y[q], atol=TIGHT, err_msg=f"value at start of {q}")
        np.testing.assert_allclose(p[1], dy[q], atol=TIGHT, err_msg=f"slope at start of {q}")
        np.testing.assert_allclose(2 * p[2], d2y[q], atol=TIGHT, err_msg=f"curvature start {q}")
        np.testing.assert_allclose(val, y[q + 1], atol=1e-9, err_msg=f"value at end of {q}")
        np.testing.assert_allclose(der, dy[q + 1], atol=1e-8, err_msg=f"slope at end of {q}")
        np.testing.assert_allclose(sec, d2y[q + 1], atol=1e-6, err_msg=f"curvature end {q}")


def test_table_error_shrinks_as_step_shrinks():
    x = np.random.default_rng(0).uniform(-1.0, 3.0, 500)
    want, dwant, _ = smooth(x)
    errors = []
    for step in (0.4, 0.2, 0.1, 0.05):
        grid = make_grid(-1.0, 3.0, step, 2.0)
        val, der = evaluate(tabulate(smooth, grid), grid, x)
        errors.append((np.abs(val - want).max(), np.abs(der - dwant).max()))
    for (v0, d0), (v1, d1) in zip(errors[:-1], errors[1:], strict=True):
        assert v1 < v0 / 16 and d1 < d0 / 8, f"error does not shrink with the step: {errors}"
    assert errors[-1][0] < 1e-10, errors


def test_grid_covers_range_and_extrapolation():
    grid = make_grid(-1.0, 12.0, 0.01, 5.0)
    assert grid.n_fine == 1300 and grid.n_coarse == 480, grid
    assert grid.upper == pytest.approx(12.0) and grid.xmax == pytest.approx(60.0)
    starts = grid.starts()
    assert starts[0] == -1.0 and np.all(np.diff(starts) > 0)
    assert len(starts) == len(grid.widths()) == grid.n_fine + grid.n_coarse


@pytest.mark.parametrize("args", [(-1.0, 2.0, 0.0, 5.0), (-1.0, 2.0, 0.01, 1.0),
                                  (2.0, 1.0, 0.01, 5.0), (-3.0, -1.0, 0.01, 5.0)])
def test_grid_rejects_bad_parameters(args):
    with pytest.raises(ValueError):
        make_grid(*args)


def test_outside_the_table_value_is_held_and_slope_is_zero():
    grid = Grid(0.0, 0.5, 2, 1)  # [0, 1] fine, [1, 6] coarse
    coef = tabulate(smooth, grid)
    val, der = evaluate(coef, grid, np.array([-0.5, 0.0, 6.0, 9.0]))
    end, _, _ = smooth(np.array([0.0, 6.0]))
    np.testing.assert_allclose(val[[0, 1]], end[[0, 0]], atol=TIGHT)
    np.testing.assert_allclose(val[[2, 3]], end[[1, 1]], atol=1e-9)
    assert np.all(der[[0, 2, 3]] == 0) and np.all(der[1] != 0), der


def test_input_range_from_shortest_distance():
    davg0, dstd0 = np.array([0.2, 0.1]), np.array([0.25, 0.5])
    lower, upper = input_range(davg0, dstd0, 0.9, 0.5, 6.0)
    s = switch(0.9, 0.5, 6.0)
    np.testing.assert_array_equal(lower, np.floor(-davg0 / dstd0))
    np.testing.assert_array_equal(upper, np.ceil((s - davg0) / dstd0))
    assert switch(0.4, 0.5, 6.0) == pytest.approx(2.5) and switch(6.0, 0.5, 6.0) == 0.0
    assert 0 < s < 1 / 0.9
