"""deepft.data.neighbor_stat (compiled cell list) = brute force over all pairs and images."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from deepft.data import System
from deepft.data.neighbor_stat import neighbor_stat


def brute_force(systems, rcut: float, one_type: bool = False):
    """Shortest distance < rcut and the max neighbors per type, every pair and periodic image
    (an atom's own images included) enumerated explicitly."""
    ntypes = 1 if one_type else len(systems[0].type_map)
    best, most = np.inf, np.zeros(ntypes, dtype=np.int64)
    for s in systems:
        atype = np.zeros(s.natoms, dtype=np.int64) if one_type else s.atype
        frames = s.get_frames(np.arange(s.nframes))
        for f in range(s.nframes):
            coord = frames["coord"][f]
            if s.pbc:
                cell = frames["box"][f].reshape(3, 3)
                # wrap into the cell (the data is not wrapped): then |shift| <= ceil(rcut/width)
                frac = coord @ np.linalg.inv(cell)
                coord = (frac - np.floor(frac)) @ cell
                widths = abs(np.linalg.det(cell)) / np.linalg.norm(
                    np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
                reach = [range(-int(np.ceil(rcut / w)), int(np.ceil(rcut / w)) + 1)
                         for w in widths]
                shifts = np.array(list(itertools.product(*reach))) @ cell  # nshift x 3
            else:
                shifts = np.zeros((1, 3))
            # nshift x N (i) x N (j) distances
            d = np.linalg.norm(coord[None, None, :, :] + shifts[:, None, None, :]
                               - coord[None, :, None, :], axis=-1)
            zero = np.all(shifts == 0, axis=1)
            d[zero, np.arange(s.natoms), np.arange(s.natoms)] = np.inf  # not its own neighbor
            inside = d < rcut
            if inside.any():
                best = min(best, float(d[inside].min()))
            per_atom = inside.sum(axis=0)  # i x j
            for t in range(ntypes):
                most[t] = max(most[t], int(per_atom[:, atype == t].sum(axis=1).max()))
    return best, most.tolist()


class FirstFrames:
    """The first ``n`` frames of a System (the attributes neighbor_stat reads)."""

    def __init__(self, system: System, n: int):
        self.system, self.nframes = system, n
        self.natoms, self.atype, self.pbc = system.natoms, system.atype, system.pbc
        self.type_map = system.type_map

    def get_frames(self, idx):
        assert np.max(idx) < self.nframes
        return self.system.get_frames(idx)


@pytest.fixture(scope="module")
def water(water_dir):
    """24 frames of water/data_0 (192 atoms, 12.44 Å cubic box, coordinates not wrapped)."""
    return [FirstFrames(System(water_dir / "data_0", ["O", "H"]), 24)]


@pytest.fixture(scope="module")
def organic(organic_dir):
    return [System(p, ["C", "H", "O"]) for p in sorted(organic_dir.iterdir())]


@pytest.mark.parametrize("rcut", [1.2, 6.0, 7.5])
def test_water_pbc_matches_brute_force(water, rcut):
    """rcut 7.5 Å > half the 12.44 Å box: some neighbors are two images of the same atom."""
    got = neighbor_stat(water, rcut)
    want_d, want_n = brute_force(water, rcut)
    assert got.nframes == 24
    assert got.max_nbor_size == want_n
    assert abs(got.min_nbor_dist - want_d) < 1e-10
    assert 0.8 < got.min_nbor_dist < 1.1  # an O-H bond
    if rcut == 1.2:
        assert got.max_nbor_size == [1, 2]  # H: its O; O: its two H


def test_water_one_type(water):
    got = neighbor_stat(water, 6.0, one_type=True)
    want_d, want_n = brute_force(water, 6.0, one_type=True)
    assert got.max_nbor_size == want_n and len(want_n) == 1
    assert got.max_nbor_size[0] <= sum(neighbor_stat(water, 6.0).max_nbor_size)
    assert abs(got.min_nbor_dist - want_d) < 1e-10


def test_organic_nopbc_matches_brute_force(organic):
    assert not any(s.pbc for s in organic)
    got = neighbor_stat(organic, 3.0)
    want_d, want_n = brute_force(organic, 3.0)
    assert got.nframes == sum(s.nframes for s in organic)
    assert got.max_nbor_size == want_n
    assert abs(got.min_nbor_dist - want_d) < 1e-10


def test_no_pair_within_rcut(organic):
    got = neighbor_stat(organic[:1], 0.3)
    assert got.min_nbor_dist == np.inf and got.max_nbor_size == [0, 0, 0]
