"""Writable and modified copies of deepmd/npy systems (the shared data stays read-only)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np


def copy_system(src: Path, dst: Path) -> Path:
    """A writable copy of the system folder ``src`` at ``dst``."""
    shutil.copytree(src, dst, copy_function=shutil.copyfile)
    for root, dirs, files in os.walk(dst):
        for name in dirs + files:
            os.chmod(os.path.join(root, name), 0o755 if name in dirs else 0o644)
    os.chmod(dst, 0o755)
    return dst


def shifted_copy(src: Path, dst: Path, shift: Mapping[str, float]) -> Path:
    """Copy the system ``src`` to ``dst`` with every energy label shifted by
    ``sum over atoms of shift[element]`` (eV); forces are unchanged."""
    shutil.copytree(src, dst)
    names = (src / "type_map.raw").read_text().split()
    types = np.loadtxt(src / "type.raw", dtype=int, ndmin=1)
    delta = sum(shift[names[t]] for t in types)
    for energy in dst.glob("set.*/energy.npy"):
        np.save(energy, np.load(energy) + delta)
    return dst


def first_frames_copy(src: Path, dst: Path, nframes: int = 4) -> Path:
    """The first ``nframes`` frames of the system ``src`` (coord, box, energy, force as
    float64, in set.000) as a new deepmd/npy system at ``dst``."""
    (dst / "set.000").mkdir(parents=True)
    for name in ("type.raw", "type_map.raw"):
        shutil.copy(src / name, dst / name)
    for name in ("coord", "box", "energy", "force"):
        arr = np.load(src / "set.000" / f"{name}.npy")[:nframes].astype(np.float64)
        np.save(dst / "set.000" / f"{name}.npy", arr)
    return dst
