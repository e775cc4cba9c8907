"""Rotation, translation, periodic-image and permutation invariance; force/virial equivariance."""

from __future__ import annotations

import pytest
import torch
from support.models import PHYSICS_DESCRIPTORS, physics_model, random_rotation
from support.tolerances import SAME

F64 = torch.float64


@pytest.mark.parametrize("system", ["water", "organic"])
@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("descriptor", PHYSICS_DESCRIPTORS)
def test_rotation(descriptor, system, precision, request):
    coord, box, atype = request.getfixturevalue(f"{system}_frame")
    model = physics_model(precision=precision, descriptor=descriptor)
    tol = SAME[torch.float64 if precision == "float64" else torch.float32]
    rot = random_rotation(11)
    ref = model(coord, box, atype)
    new_box = None if box is None else (box.reshape(-1, 3, 3) @ rot.T).reshape(-1, 9)
    out = model(coord @ rot.T, new_box, atype)
    scale = ref["energy"].abs().item()
    assert abs(out["energy"] - ref["energy"]).item() < tol * max(scale, 1.0), \
        f"{system} {precision}: energy changed under rotation"
    torch.testing.assert_close(out["force"], ref["force"] @ rot.T, rtol=0, atol=tol,
                               msg=f"{system} {precision}: force not equivariant")
    v_ref = ref["virial"].reshape(3, 3)
    torch.testing.assert_close(out["virial"].reshape(3, 3), rot @ v_ref @ rot.T, rtol=0,
                               atol=tol * 10, msg=f"{system} {precision}: virial")


@pytest.mark.parametrize("system", ["water", "organic"])
@pytest.mark.parametrize("descriptor", PHYSICS_DESCRIPTORS)
def test_translation_and_periodic_images(descriptor, system, request):
    coord, box, atype = request.getfixturevalue(f"{system}_frame")
    model = physics_model(type_one_side=False, descriptor=descriptor)
    tol = SAME[F64]
    ref = model(coord, box, atype, do_atomic_virial=True)
    shifted = coord + torch.tensor([1.3, -0.7, 2.9], dtype=F64)
    out = model(shifted, box, atype, do_atomic_virial=True)
    torch.testing.assert_close(out["energy"], ref["energy"], rtol=tol, atol=0, msg=system)
    for key in ("force", "virial", "atom_virial"):
        torch.testing.assert_close(out[key], ref[key], rtol=0, atol=tol, msg=f"{system} {key}")
    if box is not None:  # move every other atom by a lattice vector combination
        cell = box.reshape(3, 3)
        jump = torch.zeros_like(coord)
        jump[0, ::2] = cell[0] - 2 * cell[2]
        jump[0, 1::3] += cell[1]
        out = model(coord + jump, box, atype)
        torch.testing.assert_close(out["energy"], ref["energy"], rtol=tol, atol=0)
        torch.testing.assert_close(out["force"], ref["force"], rtol=0, atol=tol)
        torch.testing.assert_close(out["virial"], ref["virial"], rtol=0, atol=tol)


@pytest.mark.parametrize("system", ["water", "organic"])
@pytest.mark.parametrize("descriptor", PHYSICS_DESCRIPTORS)
def test_permutation(descriptor, system, request):
    coord, box, atype = request.getfixturevalue(f"{system}_frame")
    model = physics_model(descriptor=descriptor)
    tol = SAME[F64]
    perm = torch.randperm(coord.shape[1], generator=torch.Generator().manual_seed(5))
    ref = model(coord, box, atype, do_atomic_virial=True)
    out = model(coord[:, perm], box, atype[perm], do_atomic_virial=True)
    torch.testing.assert_close(out["energy"], ref["energy"], rtol=tol, atol=0, msg=system)
    for key in ("atom_energy", "force", "atom_virial"):
        torch.testing.assert_close(out[key], ref[key][:, perm], rtol=0, atol=tol,
                                   msg=f"{system} {key}")
