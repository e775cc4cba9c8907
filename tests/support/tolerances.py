"""Named tolerances of the test suite, from bit-identical to coarse.

Absolute tolerances unless stated; energies in eV, forces in eV/Å, virials in eV. Pick the
name that says why two numbers may differ, never a bare literal:

- ``EXACT``: bit-identical (same code path, same inputs).
- ``TIGHT``: float64, same math in a different evaluation order on small tensors.
- ``STRICT``: float64, same math through a different code path (C++ core vs torch, LAMMPS vs
  DeepPot, 2 ranks vs 1 process), differences are summation order over many atoms.
- ``FLOAT32_KERNEL``: a float32 C++ kernel against its float64 reference (rtol and atol).
- ``COARSE``: a float32 training run against the float64 one (weights after 20 steps).
- ``COMPRESSED``: a compressed model (tabulated embedding nets, ``deepft compress`` at the
  default step) against the uncompressed one, float64: energy per atom and forces.

Per-dtype tables (keyed by ``torch.float64`` / ``torch.float32``):

- ``SAME[dtype]``: same numbers up to summation order, in that dtype.
- ``FINITE_DIFF[dtype]``: central finite differences with step ``FD_STEP[dtype]`` (Å) against
  autograd.
- ``SMOOTH[dtype]``: the jump of an energy across ``rcut`` / ``rcut_smth``.
"""

from __future__ import annotations

import torch

EXACT = 0.0
TIGHT = 1e-12
STRICT = 1e-10
FLOAT32_KERNEL = 2e-5
COARSE = 1e-3
COMPRESSED = 1e-6

SAME = {torch.float64: 1e-10, torch.float32: 1e-4}
FINITE_DIFF = {torch.float64: 1e-6, torch.float32: 1e-2}
SMOOTH = {torch.float64: 1e-9, torch.float32: 1e-4}
FD_STEP = {torch.float64: 1e-4, torch.float32: 1e-2}
