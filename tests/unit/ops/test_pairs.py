"""pair_displacements: values, gradients (forces and box) to second order."""

from __future__ import annotations

import numpy as np
import torch
from support.tolerances import TIGHT

from deepft.ops import build_nlist, pair_displacements


def system():
    rng = np.random.default_rng(0)
    box = np.array([[5.0, 0.0, 0.0], [1.0, 5.5, 0.0], [0.3, -0.5, 6.0]])
    pos = rng.uniform(0, 1, (2, 10, 3)) @ box + rng.integers(-2, 3, (2, 10, 3)) @ box
    boxes = np.stack([box.ravel()] * 2)
    nl = build_nlist(pos, boxes, np.array([0, 1] * 5), 4.0, [30, 30])
    return pos, boxes, nl


def test_values_and_mask():
    pos, boxes, nl = system()
    rij, mask = pair_displacements(torch.from_numpy(pos), torch.from_numpy(boxes), nl.nlist,
                                   nl.image)
    idx = np.maximum(nl.nlist, 0)
    expected = (np.take_along_axis(pos, idx.reshape(2, -1, 1), 1).reshape(*idx.shape, 3)
                + np.einsum("fiks,fsa->fika", nl.image, boxes.reshape(2, 3, 3)) - pos[:, :, None])
    expected[nl.nlist < 0] = 0
    np.testing.assert_allclose(rij.numpy(), expected, rtol=0, atol=TIGHT)
    np.testing.assert_array_equal(mask.numpy(), nl.nlist >= 0)
    assert (np.linalg.norm(expected, axis=-1)[nl.nlist >= 0] < 4.0).all()


def test_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(2)
    box = np.array([[4.0, 0.0, 0.0], [0.8, 4.2, 0.0], [0.3, -0.6, 4.4]])
    pos = (rng.uniform(0, 1, (5, 3)) @ box)[None]
    boxes = box.reshape(1, 9)
    nl = build_nlist(pos, boxes, np.array([0, 1, 0, 1, 1]), 3.0, [6, 6])
    c = torch.from_numpy(pos).requires_grad_()
    b = torch.from_numpy(boxes).requires_grad_()

    def f(c, b):
        return pair_displacements(c, b, nl.nlist, nl.image)[0]

    assert torch.autograd.gradcheck(f, (c, b), fast_mode=True)
    assert torch.autograd.gradgradcheck(f, (c, b), fast_mode=True)


def test_gradient_equals_torch_gather():
    pos, boxes, nl = system()
    g = torch.from_numpy(np.random.default_rng(1).normal(size=(*nl.nlist.shape, 3)))
    c = torch.from_numpy(pos).requires_grad_()
    b = torch.from_numpy(boxes).requires_grad_()
    (pair_displacements(c, b, nl.nlist, nl.image)[0] * g).sum().backward()
    c2 = torch.from_numpy(pos).requires_grad_()
    b2 = torch.from_numpy(boxes).requires_grad_()
    idx = torch.from_numpy(np.maximum(nl.nlist, 0))
    mask = torch.from_numpy(nl.nlist >= 0)[..., None]
    rij = torch.stack([c2[f][idx[f]] for f in range(2)]) - c2[:, :, None]
    rij = rij + torch.einsum("fiks,fsa->fika", torch.from_numpy(nl.image).double(),
                             b2.reshape(2, 3, 3))
    (torch.where(mask, rij, torch.zeros_like(rij)) * g).sum().backward()
    torch.testing.assert_close(c.grad, c2.grad, rtol=TIGHT, atol=TIGHT)
    torch.testing.assert_close(b.grad, b2.grad, rtol=TIGHT, atol=TIGHT)
