"""Forces = -dE/dx and virial = -dE/dstrain by central finite differences (float64)."""

from __future__ import annotations

import pytest
import torch
from support.models import PHYSICS_DESCRIPTORS, physics_model
from support.tolerances import FD_STEP, FINITE_DIFF, SAME

F64 = torch.float64


def energy(model, coord, box, atype) -> torch.Tensor:
    return model(coord, box, atype)["energy"]


@pytest.mark.parametrize("system", ["water", "organic"])
@pytest.mark.parametrize("type_one_side", [True, False])
@pytest.mark.parametrize("descriptor", PHYSICS_DESCRIPTORS)
def test_forces_are_minus_energy_gradient(descriptor, system, type_one_side, request):
    coord, box, atype = request.getfixturevalue(f"{system}_frame")
    model = physics_model(type_one_side, descriptor=descriptor)
    force = model(coord, box, atype)["force"]
    h, tol = FD_STEP[F64], FINITE_DIFF[F64]
    atoms = [0, 1, 2, 5] if system == "water" else list(range(coord.shape[1]))
    for i in atoms:
        for k in range(3):
            plus, minus = coord.clone(), coord.clone()
            plus[0, i, k] += h
            minus[0, i, k] -= h
            fd = -(energy(model, plus, box, atype) - energy(model, minus, box, atype)) / (2 * h)
            assert abs(fd.item() - force[0, i, k].item()) < tol, \
                f"{system} type_one_side={type_one_side} atom {i} dim {k}: fd {fd.item()} " \
                f"autograd {force[0, i, k].item()}"
    # a random displacement of every atom at once
    direction = torch.randn(coord.shape, dtype=F64, generator=torch.Generator().manual_seed(1))
    slope = (energy(model, coord + h * direction, box, atype)
             - energy(model, coord - h * direction, box, atype)) / (2 * h)
    assert abs(slope.item() + (force * direction).sum().item()) < tol * coord.shape[1], system
    assert force.abs().max() > 1e-3, "forces are not trivially zero"


@pytest.mark.parametrize("system", ["water", "organic"])
@pytest.mark.parametrize("descriptor", PHYSICS_DESCRIPTORS)
def test_virial_is_minus_strain_derivative(descriptor, system, request):
    coord, box, atype = request.getfixturevalue(f"{system}_frame")
    model = physics_model(descriptor=descriptor)
    out = model(coord, box, atype, do_atomic_virial=True)
    h, tol = FD_STEP[F64], FINITE_DIFF[F64]

    def strained(a, b, eps):
        deform = torch.eye(3, dtype=F64)
        deform[a, b] += eps
        new_box = None if box is None else (box.reshape(-1, 3, 3) @ deform).reshape(-1, 9)
        return energy(model, coord @ deform, new_box, atype)

    for a in range(3):
        for b in range(3):
            fd = -(strained(a, b, h) - strained(a, b, -h)) / (2 * h)
            assert abs(fd.item() - out["virial"][0, a * 3 + b].item()) < tol, \
                f"{system} virial[{a},{b}]: fd {fd.item()} model {out['virial'][0, a * 3 + b]}"
    torch.testing.assert_close(out["atom_virial"].sum(1), out["virial"], rtol=0,
                               atol=SAME[F64])
    # invariant energy -> symmetric virial
    v = out["virial"].reshape(3, 3)
    torch.testing.assert_close(v, v.T, rtol=0, atol=SAME[F64])
    if box is None:  # isolated system: virial = sum_i F_i (x) x_i
        by_atoms = torch.einsum("na,nb->ab", out["force"][0], coord[0]).reshape(1, 9)
        torch.testing.assert_close(out["virial"], by_atoms, rtol=0, atol=SAME[F64])
