"""Frames of deepmd/npy systems (the shared data in examples/data), as numpy or torch arrays.

Shapes: ``coord`` nframes x natoms x 3 (Å), ``box`` nframes x 9 (rows = lattice vectors, Å)
or ``None`` for a system with a ``nopbc`` file, ``atype`` natoms (indices into ``type_map``).
Only ``set.000`` is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch


def frame_indices(frames: int | Sequence[int]) -> list[int]:
    """``frames`` as a list of indices: an int n means the first n frames."""
    return list(range(frames)) if isinstance(frames, int) else list(frames)


def atom_types(system: Path, type_map: Sequence[str]) -> np.ndarray:
    """The system's atom types (int64, natoms) re-indexed into ``type_map`` by element name."""
    names = (system / "type_map.raw").read_text().split()
    types = np.loadtxt(system / "type.raw", dtype=np.int64, ndmin=1)
    return np.array([list(type_map).index(names[t]) for t in types], dtype=np.int64)


def load_frames(system: Path, frames: int | Sequence[int], type_map: Sequence[str]):
    """(coord, box | None, atype) of ``frames`` as float64/int64 numpy arrays."""
    idx = frame_indices(frames)
    coord = np.load(system / "set.000" / "coord.npy")[idx].reshape(len(idx), -1, 3)
    box = None
    if not (system / "nopbc").exists():
        box = np.load(system / "set.000" / "box.npy")[idx].reshape(len(idx), 9).astype(np.float64)
    return coord.astype(np.float64), box, atom_types(system, type_map)


def load_frames_torch(system: Path, frames: int | Sequence[int], type_map: Sequence[str]):
    """:func:`load_frames` as torch tensors (float64 coord and box, int64 atype)."""
    coord, box, atype = load_frames(system, frames, type_map)
    return (torch.as_tensor(coord), None if box is None else torch.as_tensor(box),
            torch.as_tensor(atype))


def load_frame(system: Path, frame: int = 0):
    """One frame of a periodic system in its own type order: (coord natoms x 3, box 3 x 3,
    atype natoms), float64/int64 numpy arrays."""
    own_types = (system / "type_map.raw").read_text().split()
    coord, box, atype = load_frames(system, [frame], own_types)
    return coord[0], box[0].reshape(3, 3), atype
