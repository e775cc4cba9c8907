"""Full pair list (deepft.neighbor_list) = O(N^2) reference and = ase.neighborlist."""

from __future__ import annotations

import numpy as np
import pytest
from support.neighbors import random_system
from support.tolerances import TIGHT

import deepft
from deepft.ops.reference import brute_force_pairs

CELLS = {
    "cubic": np.diag([9.0, 9.0, 9.0]),
    "orthorhombic": np.diag([7.0, 9.5, 12.0]),
    "triclinic": np.array([[8.0, 0.0, 0.0], [2.5, 7.5, 0.0], [-1.8, 2.2, 8.5]]),
    "skewed_triclinic": np.array([[6.0, 0.0, 0.0], [4.5, 5.0, 0.0], [3.0, -2.5, 7.0]]),
    "small_box": np.diag([3.1, 3.5, 4.2]),  # all sides < 2 rcut: several images per pair
    "small_triclinic": np.array([[2.6, 0.0, 0.0], [1.1, 2.9, 0.0], [0.4, -0.9, 3.3]]),
}


def as_set(i, j, S):
    return set(zip(i.tolist(), j.tolist(), *np.asarray(S).T.tolist(), strict=True))


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("rcut", [2.0, 4.5, 5.9])  # no lattice vector at exactly rcut
def test_periodic_equals_brute_force(name, rcut):
    pos, cell = random_system(hash((name, rcut)) % 1000, 40, CELLS[name], pbc=True)
    i, j, S = deepft.neighbor_list(pos, cell, True, rcut)
    ref = brute_force_pairs(pos, cell, True, rcut)
    got = as_set(i, j, S)
    assert len(got) == len(i), f"{name}: duplicate pairs"
    assert got == ref, f"{name} rcut={rcut}: {len(got - ref)} extra, {len(ref - got)} missing"


@pytest.mark.parametrize("rcut", [1.5, 3.0, 12.0])
def test_non_periodic_equals_brute_force(rcut):
    pos, _ = random_system(7, 60, np.eye(3), pbc=False)
    i, j, S = deepft.neighbor_list(pos, None, False, rcut)
    assert (S == 0).all()
    assert as_set(i, j, S) == brute_force_pairs(pos, None, False, rcut)


def test_small_box_sees_own_images():
    # one atom in a 2 Å cubic box with rcut 4.5: its images at |S| up to 2 are neighbors
    pos = np.array([[0.3, 0.2, 0.1]])
    cell = np.eye(3) * 2.0
    i, j, S = deepft.neighbor_list(pos, cell, True, 4.5)
    ref = brute_force_pairs(pos, cell, True, 4.5)
    assert as_set(i, j, S) == ref
    assert len(ref) == sum(
        1 for s in np.ndindex(5, 5, 5) if 0 < np.linalg.norm((np.array(s) - 2) * 2.0) < 4.5
    )


def test_pairs_sorted_by_i_and_symmetric():
    pos, cell = random_system(3, 50, CELLS["triclinic"], pbc=True)
    i, j, S = deepft.neighbor_list(pos, cell, True, 5.0)
    assert np.all(np.diff(i) >= 0), "pairs must be grouped by i in increasing order"
    pairs = as_set(i, j, S)
    assert all((b, a, -x, -y, -z) in pairs for a, b, x, y, z in pairs), "missing reverse pair"


def test_distances_and_vectors():
    pos, cell = random_system(4, 30, CELLS["small_triclinic"], pbc=True)
    i, j, S, d, D = deepft.neighbor_list(pos, cell, True, 4.0, quantities="ijSdD")
    np.testing.assert_allclose(D, pos[j] + S @ cell - pos[i], rtol=0, atol=TIGHT)
    np.testing.assert_allclose(d, np.linalg.norm(D, axis=1), rtol=0, atol=TIGHT)
    assert d.max() < 4.0


def test_unwrapped_positions_same_pairs_with_shifted_images():
    # moving atom k by a lattice vector L must change only the shifts of its pairs
    pos, cell = random_system(5, 30, CELLS["triclinic"], pbc=True)
    shift = np.random.default_rng(0).integers(-3, 4, size=(30, 3))
    moved = pos + shift @ cell
    i, j, S = deepft.neighbor_list(pos, cell, True, 5.0)
    i2, j2, S2 = deepft.neighbor_list(moved, cell, True, 5.0)
    expected = as_set(i, j, S - shift[j] + shift[i])
    assert as_set(i2, j2, S2) == expected


def test_self_interaction():
    pos, cell = random_system(6, 10, CELLS["cubic"], pbc=True)
    i, j, S = deepft.neighbor_list(pos, cell, True, 3.0, self_interaction=True)
    got = as_set(i, j, S)
    assert {(k, k, 0, 0, 0) for k in range(10)} <= got
    assert got - {(k, k, 0, 0, 0) for k in range(10)} == brute_force_pairs(pos, cell, True, 3.0)


def test_float32_positions():
    pos, cell = random_system(8, 40, CELLS["orthorhombic"], pbc=True)
    i, j, S, d = deepft.neighbor_list(pos.astype(np.float32), cell.astype(np.float32), True, 4.0,
                                      quantities="ijSd")
    assert d.dtype == np.float32
    ref = brute_force_pairs(pos, cell, True, 4.0)
    got = as_set(i, j, S)
    # only pairs within float32 rounding of the cutoff may differ
    for p in got ^ ref:
        dist = np.linalg.norm(pos[p[1]] + np.array(p[2:]) @ cell - pos[p[0]])
        assert abs(dist - 4.0) < 1e-5, f"pair {p} at {dist} differs in float32"


# ---- against ASE --------------------------------------------------------------------------

ase = pytest.importorskip("ase")
from ase.neighborlist import neighbor_list as ase_neighbor_list  # noqa: E402


@pytest.mark.parametrize("pbc", [(True, True, True), (True, False, True), (False, False, True),
                                 (False, False, False)])
@pytest.mark.parametrize("name", ["orthorhombic", "triclinic", "small_box"])
def test_equals_ase(pbc, name):
    pos, cell = random_system(11, 35, CELLS[name], pbc=True)
    atoms = ase.Atoms("H35", positions=pos, cell=cell, pbc=pbc)
    for rcut in (2.5, 5.0):
        ref_i, ref_j, ref_S = ase_neighbor_list("ijS", atoms, rcut)
        i, j, S = deepft.neighbor_list(atoms, rcut)
        assert as_set(i, j, S) == as_set(ref_i, ref_j, ref_S), f"{name} pbc={pbc} rcut={rcut}"
        np.testing.assert_array_equal(i, ref_i)  # both sorted by i
        assert (i.dtype, j.dtype, S.dtype) == (ref_i.dtype, ref_j.dtype, ref_S.dtype)


def test_ase_atoms_without_cell():
    pos, _ = random_system(12, 20, np.eye(3), pbc=False)
    atoms = ase.Atoms("C20", positions=pos)
    i, j, S = deepft.neighbor_list(atoms, cutoff=3.0)
    ref = ase_neighbor_list("ijS", atoms, 3.0)
    assert as_set(i, j, S) == as_set(*ref)


def test_water_equals_ase(water_frame):
    coord, box, _ = water_frame
    atoms = ase.Atoms(numbers=[1] * len(coord), positions=coord, cell=box, pbc=True)
    ref = ase_neighbor_list("ijS", atoms, 6.0)
    got = deepft.neighbor_list(coord, box, True, 6.0)
    assert as_set(*got) == as_set(*ref)


# ---- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"cell": np.zeros((3, 3)), "pbc": True, "cutoff": 2.0}, "degenerate"),
        ({"cell": np.diag([4.0, 4.0, 4.0]), "pbc": True, "cutoff": -1.0}, "cutoff"),
        ({"cell": None, "pbc": True, "cutoff": 2.0}, "cell"),
    ],
)
def test_bad_input_raises(kwargs, match):
    pos = np.zeros((3, 3))
    with pytest.raises(ValueError, match=match):
        deepft.neighbor_list(pos, **kwargs)
