"""Results do not depend on the number of CPU threads (the parallel paths start at 2^18 work
units, so these tests use systems above that size)."""

from __future__ import annotations

import deepft._core as core
import numpy as np
import pytest
import torch
from support.tolerances import STRICT, TIGHT

import deepft
from deepft.ops import build_nlist, env_mat_se_a, prod_force, prod_virial


def water_replicated(water_dir, reps):
    d = water_dir / "data_0"
    coord = np.load(d / "set.000" / "coord.npy")[0].reshape(-1, 3).astype(np.float64)
    box = np.load(d / "set.000" / "box.npy")[0].reshape(3, 3).astype(np.float64)
    atype = np.loadtxt(d / "type.raw", dtype=np.int64)
    shifts = np.stack(np.meshgrid(*[np.arange(r) for r in reps], indexing="ij"), -1).reshape(-1, 3)
    coord = (coord[None] + (shifts @ box)[:, None]).reshape(-1, 3)
    return coord, box * np.asarray(reps)[:, None], np.tile(atype, len(shifts))


@pytest.fixture()
def threads():
    before = core.num_threads()
    yield
    core.set_num_threads(before)


def run_with(nthreads, fn):
    core.set_num_threads(nthreads)
    return fn()


def test_pair_list_same_with_threads(water_dir, threads):
    coord, box, _ = water_replicated(water_dir, (3, 3, 3))  # 5,184 atoms
    one = run_with(1, lambda: deepft.neighbor_list(coord, box, True, 6.0))
    two = run_with(2, lambda: deepft.neighbor_list(coord, box, True, 6.0))
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


def test_nlist_env_mat_prod_same_with_threads(water_dir, threads):
    coord, box, atype = water_replicated(water_dir, (2, 2, 3))  # 2,304 atoms, 318k slots
    sel = [46, 92]

    def pipeline():
        nl = build_nlist(coord[None], box.reshape(1, 9), atype, 6.0, sel)
        c = torch.from_numpy(coord)
        idx = torch.from_numpy(nl.nlist[0])
        shift = torch.from_numpy(nl.image[0]).double() @ torch.from_numpy(box)
        rij = (c[idx.clamp(min=0)] + shift - c[:, None])[None].requires_grad_()
        davg = torch.zeros(2, 4, dtype=torch.float64)
        dstd = torch.ones(2, 4, dtype=torch.float64)
        em = env_mat_se_a(rij, (idx >= 0)[None], torch.from_numpy(atype)[None], davg, dstd,
                          6.0, 0.5)
        (g,) = torch.autograd.grad(torch.tanh(em).sum(), rij)
        force = prod_force(g.numpy(), nl.nlist, len(coord))
        virial, atom_virial = prod_virial(g.numpy(), rij.detach().numpy(), nl.nlist, len(coord),
                                          atomic=True)
        return nl.nlist, em.detach().numpy(), force, virial, atom_virial

    one = run_with(1, pipeline)
    two = run_with(2, pipeline)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])
    for a, b in zip(one[2:], two[2:], strict=True):  # sums in another order: rounding only
        np.testing.assert_allclose(a, b, rtol=TIGHT, atol=STRICT)
