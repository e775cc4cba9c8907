"""Pure-torch specification of the se_e2_a environment matrix and an O(N^2) neighbor search.

These are the test oracles the compiled kernels (``deepft._core``) are checked against; no
training or inference path calls them. Formulas follow DeePMD-kit's se_e2_a (see
docs/deepmd-compatibility.md): with ``u = (r - rcut_smth) / (rcut - rcut_smth)``,
``sw = 1`` for ``r < rcut_smth``, ``u^3 (-6 u^2 + 15 u - 10) + 1`` up to ``rcut``, ``0`` beyond;
``s = sw / r``; row of a neighbor: ``(s, s x/r, s y/r, s z/r)`` with ``(x, y, z) = r_j - r_i``;
normalized per center type: ``(row - davg[t_i]) / dstd[t_i]``; padded slots are exactly 0.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch


def switch_s(r: torch.Tensor, rcut: float, rcut_smth: float) -> torch.Tensor:
    """Smoothed inverse distance ``s(r) = sw(r) / r`` (1/Å); 0 at and beyond ``rcut``."""
    u = (r - rcut_smth) / (rcut - rcut_smth)
    sw = torch.where(
        r < rcut_smth,
        torch.ones_like(r),
        torch.where(r < rcut, u**3 * (-6 * u**2 + 15 * u - 10) + 1, torch.zeros_like(r)),
    )
    return sw / r


def env_mat_se_a(
    rij: torch.Tensor,
    mask: torch.Tensor,
    center_type: torch.Tensor,
    davg: torch.Tensor,
    dstd: torch.Tensor,
    rcut: float,
    rcut_smth: float,
) -> torch.Tensor:
    """Normalized se_e2_a environment matrix.

    Args:
        rij: ``nframes x nloc x nnei x 3`` neighbor minus center position (Å); padded slots
            may hold anything.
        mask: ``nframes x nloc x nnei`` bool, True for real neighbors.
        center_type: ``nframes x nloc`` int, type index of each center atom.
        davg, dstd: ``ntypes x 4`` per-center-type mean and standard deviation.

    Returns:
        ``nframes x nloc x nnei x 4``; 0 in padded slots (before and after normalization,
        matching DeePMD-kit which normalizes and then zeroes padded rows).
    """
    safe = torch.where(mask[..., None], rij, torch.ones_like(rij))
    r = torch.linalg.norm(safe, dim=-1)  # nframes x nloc x nnei
    s = switch_s(r, rcut, rcut_smth)
    em = torch.cat([s[..., None], (s / r)[..., None] * safe], dim=-1)  # ... x 4
    em = (em - davg[center_type][:, :, None, :]) / dstd[center_type][:, :, None, :]
    return torch.where(mask[..., None], em, torch.zeros_like(em))


def brute_force_pairs(
    positions: np.ndarray, cell: np.ndarray | None, pbc: bool, cutoff: float
) -> set[tuple[int, int, int, int, int]]:
    """All pairs ``(i, j, sx, sy, sz)`` with ``|x_j + S @ cell - x_i| < cutoff``, i != j or S != 0.

    ``positions``: ``natoms x 3`` (Å); ``cell``: ``3 x 3`` rows are lattice vectors. Image
    shifts are searched far enough along each lattice direction to cover ``cutoff`` in any
    (triclinic) box, so boxes smaller than the cutoff are handled.
    """
    pos = np.asarray(positions, dtype=np.float64)
    if not pbc:
        ranges = [range(1)] * 3
        cell = np.zeros((3, 3))
    else:
        cell = np.asarray(cell, dtype=np.float64).reshape(3, 3)
        volume = abs(np.linalg.det(cell))
        # distance between opposite faces along each lattice direction
        heights = [volume / np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3]))
                   for k in range(3)]
        reach = [int(np.ceil(cutoff / h)) + 1 for h in heights]
        ranges = [range(-n, n + 1) for n in reach]
    pairs = set()
    for shift in itertools.product(*ranges):
        d = pos[None, :, :] + np.asarray(shift, dtype=np.float64) @ cell - pos[:, None, :]
        dist = np.linalg.norm(d, axis=-1)
        ii, jj = np.nonzero(dist < cutoff)
        for i, j in zip(ii.tolist(), jj.tolist(), strict=True):
            if i == j and shift == (0, 0, 0):
                continue
            pairs.add((i, j, *shift))
    return pairs
