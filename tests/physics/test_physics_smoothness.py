"""Smoothness: energy and forces continuous when a neighbor crosses rcut or rcut_smth.

A water-like O-H pair plus a probe C atom on the far side of O, moved along x so that only the
O-C distance crosses the radii (C-H stays beyond rcut). With davg != 0 an empty slot is not zero
after normalization, so these tests fail if a leaving neighbor is not continuous with an empty
slot (DeePMD-kit's convention, see deepft/model/descriptor/se_e2_a.py).
"""

from __future__ import annotations

import pytest
import torch
from support.models import PHYSICS_DESCRIPTORS, physics_model
from support.tolerances import FD_STEP, FINITE_DIFF, SMOOTH

F64 = torch.float64


def probe_frame(r: float) -> torch.Tensor:
    return torch.tensor([[[0.0, 0.0, 0.0], [-0.96, 0.0, 0.0], [r, 0.0, 0.0]]], dtype=F64)


ATYPE = torch.tensor([0, 1, 2])


@pytest.mark.parametrize("type_one_side", [True, False])
@pytest.mark.parametrize("radius", ["rcut", "rcut_smth"])
@pytest.mark.parametrize("descriptor", PHYSICS_DESCRIPTORS)
def test_continuous_across_radius(descriptor, type_one_side, radius):
    model = physics_model(type_one_side, descriptor=descriptor)
    r0 = getattr(model.descriptor, radius)
    assert bool((model.descriptor.davg[:, 0] != 0).all()), "needs nonzero davg"
    delta = 1e-7
    inside = model(probe_frame(r0 - delta), None, ATYPE)
    outside = model(probe_frame(r0 + delta), None, ATYPE)
    # energy change minus what the (average) force predicts over 2 delta: O(delta^3) if smooth
    slope = -(inside["force"][0, 2, 0] + outside["force"][0, 2, 0]) / 2
    jump = abs(outside["energy"] - inside["energy"] - slope * 2 * delta).item()
    assert jump < SMOOTH[F64], f"{radius} type_one_side={type_one_side}: jump {jump}"
    torch.testing.assert_close(inside["force"], outside["force"], rtol=0, atol=1e-6,
                               msg=f"{radius}: force jumps")


@pytest.mark.parametrize("descriptor", PHYSICS_DESCRIPTORS)
def test_energy_and_force_along_a_path_through_rcut(descriptor):
    """E(r) sampled across rcut: forces equal -dE/dr by finite differences everywhere, and the
    probe feels exactly nothing beyond rcut."""
    model = physics_model(descriptor=descriptor)
    rcut = model.descriptor.rcut
    h = FD_STEP[F64]
    for r in [rcut - 0.3, rcut - 0.05, rcut - 1e-3, rcut + 1e-3]:
        e_plus = model(probe_frame(r + h), None, ATYPE)["energy"]
        e_minus = model(probe_frame(r - h), None, ATYPE)["energy"]
        force = model(probe_frame(r), None, ATYPE)["force"][0, 2, 0]
        fd = -(e_plus - e_minus).item() / (2 * h)
        assert abs(fd - force.item()) < FINITE_DIFF[F64], f"r={r}: fd {fd} force {force.item()}"
    far = [model(probe_frame(rcut + d), None, ATYPE) for d in (1e-3, 0.5)]
    assert torch.equal(far[0]["energy"], far[1]["energy"])
    assert torch.equal(far[0]["force"][0, 2], torch.zeros(3, dtype=F64))
    near = model(probe_frame(rcut - 0.3), None, ATYPE)["force"][0, 2, 0]
    assert abs(near.item()) > 1e-6, "the probe interacts inside rcut"


@pytest.mark.parametrize("descriptor", PHYSICS_DESCRIPTORS)
def test_isolated_atom_energy_is_bias_plus_constant(descriptor):
    """An atom with no neighbor: zero force, and its energy does not depend on its position."""
    model = physics_model(descriptor=descriptor)
    lone = model(torch.tensor([[[0.0, 0.0, 0.0], [20.0, 0.0, 0.0]]], dtype=F64), None,
                 torch.tensor([0, 2]))
    moved = model(torch.tensor([[[0.0, 0.0, 0.0], [-30.0, 9.0, 1.0]]], dtype=F64), None,
                  torch.tensor([0, 2]))
    assert torch.equal(lone["force"], torch.zeros_like(lone["force"]))
    torch.testing.assert_close(lone["atom_energy"], moved["atom_energy"], rtol=0, atol=0)
