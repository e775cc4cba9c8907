"""se_e2_a env-matrix kernels = the pure-torch reference; derivatives to second order."""

from __future__ import annotations

import deepft._core as core
import numpy as np
import pytest
import torch
from support.tolerances import FLOAT32_KERNEL, STRICT, TIGHT

from deepft.ops import build_nlist, env_mat_se_a
from deepft.ops import reference as ref

RCUT, RCUT_SMTH = 6.0, 0.5
STRICT64 = dict(rtol=TIGHT, atol=TIGHT)
COARSE32 = dict(rtol=FLOAT32_KERNEL, atol=FLOAT32_KERNEL)


def random_pairs(seed=0, nf=2, nloc=6, nnei=20, dtype=torch.float64, rcut=RCUT, smth=RCUT_SMTH):
    """rij covering r < rcut_smth, the switching region and beyond rcut; NaN in padding."""
    g = torch.Generator().manual_seed(seed)
    direction = torch.randn(nf, nloc, nnei, 3, generator=g, dtype=torch.float64)
    direction = direction / direction.norm(dim=-1, keepdim=True)
    r = torch.rand(nf, nloc, nnei, 1, generator=g, dtype=torch.float64) * (rcut + 1.0 - 0.3) + 0.3
    rij = (direction * r).to(dtype)
    mask = torch.rand(nf, nloc, nnei, generator=g) > 0.25
    rij = torch.where(mask[..., None], rij, torch.full_like(rij, float("nan")))
    ctype = torch.randint(0, 2, (nf, nloc), generator=g)
    davg = (torch.randn(2, 4, generator=g, dtype=torch.float64) * 0.1).to(dtype)
    dstd = (torch.rand(2, 4, generator=g, dtype=torch.float64) + 0.5).to(dtype)
    return rij, mask, ctype, davg, dstd


def reference(rij, mask, ctype, davg, dstd, rcut=RCUT, smth=RCUT_SMTH):
    return ref.env_mat_se_a(rij, mask, ctype, davg, dstd, rcut, smth)


def flat_args(rij, mask, ctype, davg, dstd):
    nf, nloc, nnei = mask.shape
    return (rij.reshape(nf * nloc, nnei, 3).numpy(), mask.reshape(nf * nloc, nnei).numpy(),
            ctype.reshape(-1).numpy().astype(np.int32), davg.numpy(), dstd.numpy(), RCUT, RCUT_SMTH)


def test_forward_equals_reference_fp64():
    rij, mask, ctype, davg, dstd = random_pairs()
    em = env_mat_se_a(rij, mask, ctype, davg, dstd, RCUT, RCUT_SMTH)
    expected = reference(torch.nan_to_num(rij), mask, ctype, davg, dstd)
    torch.testing.assert_close(em, expected, **STRICT64)
    assert (em[~mask] == 0).all(), "padded slots must be exactly 0"
    assert torch.isfinite(em).all(), "NaN in padded rij leaked into the output"


def test_forward_water_equals_reference(water_frame):
    coord, box, atype = water_frame
    nl = build_nlist(coord[None], box.reshape(1, 9), atype, RCUT, [46, 92])
    c = torch.from_numpy(coord)
    idx = torch.from_numpy(nl.nlist[0])
    mask = idx >= 0
    shift = torch.from_numpy(nl.image[0]).double() @ torch.from_numpy(box)
    rij = c[idx.clamp(min=0)] + shift - c[:, None]
    ctype = torch.from_numpy(atype)[None]
    davg = torch.tensor([[0.3, 0, 0, 0], [0.2, 0, 0, 0]], dtype=torch.float64)
    dstd = torch.tensor([[0.4, 0.2, 0.2, 0.2], [0.3, 0.15, 0.15, 0.15]], dtype=torch.float64)
    em = env_mat_se_a(rij[None], mask[None], ctype, davg, dstd, RCUT, RCUT_SMTH)
    torch.testing.assert_close(em, reference(rij[None], mask[None], ctype, davg, dstd), **STRICT64)


def test_forward_float32():
    rij, mask, ctype, davg, dstd = random_pairs(dtype=torch.float32)
    em = env_mat_se_a(rij, mask, ctype, davg, dstd, RCUT, RCUT_SMTH)
    assert em.dtype == torch.float32
    expected = reference(torch.nan_to_num(rij).double(), mask, ctype, davg.double(), dstd.double())
    torch.testing.assert_close(em.double(), expected, **COARSE32)


def test_derivative_equals_autograd_of_reference():
    rij, mask, ctype, davg, dstd = random_pairs(nf=1, nloc=3, nnei=12)
    rij = torch.nan_to_num(rij)
    _, deriv = core.env_mat_se_a(*flat_args(rij, mask, ctype, davg, dstd), with_deriv=True)
    jac = torch.autograd.functional.jacobian(
        lambda x: reference(x, mask, ctype, davg, dstd), rij)  # 1,3,12,4 x 1,3,12,3
    diag = torch.einsum("fnkafnkb->fnkab", jac).reshape(3, 12, 4, 3)
    np.testing.assert_allclose(deriv, diag.numpy(), **STRICT64)


def test_derivative_central_differences():
    rij, mask, ctype, davg, dstd = random_pairs(seed=3)
    rij = torch.nan_to_num(rij)
    args = flat_args(rij, mask, ctype, davg, dstd)
    em, deriv = core.env_mat_se_a(*args, with_deriv=True)
    h = 1e-6
    for b in range(3):
        plus, minus = args[0].copy(), args[0].copy()
        plus[..., b] += h
        minus[..., b] -= h
        fd = (core.env_mat_se_a(plus, *args[1:]) - core.env_mat_se_a(minus, *args[1:])) / (2 * h)
        np.testing.assert_allclose(deriv[..., b], fd, rtol=1e-6, atol=1e-6,
                                   err_msg=f"d em / d r[{b}]")


def test_vjp_jvp_hvp_equal_autograd_of_reference():
    rij, mask, ctype, davg, dstd = random_pairs(seed=4)
    rij = torch.nan_to_num(rij)
    args = flat_args(rij, mask, ctype, davg, dstd)
    g = torch.randn(*mask.shape, 4, dtype=torch.float64)
    v = torch.randn(*mask.shape, 3, dtype=torch.float64)
    x = rij.clone().requires_grad_()
    em = reference(x, mask, ctype, davg, dstd)
    (vjp,) = torch.autograd.grad((em * g).sum(), x, create_graph=True)
    (hvp,) = torch.autograd.grad((vjp * v).sum(), x)
    _, deriv = core.env_mat_se_a(*args, with_deriv=True)
    jvp = np.einsum("nkab,nkb->nka", deriv, v.reshape(-1, mask.shape[-1], 3).numpy())
    shape = (-1, mask.shape[-1])
    np.testing.assert_allclose(core.env_mat_se_a_vjp(*args, g.reshape(*shape, 4).numpy()),
                               vjp.detach().reshape(*shape, 3).numpy(), **STRICT64)
    np.testing.assert_allclose(core.env_mat_se_a_jvp(*args, v.reshape(*shape, 3).numpy()),
                               jvp, **STRICT64)
    np.testing.assert_allclose(
        core.env_mat_se_a_hvp(*args, g.reshape(*shape, 4).numpy(), v.reshape(*shape, 3).numpy()),
        hvp.reshape(*shape, 3).numpy(), rtol=STRICT, atol=STRICT)


def test_gradcheck_and_gradgradcheck():
    # small rcut so that the pairs cover the inner, switching and outer regions
    rij, mask, ctype, davg, dstd = random_pairs(seed=5, nf=1, nloc=3, nnei=6, rcut=3.0, smth=1.0)
    rij = torch.nan_to_num(rij).requires_grad_()

    def f(x):
        return env_mat_se_a(x, mask, ctype, davg, dstd, 3.0, 1.0)

    assert torch.autograd.gradcheck(f, (rij,))
    assert torch.autograd.gradgradcheck(f, (rij,))


def test_force_loss_parameter_gradient_equals_reference():
    """The training pattern: E(em(rij), W), F = -dE/drij (create_graph), loss(F) -> dloss/dW."""
    rij, mask, ctype, davg, dstd = random_pairs(seed=6)
    rij = torch.nan_to_num(rij)
    w0 = torch.randn(4, 8, dtype=torch.float64)

    def param_grad(fn):
        w = w0.clone().requires_grad_()
        x = rij.clone().requires_grad_()
        energy = torch.tanh(fn(x, mask, ctype, davg, dstd, RCUT, RCUT_SMTH) @ w).sum()
        (force,) = torch.autograd.grad(energy, x, create_graph=True)
        (gw,) = torch.autograd.grad((force**2).sum(), w)
        return gw

    torch.testing.assert_close(param_grad(env_mat_se_a), param_grad(ref.env_mat_se_a),
                               rtol=STRICT, atol=STRICT)


def test_padded_slots_have_zero_gradients():
    rij, mask, ctype, davg, dstd = random_pairs(seed=7)
    x = torch.nan_to_num(rij).requires_grad_()
    em = env_mat_se_a(x, mask, ctype, davg, dstd, RCUT, RCUT_SMTH)
    (g,) = torch.autograd.grad(em.sum(), x)
    assert (g[~mask] == 0).all()


@pytest.mark.parametrize("bad, match", [({"rcut_smth": 7.0}, "rcut_smth"),
                                        ({"center_type": 5}, "type 5")])
def test_bad_input_raises(bad, match):
    rij, mask, ctype, davg, dstd = random_pairs(seed=8, nf=1, nloc=2, nnei=3)
    if "center_type" in bad:
        ctype = torch.full_like(ctype, bad["center_type"])
    with pytest.raises(ValueError, match=match):
        env_mat_se_a(rij, mask, ctype, davg, dstd, RCUT, bad.get("rcut_smth", RCUT_SMTH))


def test_float32_derivatives():
    rij, mask, ctype, davg, dstd = random_pairs(seed=9)
    rij = torch.nan_to_num(rij)
    g = torch.randn(*mask.shape, 4, dtype=torch.float64)
    v = torch.randn(*mask.shape, 3, dtype=torch.float64)

    def grads(dtype):
        x = rij.to(dtype).requires_grad_()
        em = env_mat_se_a(x, mask, ctype, davg.to(dtype), dstd.to(dtype), RCUT, RCUT_SMTH)
        (vjp,) = torch.autograd.grad((em * g.to(dtype)).sum(), x, create_graph=True)
        (hvp,) = torch.autograd.grad((vjp * v.to(dtype)).sum(), x)
        return vjp.detach().double(), hvp.double()

    for a, b in zip(grads(torch.float32), grads(torch.float64), strict=True):
        assert a.dtype == torch.float64
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
