"""Physics of the kernel pipeline (build_nlist -> rij -> env_mat_se_a): an se_a-like energy is
invariant under rotation, translation, atom permutation and the choice of periodic images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.frames import load_frame
from support.tolerances import STRICT

from deepft.ops import build_nlist, env_mat_se_a

RCUT, RCUT_SMTH, SEL = 6.0, 0.5, [46, 92]
STRICT_BOTH = dict(rtol=STRICT, atol=STRICT)  # np.isclose: relative and absolute


def load_water(water_dir):
    """Frame 0 of water/data_0: (coord [192, 3], box [3, 3], atype [192])."""
    return load_frame(water_dir / "data_0")


def triclinic_system():
    rng = np.random.default_rng(0)
    box = np.array([[9.0, 0.0, 0.0], [2.0, 8.5, 0.0], [-1.5, 1.0, 9.5]])
    return rng.uniform(0, 1, size=(60, 3)) @ box, box, rng.integers(0, 2, size=60)


def small_box_system():
    rng = np.random.default_rng(1)
    box = np.array([[4.0, 0.0, 0.0], [0.8, 4.2, 0.0], [0.3, -0.6, 4.4]])  # thinner than 2 rcut
    return rng.uniform(0, 1, size=(12, 3)) @ box, box, rng.integers(0, 2, size=12)


def energy(coord, box, atype, sel=SEL):
    """se_a-like invariant scalar: T_i = sum_j em_ij (x) G(s_ij); E = sum_i tanh(<T_i^T T_i, W>)."""
    nl = build_nlist(coord[None], box.reshape(1, 9), atype, RCUT, sel)
    assert not nl.overflow
    c = torch.from_numpy(coord)
    idx = torch.from_numpy(nl.nlist[0])
    rij = c[idx.clamp(min=0)] + torch.from_numpy(nl.image[0]).double() @ torch.from_numpy(box)
    rij = (rij - c[:, None])[None]
    davg = torch.tensor([[0.1, 0, 0, 0], [0.05, 0, 0, 0]], dtype=torch.float64)
    dstd = torch.tensor([[0.5, 0.3, 0.3, 0.3], [0.4, 0.2, 0.2, 0.2]], dtype=torch.float64)
    em = env_mat_se_a(rij, (idx >= 0)[None], torch.from_numpy(atype)[None], davg, dstd, RCUT,
                      RCUT_SMTH)[0]  # nloc x nnei x 4
    gen = torch.Generator().manual_seed(0)
    w1 = torch.randn(1, 6, generator=gen, dtype=torch.float64)
    w2 = torch.randn(6, 6, generator=gen, dtype=torch.float64)
    g = torch.tanh(em[..., :1] @ w1)  # nloc x nnei x 6
    t = torch.einsum("nka,nkm->nam", em, g) / em.shape[1]  # nloc x 4 x 6
    d = torch.einsum("nam,nal->nml", t, t)  # nloc x 6 x 6
    return torch.tanh((d * w2).sum(dim=(1, 2))).sum().item()


def rotation(seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


SYSTEMS = {"water": None, "triclinic": triclinic_system, "small_box": small_box_system}


@pytest.fixture(params=sorted(SYSTEMS))
def system(request, water_dir):
    make = SYSTEMS[request.param]
    sel = [150, 150] if request.param == "small_box" else SEL
    return (*(load_water(water_dir) if make is None else make()), sel, request.param)


def test_rotation(system):
    coord, box, atype, sel, name = system
    e0 = energy(coord, box, atype, sel)
    for seed in range(2):
        rot = rotation(seed)
        assert np.isclose(energy(coord @ rot.T, box @ rot.T, atype, sel), e0, **STRICT_BOTH), name


def test_translation(system):
    coord, box, atype, sel, name = system
    e0 = energy(coord, box, atype, sel)
    moved = coord + np.array([3.3, -7.1, 0.4])
    assert np.isclose(energy(moved, box, atype, sel), e0, **STRICT_BOTH)


def test_permutation(system):
    coord, box, atype, sel, name = system
    perm = np.random.default_rng(5).permutation(len(coord))
    e0 = energy(coord, box, atype, sel)
    assert np.isclose(energy(coord[perm], box, atype[perm], sel), e0, **STRICT_BOTH), name


def test_periodic_image_choice(system):
    coord, box, atype, sel, name = system
    shifts = np.random.default_rng(6).integers(-3, 4, size=(len(coord), 3))
    e0 = energy(coord, box, atype, sel)
    assert np.isclose(energy(coord + shifts @ box, box, atype, sel), e0, **STRICT_BOTH), name


def test_energy_depends_on_geometry(water_dir):
    # guards the invariance tests against a constant energy
    coord, box, atype = load_water(water_dir)
    moved = coord.copy()
    moved[0] += 0.05
    assert abs(energy(moved, box, atype) - energy(coord, box, atype)) > 1e-6
