"""Neighbor statistics of data systems: what ``dp neighbor-stat`` reports, to choose ``sel``.

Over all frames of the given systems, with the compiled cell-list neighbor table
(:func:`deepft.ops.build_nlist`; periodic images included for periodic systems):

- ``min_nbor_dist``: the shortest distance (Å) between two atoms closer than ``rcut`` (an atom
  and its own periodic image included); ``inf`` when no pair is closer than ``rcut``;
- ``max_nbor_size``: for each type t (of the systems' type map), the largest number of type-t
  neighbors within ``rcut`` of one atom (neighbors are the atoms at distance < rcut, the atom
  itself excluded). With ``one_type`` all atoms count as one type: a single number.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

#: frames per call of the neighbor kernel
CHUNK = 16


@dataclass
class NeighborStat:
    """Result of :func:`neighbor_stat`: ``min_nbor_dist`` (Å, ``inf`` without any pair within
    rcut), ``max_nbor_size`` (int per type, or one int with ``one_type``), ``nframes`` seen."""

    min_nbor_dist: float
    max_nbor_size: list[int]
    nframes: int


class _QuietOverflow(logging.Filter):
    """Drops the kernel's sel-overflow warning: the 1-slot tables below overflow on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("sel overflow")


@contextmanager
def _quiet_overflow():
    logger = logging.getLogger("deepft.ops.neighbor")
    quiet = _QuietOverflow()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def frame_stat(coord: np.ndarray, box: np.ndarray | None, atype: np.ndarray, rcut: float,
               ntypes: int) -> tuple[float, np.ndarray]:
    """Neighbor statistics of ``nframes`` frames of the same atoms.

    coord ``nframes x natoms x 3`` (Å); box ``nframes x 9`` (rows = lattice vectors, Å) or None
    without PBC; atype ``natoms`` ints in ``[0, ntypes)``. Returns (shortest distance within
    rcut in Å or ``inf``, ``ntypes`` int64 max neighbor counts).

    The neighbor table keeps one slot per type: sorted by distance, that slot holds the nearest
    neighbor of the type, and the kernel counts every neighbor (``max_neighbors``) regardless.
    """
    from deepft.ops import build_nlist

    with _quiet_overflow():
        nl = build_nlist(coord, box, atype, float(rcut), [1] * ntypes)
    nlist = np.asarray(nl.nlist)  # nframes x natoms x ntypes
    valid = nlist >= 0
    if not valid.any():
        return float("inf"), np.asarray(nl.max_neighbors, dtype=np.int64)
    frame, atom, _ = np.nonzero(valid)
    neighbor = coord[frame, nlist[valid]]
    if box is not None:
        cells = np.asarray(box, dtype=np.float64).reshape(-1, 3, 3)[frame]
        shift = np.asarray(nl.image)[valid].astype(np.float64)
        neighbor = neighbor + np.einsum("pi,pij->pj", shift, cells)
    dist = np.linalg.norm(neighbor - coord[frame, atom], axis=-1)
    return float(dist.min()), np.asarray(nl.max_neighbors, dtype=np.int64)


def neighbor_stat(systems: list, rcut: float, *, one_type: bool = False,
                  on_frames: Callable[[int], None] | None = None) -> NeighborStat:
    """Neighbor statistics over every frame of ``systems`` (:class:`deepft.data.System`
    objects loaded with the same type map).

    ``rcut`` (Å, > 0) is the cutoff; ``one_type`` counts all neighbors as one type;
    ``on_frames(n)`` is called after each chunk of ``n`` frames (progress display).
    """
    if not rcut > 0:
        raise ValueError(f"rcut must be > 0, got {rcut}")
    ntypes = 1 if one_type else len(systems[0].type_map) if systems else 1
    best = float("inf")
    most = np.zeros(ntypes, dtype=np.int64)
    nframes = 0
    for system in systems:
        atype = np.zeros(system.natoms, dtype=np.int64) if one_type else system.atype
        for start in range(0, system.nframes, CHUNK):
            idx = np.arange(start, min(start + CHUNK, system.nframes))
            frames = system.get_frames(idx)
            dist, counts = frame_stat(frames["coord"], frames["box"], atype, rcut, ntypes)
            best = min(best, dist)
            most = np.maximum(most, counts)
            nframes += idx.size
            if on_frames is not None:
                on_frames(idx.size)
    return NeighborStat(min_nbor_dist=best, max_nbor_size=[int(c) for c in most],
                        nframes=nframes)
