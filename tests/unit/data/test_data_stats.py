"""Statistics: count matrices, least-squares energy bias, frames for statistics."""

from __future__ import annotations

import numpy as np
import pytest
from support.tolerances import STRICT

from deepft.data import (
    DataSampler,
    System,
    count_matrix,
    energy_fit_data,
    expand_systems,
    fit_energy_bias,
    sample_stat_frames,
)
from deepft.errors import DataError

TYPE_MAP = ["H", "C", "O", "N"]  # N never occurs in the data


@pytest.fixture(scope="module")
def organic(organic_dir):
    return [System(p, TYPE_MAP) for p in expand_systems(str(organic_dir))]


def test_count_matrix_of_systems_and_batches(organic):
    counts = count_matrix(organic)
    assert counts.shape == (1562 + 485 + 15, 4) and counts.dtype == np.int64
    np.testing.assert_array_equal(counts[0], [4, 1, 2, 0])  # C1H4O2
    np.testing.assert_array_equal(counts[1562], [3, 3, 4, 0])  # C3H3O4
    np.testing.assert_array_equal(counts[-1], [3, 4, 1, 0])  # C4H3O1
    batches = list(DataSampler(organic, "auto").iter_all(100))
    np.testing.assert_array_equal(count_matrix(batches), counts)
    stripped = [{"coord": b["coord"], "atype": b["atype"]} for b in batches]
    np.testing.assert_array_equal(count_matrix(stripped, ntypes=4), counts)
    np.testing.assert_array_equal(count_matrix(organic[2]), np.tile([3, 4, 1, 0], (15, 1)))


def test_bias_recovers_planted_energies(organic):
    planted = np.array([-13.6, -1029.4, -2041.8, -1480.0])
    counts, _ = energy_fit_data(organic)
    energy = counts @ planted
    fit = fit_energy_bias(counts, energy)
    np.testing.assert_allclose(fit.bias[:3], planted[:3], rtol=0, atol=1e-8)
    assert fit.bias[3] == 0.0  # N absent from the data
    assert fit.rmse_per_atom < 1e-10


def test_bias_on_random_compositions_with_noise():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 20, size=(400, 3))
    planted = np.array([-3.0, -7.5, -1.25])
    energy = counts @ planted
    np.testing.assert_allclose(fit_energy_bias(counts, energy).bias, planted, atol=1e-8)
    noise = rng.normal(scale=0.5, size=400)
    fit = fit_energy_bias(counts, energy + noise)
    # residual of the least-squares fit, per atom, computed independently
    ref = np.linalg.lstsq(counts.astype(float), energy + noise, rcond=None)[0]
    np.testing.assert_allclose(fit.bias, ref, atol=STRICT)
    resid = (counts @ ref - energy - noise) / counts.sum(axis=1)
    assert fit.rmse_per_atom == pytest.approx(np.sqrt(np.mean(resid**2)), rel=1e-12)
    assert 0.005 < fit.rmse_per_atom < 0.2


def test_bias_with_preset_values(organic):
    planted = np.array([-13.6, -1029.4, -2041.8, 0.0])
    counts, _ = energy_fit_data(organic)
    energy = counts @ planted
    # a wrong preset for H is kept as given; C and O absorb what they can
    fit = fit_energy_bias(counts, energy, preset=[-10.0, None, float("nan"), 5.0])
    assert fit.bias[0] == -10.0 and fit.bias[3] == 5.0
    ref = np.linalg.lstsq(counts[:, 1:3].astype(float), energy + 10.0 * counts[:, 0],
                          rcond=None)[0]
    np.testing.assert_allclose(fit.bias[1:3], ref, atol=1e-8)
    assert fit.rmse_per_atom > 0.1
    exact = fit_energy_bias(counts, energy, preset=[-13.6, None, None, None])
    np.testing.assert_allclose(exact.bias, planted, atol=1e-8)


def test_bias_on_one_composition_is_min_norm(water_dir):
    # one system: every frame has 64 O + 128 H; DeePMD-kit's lstsq gives the minimum-norm split
    system = System(water_dir / "data_0", ["O", "H"])
    counts, energy = energy_fit_data(system)
    fit = fit_energy_bias(counts, energy)
    assert fit.bias[1] == pytest.approx(2 * fit.bias[0], rel=1e-12)
    assert counts[0] @ fit.bias == pytest.approx(energy.mean(), rel=1e-12)


def test_bias_needs_energy():
    with pytest.raises(DataError, match="no frame with energy"):
        fit_energy_bias(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError):
        fit_energy_bias(np.ones((3, 2)), np.ones(4))


def test_energy_fit_data_skips_unlabelled(copy_of, organic_dir):
    folder = copy_of(organic_dir / "C4H3O1")
    (folder / "set.000" / "energy.npy").unlink()
    unlabelled = System(folder, TYPE_MAP)
    labelled = System(organic_dir / "C3H3O4", TYPE_MAP)
    counts, energy = energy_fit_data([unlabelled, labelled])
    assert counts.shape == (485, 4) and energy.shape == (485,)


def test_sample_stat_frames(organic):
    stat = sample_stat_frames(organic, 10, "auto", seed=0)
    # auto batch sizes 5, 4, 4: min(10 batches, all) frames per system
    assert [len(s["frame_index"]) for s in stat] == [50, 40, 15]
    assert [s["system_index"] for s in stat] == [0, 1, 2]
    assert sorted(stat[2]["frame_index"].tolist()) == list(range(15))
    for s, system in zip(stat, organic, strict=True):
        assert len(set(s["frame_index"].tolist())) == len(s["frame_index"])
        np.testing.assert_array_equal(s["energy"], system.get_frames(s["frame_index"])["energy"])
    again = sample_stat_frames(organic, 10, "auto", seed=0)
    other = sample_stat_frames(organic, 10, "auto", seed=1)
    for a, b in zip(stat, again, strict=True):
        np.testing.assert_array_equal(a["frame_index"], b["frame_index"])
    assert not np.array_equal(stat[0]["frame_index"], other[0]["frame_index"])
    ordered = sample_stat_frames(organic, 2, 3, shuffle=False)
    np.testing.assert_array_equal(ordered[0]["frame_index"], np.arange(6))
    assert count_matrix(stat).shape == (105, 4)
