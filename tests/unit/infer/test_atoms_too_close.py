"""Atoms closer than the model allows: a finite result where the math allows (r > 0), a clear
error naming the atoms and the distance at r = 0; never a silent NaN (core, ASE, kernels)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from ase import Atoms
from support.model_files import water_box, write_model

from deepft import _core
from deepft.calculator import DeepFT
from deepft.errors import InputError
from deepft.infer import DeepPot

CLOSE = (1e-3, 1e-6)  # Å: tiny but positive separations the math allows


@pytest.fixture(scope="module", params=["float64", "float32"])
def model(request, tmp_path_factory):
    return write_model(tmp_path_factory.mktemp("m") / f"{request.param}.dft",
                       precision=request.param)


def _overlapping(i: int, j: int, shift: float = 0.0):
    coord, cell, types = water_box()
    coord = coord.copy()
    coord[j] = coord[i] + np.array([shift, 0.0, 0.0])
    return coord, cell, types


@pytest.mark.parametrize("pair", [(0, 1), (4, 9), (23, 2)])
def test_core_names_atoms_at_the_same_position(model, pair):
    i, j = pair
    coord, cell, types = _overlapping(i, j)
    dp = DeepPot(model)
    with pytest.raises(InputError, match=r"atoms (\d+) and (\d+) are 0 Å apart") as err:
        dp.eval(coord, cell.reshape(9), types)
    named = re.search(r"atoms (\d+) and (\d+)", str(err.value))
    assert {int(named[1]), int(named[2])} == {i, j}
    assert err.value.hint and "overlapping" in err.value.hint
    with pytest.raises(InputError, match="0 Å apart"):  # non-periodic too
        dp.eval(coord, None, types)


def test_core_nlist_form_names_local_and_ghost(model):
    coord = np.array([[0.0, 0, 0], [1.0, 0, 0], [0.0, 0, 0]])  # atom 2 (ghost) on atom 0
    with pytest.raises(InputError, match=r"atoms 0 and 2 are 0 Å apart"):
        DeepPot(model).eval_nlist(coord, [0, 1, 1], 2, [[1, 2], [0, 2]])


@pytest.mark.parametrize("shift", CLOSE)
def test_core_is_finite_when_atoms_are_close_but_distinct(model, shift):
    coord, cell, types = _overlapping(0, 1, shift)
    e, f, v = DeepPot(model).eval(coord, cell.reshape(9), types)
    assert np.isfinite(e).all() and np.isfinite(f).all() and np.isfinite(v).all()


def test_ase_calculator_raises_instead_of_nan(model):
    coord, cell, types = _overlapping(3, 7)
    atoms = Atoms(["O" if t == 0 else "H" for t in types], positions=coord, cell=cell, pbc=True)
    atoms.calc = DeepFT(model)
    with pytest.raises(InputError, match=r"atoms (3 and 7|7 and 3) are 0 Å apart"):
        atoms.get_potential_energy()
    atoms.positions[7, 0] += CLOSE[0]
    assert np.isfinite(atoms.get_potential_energy())
    assert np.isfinite(atoms.get_forces()).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("op", ["env_mat_se_a", "env_mat_se_a_vjp", "env_mat_se_a_jvp"])
def test_kernels_refuse_r_equal_zero(dtype, op):
    rng = np.random.default_rng(0)
    rij = rng.normal(size=(3, 5, 3)).astype(dtype)
    rij[2, 3] = 0.0
    mask = np.ones((3, 5), bool)
    ctype = np.zeros(3, np.int32)
    stats = (np.zeros((1, 4), dtype), np.ones((1, 4), dtype), 6.0, 0.5)
    extra = () if op == "env_mat_se_a" else (
        rng.normal(size=(3, 5, 4 if op.endswith("vjp") else 3)).astype(dtype),)
    fn = getattr(_core, op)
    with pytest.raises(ValueError, match="center 2, neighbor slot 3: r_ij = 0"):
        fn(rij, mask, ctype, *stats, *extra)
    mask[2, 3] = False  # a padded slot may hold anything
    out = fn(rij, mask, ctype, *stats, *extra)
    assert np.isfinite(out).all()
    rij[2, 3] = CLOSE[0]
    mask[2, 3] = True
    assert np.isfinite(fn(rij, mask, ctype, *stats, *extra)).all()
