"""Neighbor displacement vectors ``r_ij`` from coordinates, as a twice-differentiable op.

``rij[f, i, k] = coord[f, nlist[f, i, k]] + image[f, i, k] @ box[f] - coord[f, i]`` (Å), 0 in
padded slots. The forward pass is a gather; the backward pass is the force reduction of
source/lib/prod.h (``dL/dcoord = -prod_force(dL/drij)``) plus ``dL/dbox = sum image (x) g``,
which avoids torch's slow scatter-add for the gather's gradient. The backward pass is itself
differentiable (it is linear in the incoming gradient; its derivative is the gather again), so
force losses train through it.
"""

from __future__ import annotations

import torch


def _gather(coord, box, nlist, image):
    """``nframes x nloc x nnei x 3`` displacements (no autograd bookkeeping)."""
    nf, nloc, _ = coord.shape
    idx = nlist.clamp(min=0)  # nframes x nloc x nnei
    rij = torch.gather(coord, 1, idx.reshape(nf, -1, 1).expand(-1, -1, 3))
    rij = rij.reshape(*nlist.shape, 3) - coord[:, :, None, :]
    if box is not None:
        rij = rij + torch.einsum("fiks,fsa->fika", image.to(coord.dtype), box.reshape(nf, 3, 3))
    return torch.where((nlist >= 0)[..., None], rij, torch.zeros_like(rij))


def _scatter(g, nlist, image, with_box: bool):
    """Adjoint of _gather: (dL/dcoord ``nframes x nloc x 3``, dL/dbox ``nframes x 9`` | None)."""
    from deepft.ops.prod import prod_force

    g = g.contiguous()
    grad_coord = -prod_force(g, nlist, nlist.shape[1]).to(g.device)
    grad_box = None
    if with_box:
        valid = (nlist >= 0)[..., None].to(g.dtype)
        grad_box = torch.einsum("fiks,fika->fsa", image.to(g.dtype) * valid, g).reshape(-1, 9)
    return grad_coord, grad_box


class _PairDisplacements(torch.autograd.Function):
    @staticmethod
    def forward(ctx, coord, box, nlist, image):
        ctx.save_for_backward(nlist, image)
        ctx.has_box = box is not None
        return _gather(coord, box, nlist, image)

    @staticmethod
    def backward(ctx, g):
        nlist, image = ctx.saved_tensors
        gc, gb = _PairDisplacementsBackward.apply(g, nlist, image, ctx.has_box)
        return gc, (gb if ctx.has_box else None), None, None


class _PairDisplacementsBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, g, nlist, image, has_box):
        ctx.save_for_backward(nlist, image)
        ctx.has_box = has_box
        gc, gb = _scatter(g, nlist, image, has_box)
        return gc, (gb if has_box else torch.zeros(0, dtype=g.dtype, device=g.device))

    @staticmethod
    def backward(ctx, gg_coord, gg_box):
        nlist, image = ctx.saved_tensors
        box = gg_box.reshape(-1, 9) if ctx.has_box and gg_box is not None else None
        if gg_coord is None:
            gg_coord = torch.zeros(*nlist.shape[:2], 3, dtype=gg_box.dtype, device=gg_box.device)
        return _PairDisplacements.apply(gg_coord, box, nlist, image), None, None, None


def pair_displacements(coord: torch.Tensor, box: torch.Tensor | None, nlist, image):
    """Displacements and mask of a formatted neighbor table.

    Args:
        coord: ``nframes x nloc x 3`` (Å); gradients flow to it (forces).
        box: ``nframes x 9`` lattice vectors as rows, or None; gradients flow to it (virial).
        nlist: ``nframes x nloc x nnei`` int64 (-1 padded), e.g. ``NeighborList.nlist``.
        image: ``nframes x nloc x nnei x 3`` integer shifts, e.g. ``NeighborList.image``.

    Returns:
        ``(rij, mask)``: ``nframes x nloc x nnei x 3`` and ``nframes x nloc x nnei`` bool.
    """
    dev = coord.device
    nlist = torch.as_tensor(nlist, device=dev).long()
    image = torch.as_tensor(image, device=dev)
    if box is not None:
        box = box.to(device=dev, dtype=coord.dtype).reshape(-1, 9)
    rij = _PairDisplacements.apply(coord, box, nlist, image)
    return rij, nlist >= 0
