"""Pair geometry shared by the descriptors: center types, neighbor displacements, switch.

All lengths in Å. ``nlist``/``image`` come from :func:`deepft.ops.build_nlist` (``-1`` marks an
empty slot; ``image`` is the integer lattice shift of the neighbor copy).
"""

from __future__ import annotations

import torch


def center_types(atype, nf: int, nloc: int, device) -> torch.Tensor:
    """``nframes x nloc`` int64 center types from ``nloc`` or ``nframes x nloc`` atype."""
    at = torch.as_tensor(atype, device=device).to(torch.int64)
    if at.dim() == 1:
        at = at.reshape(1, nloc).expand(nf, nloc)
    return at.reshape(nf, nloc)


def displacements(coord: torch.Tensor, box: torch.Tensor | None, nlist: torch.Tensor,
                  image: torch.Tensor) -> torch.Tensor:
    """r_ij = coord[j] + image @ box - coord[i], ``nframes x nloc x nkeep x 3``; an empty slot
    holds the displacement to atom 0 of its frame (mask it with ``nlist >= 0``)."""
    nf, nloc = coord.shape[:2]
    nk = nlist.shape[-1]
    frame = torch.arange(nf, device=coord.device).reshape(nf, 1, 1) * nloc
    flat = (torch.clamp(nlist, min=0) + frame).reshape(-1)
    neighbor = coord.reshape(nf * nloc, 3).index_select(0, flat).reshape(nf, nloc, nk, 3)
    rij = neighbor - coord[:, :, None, :]
    if box is not None:
        shift = torch.matmul(image.to(coord.dtype).reshape(nf, nloc * nk, 3),
                             box.reshape(nf, 3, 3).to(coord.dtype))
        rij = rij + shift.reshape(nf, nloc, nk, 3)
    return rij


def switch_weight(rij: torch.Tensor, mask: torch.Tensor, rcut: float,
                  rcut_smth: float) -> torch.Tensor:
    """Smooth switch sw(r) of every slot (``rij.shape[:-1]``): 1 below ``rcut_smth``, the quintic
    ``u³(-6u² + 15u - 10) + 1`` with ``u = (r - rcut_smth)/(rcut - rcut_smth)`` up to ``rcut``,
    0 beyond and in empty slots (``mask`` False). Differentiable in ``rij`` (empty slots get a
    zero gradient: their distance is replaced by rcut before the square root)."""
    r2 = (rij * rij).sum(-1)
    r = torch.sqrt(torch.where(mask, r2, torch.full_like(r2, rcut * rcut)))
    u = ((r - rcut_smth) / (rcut - rcut_smth)).clamp(0.0, 1.0)
    sw = u * u * u * (-6.0 * u * u + 15.0 * u - 10.0) + 1.0
    return torch.where(mask, sw, torch.zeros_like(sw))
