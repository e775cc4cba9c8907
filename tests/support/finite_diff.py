"""Forces of a DeepPot against central finite differences of its own energy."""

from __future__ import annotations

import numpy as np

from support.tolerances import FD_STEP, FINITE_DIFF


def assert_forces_are_energy_gradient(pot, coord, box, atype, atoms, label: str = "") -> None:
    """For each atom of ``atoms`` and each direction: F = -(E(x + h) - E(x - h)) / 2h within
    FINITE_DIFF (float64). coord ``[1, natoms, 3]`` Å, box ``[1, 9]``, energies eV."""
    import torch

    force = pot.eval(coord, box, atype)[1][0]
    h = FD_STEP[torch.float64]
    for atom in atoms:
        for d in range(3):
            plus, minus = coord.copy(), coord.copy()
            plus[0, atom, d] += h
            minus[0, atom, d] -= h
            fd = -(pot.eval(plus, box, atype)[0][0] - pot.eval(minus, box, atype)[0][0]) / (2 * h)
            assert abs(fd - force[atom, d]) < FINITE_DIFF[torch.float64], \
                f"{label} atom {atom} dim {d}: FD {fd:.9f} vs force {force[atom, d]:.9f}"
            assert np.isfinite(fd)
