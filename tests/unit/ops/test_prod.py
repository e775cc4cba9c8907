"""prod_force / prod_virial = torch autograd of an energy w.r.t. coordinates and box strain."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.tolerances import STRICT, TIGHT

from deepft.ops import build_nlist, env_mat_se_a, prod_force, prod_virial

RCUT, RCUT_SMTH, SEL = 6.0, 0.5, [46, 92]


def energy_of_rij(rij, mask, ctype, weights):
    """A smooth many-body energy-like scalar: sum over pairs of tanh(em @ W) (eV)."""
    davg = torch.tensor([[0.1, 0, 0, 0], [0.05, 0, 0, 0]], dtype=rij.dtype)
    dstd = torch.tensor([[0.5, 0.3, 0.3, 0.3], [0.4, 0.2, 0.2, 0.2]], dtype=rij.dtype)
    em = env_mat_se_a(rij, mask, ctype, davg, dstd, RCUT, RCUT_SMTH)
    return torch.tanh(em @ weights).sum()


def rij_from(coord, box, nl):
    """rij [1, nloc, nnei, 3] built in torch from coord [nloc, 3] and box [3, 3]."""
    idx = torch.from_numpy(nl.nlist[0])
    img = torch.from_numpy(nl.image[0]).to(coord.dtype)
    rij = coord[idx.clamp(min=0)] + img @ box - coord[:, None]
    return rij[None], (idx >= 0)[None]


@pytest.fixture()
def system(water_frame):
    coord, box, atype = water_frame
    nl = build_nlist(coord[None], box.reshape(1, 9), atype, RCUT, SEL)
    weights = torch.from_numpy(np.random.default_rng(0).normal(size=(4, 3)))
    return coord, box, atype, nl, weights


def test_force_and_virial_equal_autograd(system):
    coord, box, atype, nl, weights = system
    ctype = torch.from_numpy(atype)[None]
    x = torch.from_numpy(coord).requires_grad_()
    eps = torch.zeros(3, 3, dtype=torch.float64, requires_grad=True)
    deform = torch.eye(3, dtype=torch.float64) + eps
    rij, mask = rij_from(x @ deform, torch.from_numpy(box) @ deform, nl)
    energy = energy_of_rij(rij, mask, ctype, weights)
    de_dx, de_deps = torch.autograd.grad(energy, (x, eps))

    r = rij.detach().requires_grad_()
    (g,) = torch.autograd.grad(energy_of_rij(r, mask, ctype, weights), r)
    force = prod_force(g.numpy(), nl.nlist, len(coord))
    np.testing.assert_allclose(force[0], -de_dx.numpy(), rtol=STRICT, atol=STRICT)
    assert abs(force[0].sum(axis=0)).max() < 1e-10, "forces must sum to zero"

    virial, atom_virial = prod_virial(g.numpy(), r.detach().numpy(), nl.nlist, len(coord),
                                      atomic=True)
    # DeePMD-kit: virial[a][b] = -sum_pairs g_a r_b = -(dE/d eps)^T for x -> x (1 + eps)
    np.testing.assert_allclose(virial[0].reshape(3, 3), -de_deps.numpy().T, rtol=STRICT,
                               atol=STRICT)
    np.testing.assert_allclose(atom_virial[0].sum(axis=0), virial[0], rtol=TIGHT, atol=STRICT)


def test_atom_virial_definition(system):
    coord, box, atype, nl, weights = system
    rng = np.random.default_rng(1)
    nnei = sum(SEL)
    g = rng.normal(size=(1, len(coord), nnei, 3))
    rij = rng.normal(size=(1, len(coord), nnei, 3))
    _, atom_virial = prod_virial(g, rij, nl.nlist, len(coord), atomic=True)
    expected = np.zeros((len(coord), 9))
    for i, n in zip(*np.nonzero(nl.nlist[0] >= 0), strict=True):
        expected[nl.nlist[0, i, n]] -= np.outer(g[0, i, n], rij[0, i, n]).ravel()
    np.testing.assert_allclose(atom_virial[0], expected, rtol=TIGHT, atol=TIGHT)


def test_ghost_atoms_receive_forces():
    # two local atoms, one ghost copy of atom 1: the ghost gets -g, the center +g
    nlist = np.array([[[2, -1], [-1, -1]]], dtype=np.int64)
    g = np.zeros((1, 2, 2, 3))
    g[0, 0, 0] = [1.0, 2.0, 3.0]
    force = prod_force(g, nlist, 3)
    np.testing.assert_array_equal(force[0], [[1, 2, 3], [0, 0, 0], [-1, -2, -3]])


def test_float32_and_torch(system):
    coord, box, atype, nl, weights = system
    rng = np.random.default_rng(2)
    g = rng.normal(size=(1, len(coord), sum(SEL), 3))
    rij = rng.normal(size=g.shape)
    f64 = prod_force(g, nl.nlist, len(coord))
    f32 = prod_force(g.astype(np.float32), nl.nlist, len(coord))
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, f64, rtol=1e-4, atol=1e-4)
    ft = prod_force(torch.from_numpy(g), torch.from_numpy(nl.nlist), len(coord))
    assert isinstance(ft, torch.Tensor)
    np.testing.assert_array_equal(ft.numpy(), f64)
    vt = prod_virial(torch.from_numpy(g), torch.from_numpy(rij), torch.from_numpy(nl.nlist),
                     len(coord))
    np.testing.assert_allclose(vt.numpy(), prod_virial(g, rij, nl.nlist, len(coord)))


def test_bad_index_raises():
    with pytest.raises(ValueError, match="outside"):
        prod_force(np.zeros((1, 1, 1, 3)), np.array([[[5]]]), 2)
