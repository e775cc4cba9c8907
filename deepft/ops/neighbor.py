"""Neighbor lists from the compiled cell-list kernels (source/lib/neighbor_list.h).

Two products:

- :func:`build_nlist`: DeePMD-style formatted table for the descriptor. Slot block ``t`` of each
  row holds the ``sel[t]`` nearest type-``t`` neighbors sorted by (distance, index), ``-1``
  padded, with integer image shifts; overflow beyond ``sel`` is reported in
  ``max_neighbors`` and logged once, never silently hidden.
- :func:`neighbor_list`: the full pair list ``(i, j, S)`` of ``ase.neighborlist.neighbor_list``
  (both directions; neighbor position ``positions[j] + S @ cell``).

Lengths in Å. numpy in -> numpy out; :func:`build_nlist` also accepts torch tensors (CPU or
CUDA) and then returns torch tensors on the same device. On CUDA nothing is copied to the host
(``max_neighbors`` stays on the device too), so a training step that builds its list there does
not wait for the GPU unless it asks for the overflow check.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_warned_overflow: set[tuple] = set()


@dataclass
class NeighborList:
    """Formatted neighbor table of ``nframes`` frames (numpy arrays, or torch tensors when the
    coordinates were torch tensors).

    Attributes:
        nlist: ``nframes x nloc x nnei`` int64 (nnei = sum(sel)); neighbor atom index or -1.
        image: ``nframes x nloc x nnei x 3`` int32 lattice shift of the neighbor copy:
            neighbor position = ``coord[f, j] + image @ box[f].reshape(3, 3)``; 0 in padding.
        max_neighbors: ``ntypes`` int64, the largest number of type-t neighbors within rcut any
            atom had; ``max_neighbors[t] > sel[t]`` means the table dropped neighbors.
        type_counts: ``nframes x nloc x ntypes`` int64, neighbors of each type per atom.
        sel: the sel the table was built with.
        rcut: cutoff radius (Å).
        center_counts: number of centers of each atom type over all frames when the caller
            knew it on the host (deepft.model.EnergyModel.build_nlist sets it), else None; lets
            the descriptor group rows by center type without reading types back from a GPU.
    """

    nlist: Any
    image: Any
    max_neighbors: Any
    type_counts: Any
    sel: tuple[int, ...]
    rcut: float
    center_counts: tuple[int, ...] | None = None

    @property
    def overflow(self) -> bool:
        """True when some atom had more type-t neighbors than ``sel[t]``."""
        return any(int(m) > s for m, s in zip(self.max_neighbors, self.sel, strict=True))


def _core():
    from deepft import _core

    return _core


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def build_nlist(coord, box, atype, rcut: float, sel, check_overflow: bool = True
                ) -> NeighborList:
    """Formatted neighbor table.

    Args:
        coord: ``nframes x nloc x 3`` (Å), float64 or float32 (numpy, or torch CPU/CUDA).
        box: ``nframes x 9`` lattice vectors as rows (fully periodic), or None (no PBC).
        atype: ``nloc`` int types in ``[0, len(sel))`` (a negative type marks a virtual atom
            that has and is no neighbor); ``nframes x nloc`` is accepted too.
        rcut: cutoff radius (Å); neighbors have ``|r_ij| < rcut``.
        sel: maximum number of neighbors kept per neighbor type.
        check_overflow: log (once per sel) when an atom had more neighbors than sel. For CUDA
            tensors this reads ``max_neighbors`` back (a device sync): a training loop passes
            False and checks the running maximum when it reports (deepft.train.trainer).
    """
    sel = tuple(int(s) for s in sel)
    if _is_torch(coord) and coord.is_cuda:
        from deepft.ops._cuda import build_nlist_cuda

        nlist, image, max_nei, counts = build_nlist_cuda(coord, box, atype, float(rcut), sel)
        result = NeighborList(nlist=nlist, image=image, max_neighbors=max_nei,
                              type_counts=counts, sel=sel, rcut=float(rcut))
    elif _is_torch(coord):
        import torch

        box_np = None if box is None else box.detach().cpu().numpy()
        at = atype.detach().cpu().numpy() if _is_torch(atype) else atype
        res = _build_numpy(coord.detach().cpu().numpy(), box_np, at, float(rcut), sel)
        result = NeighborList(
            nlist=torch.from_numpy(res.nlist), image=torch.from_numpy(res.image),
            max_neighbors=torch.from_numpy(res.max_neighbors),
            type_counts=torch.from_numpy(res.type_counts), sel=sel, rcut=float(rcut),
        )
    else:
        result = _build_numpy(coord, box, atype, float(rcut), sel)
    if check_overflow and result.overflow:
        _warn_overflow(result)
    return result


def _build_numpy(coord, box, atype, rcut: float, sel: tuple[int, ...]) -> NeighborList:
    coord = np.asarray(coord)
    dtype = np.float32 if coord.dtype == np.float32 else np.float64
    coord = np.ascontiguousarray(coord, dtype=dtype)
    if coord.ndim != 3 or coord.shape[-1] != 3:
        raise ValueError(f"coord must be nframes x nloc x 3, got shape {coord.shape}")
    nframes, nloc = coord.shape[:2]
    if box is not None:
        box = np.ascontiguousarray(np.asarray(box, dtype=dtype).reshape(nframes, 9))
    atype = np.asarray(atype)
    sel_arr = np.asarray(sel, dtype=np.int64)
    if atype.ndim == 2 and not (atype == atype[:1]).all():
        # per-frame types: one call per frame
        parts = [_build_numpy(coord[f : f + 1], None if box is None else box[f : f + 1],
                              atype[f], rcut, sel) for f in range(nframes)]
        return NeighborList(
            nlist=np.concatenate([p.nlist for p in parts]),
            image=np.concatenate([p.image for p in parts]),
            max_neighbors=np.max([p.max_neighbors for p in parts], axis=0),
            type_counts=np.concatenate([p.type_counts for p in parts]),
            sel=sel, rcut=rcut,
        )
    atype = np.ascontiguousarray(atype.reshape(-1, nloc)[0] if atype.ndim == 2 else atype,
                                 dtype=np.int32)
    nlist, image, max_nei, counts, _ = _core().build_nlist(coord, box, atype, rcut, sel_arr)
    return NeighborList(nlist=nlist, image=image, max_neighbors=max_nei, type_counts=counts,
                        sel=sel, rcut=rcut)


def _warn_overflow(result: NeighborList) -> None:
    """Logs once per (sel, rcut) which atom overflowed and the sel that would fit."""
    key = (result.sel, result.rcut)
    if key in _warned_overflow:
        return
    _warned_overflow.add(key)
    max_nei = np.asarray(_to_numpy(result.max_neighbors))
    needed = _sel_that_fits(max_nei, result.sel)
    counts = np.asarray(_to_numpy(result.type_counts))  # nframes x nloc x ntypes
    t = int(np.argmax(max_nei - np.asarray(result.sel)))
    frame, atom = np.unravel_index(int(np.argmax(counts[..., t])), counts.shape[:2])
    log.warning(
        "sel overflow: atom %d (frame %d) has %d neighbors of type %d within rcut %g Å but "
        "sel[%d] = %d, so the farthest are dropped; a sel of at least %s would keep all "
        "neighbors of these frames (logged once per sel)", atom, frame,
        int(counts[frame, atom, t]), t, result.rcut, t, result.sel[t], needed,
    )


def warn_overflow_max(max_neighbors, sel: tuple[int, ...], rcut: float, where: str = "") -> None:
    """Logs (once per sel and rcut) when the running maximum of neighbor counts over several
    batches (``ntypes``, a tensor on any device or an array) exceeds sel."""
    most = np.asarray(_to_numpy(max_neighbors)).reshape(-1)
    key = (tuple(sel), float(rcut))
    if key in _warned_overflow or not any(int(m) > s for m, s in zip(most, sel, strict=True)):
        return
    _warned_overflow.add(key)
    needed = _sel_that_fits(most, sel)
    log.warning("sel overflow%s: up to %s neighbors per type within rcut %g Å but sel = %s, so "
                "the farthest were dropped; a sel of at least %s keeps all neighbors of the "
                "frames seen (logged once per sel)", f" in {where}" if where else "",
                most.tolist(), rcut, list(sel), needed)


def _sel_that_fits(max_neighbors, sel) -> list[int]:
    """The smallest sel, per neighbor type, that is >= sel and holds ``max_neighbors``."""
    return [max(int(m), s) for m, s in zip(max_neighbors, sel, strict=True)]


def _to_numpy(x):
    if _is_torch(x):
        return x.detach().cpu().numpy()
    return x


def neighbor_list(positions, cell=None, pbc=None, cutoff=None, self_interaction: bool = False,
                  quantities: str = "ijS"):
    """Full neighbor list like ``ase.neighborlist.neighbor_list(quantities, atoms, cutoff)``.

    Args:
        positions: ``natoms x 3`` (Å), or an ``ase.Atoms`` (then its cell and pbc are used and
            the cutoff may be given as the second positional argument).
        cell: ``3 x 3`` lattice vectors as rows (or 9 values); None without periodicity.
        pbc: bool or 3 bools; default: periodic along all directions when a cell is given.
        cutoff: cutoff radius (Å); pairs have ``|positions[j] + S @ cell - positions[i]| <
            cutoff``.
        self_interaction: also return each atom as its own neighbor (i, i, S=0).
        quantities: any of ``i`` (int64), ``j`` (int64), ``S`` (``npairs x 3`` int64), ``d``
            (distance), ``D`` (``npairs x 3`` vector); returned in that order.

    Returns:
        One array per character of ``quantities`` (a tuple when more than one), pairs sorted
        by ``i``; every pair appears in both directions.
    """
    if hasattr(positions, "get_positions") and hasattr(positions, "pbc"):
        atoms = positions
        if cutoff is None and cell is not None and np.ndim(cell) == 0:
            cutoff, cell = cell, None
        positions = atoms.get_positions()
        cell = np.asarray(atoms.cell.array if cell is None else cell)
        pbc = atoms.pbc if pbc is None else pbc
    if cutoff is None:
        raise ValueError("neighbor_list needs a cutoff (Å)")
    positions = np.asarray(positions)
    dtype = np.float32 if positions.dtype == np.float32 else np.float64
    positions = np.ascontiguousarray(positions, dtype=dtype).reshape(-1, 3)
    if pbc is None:
        pbc = cell is not None
    periodic = tuple(bool(p) for p in np.broadcast_to(np.asarray(pbc, dtype=bool), (3,)))
    box = None
    if cell is not None:
        box = np.ascontiguousarray(np.asarray(cell, dtype=dtype).reshape(3, 3))
    elif any(periodic):
        raise ValueError("a periodic neighbor list needs a cell")
    unknown = set(quantities) - set("ijSdD")
    if unknown:
        raise ValueError(f"unknown quantities {sorted(unknown)}; use any of i, j, S, d, D")
    i, j, shift, d, vec = _core().neighbor_pairs(
        positions, box, periodic, float(cutoff), self_interaction=bool(self_interaction),
        distances="d" in quantities, vectors="D" in quantities,
    )
    # int64 everywhere, as ASE returns them (the kernel's shifts are int32)
    table = {"i": i, "j": j, "S": np.asarray(shift, dtype=np.int64), "d": d, "D": vec}
    out = tuple(table[q] for q in quantities)
    return out[0] if len(out) == 1 else out
