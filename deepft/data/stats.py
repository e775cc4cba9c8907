"""Data statistics: composition matrices, least-squares energy bias, frames for statistics.

The energy bias is DeePMD-kit's ``compute_stats_from_redu``: with ``N`` the (nframes x ntypes)
matrix of atom counts and ``E`` the total energies, ``bias = argmin ||N bias - E||`` by
``numpy.linalg.lstsq`` (minimum-norm solution, so a composition that never varies — one system —
splits the energy over its types in proportion to their counts, exactly as DeePMD-kit does).
Deepft differences, on purpose: types absent from the data get exactly 0 (or their preset
value) instead of whatever the solver leaves there.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from deepft.data.sampler import make_batch, resolve_batch_sizes
from deepft.errors import DataError


class BiasFit(NamedTuple):
    """Result of :func:`fit_energy_bias`."""

    bias: np.ndarray  # ntypes, eV per atom of each type
    rmse_per_atom: float  # eV/atom, sqrt(mean(((N bias - E) / natoms)^2))


def _as_items(items) -> list:
    if isinstance(items, dict) or hasattr(items, "get_frames"):
        return [items]
    return list(items)


def _frame_counts(item, ntypes: int | None) -> np.ndarray:
    """``nframes x ntypes`` counts of one System or one batch dict."""
    if hasattr(item, "get_frames"):  # System
        return np.tile(item.type_counts, (item.nframes, 1))
    nframes = int(np.shape(item["coord"])[0])
    if item.get("type_counts") is not None:
        counts = np.asarray(item["type_counts"], dtype=np.int64)
    else:
        if ntypes is None:
            raise ValueError("count_matrix needs ntypes for batches without type_counts")
        counts = np.bincount(np.asarray(item["atype"]).reshape(-1), minlength=ntypes)
    return np.tile(counts, (nframes, 1))


def count_matrix(items, ntypes: int | None = None) -> np.ndarray:
    """``nframes x ntypes`` int64 atom counts per type of every frame of ``items``.

    ``items``: a System, a batch dict (from :class:`DataSampler` or :func:`sample_stat_frames`),
    or a list of either; frames in the order given.
    """
    rows = [_frame_counts(it, ntypes) for it in _as_items(items)]
    if not rows:
        return np.zeros((0, ntypes or 0), dtype=np.int64)
    return np.concatenate(rows, axis=0).astype(np.int64)


def energy_fit_data(items, ntypes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(counts ``nframes x ntypes``, energy ``nframes``) of the items that carry energy labels."""
    counts, energy = [], []
    for it in _as_items(items):
        frames = it.get_frames(np.arange(it.nframes)) if hasattr(it, "get_frames") else it
        if float(frames.get("find_energy", 0.0)) <= 0:
            continue
        counts.append(_frame_counts(it, ntypes))
        energy.append(np.asarray(frames["energy"], dtype=np.float64).reshape(-1))
    if not counts:
        return np.zeros((0, ntypes or 0), dtype=np.int64), np.zeros(0)
    return np.concatenate(counts), np.concatenate(energy)


def fit_energy_bias(type_counts, energy, *, preset=None, rcond: float | None = None) -> BiasFit:
    """Per-type energy bias (eV) by least squares on composition, and its RMSE per atom.

    type_counts: ``nframes x ntypes`` atoms of each type per frame; energy: ``nframes`` eV.
    preset: optional ``ntypes`` values; entries that are None/NaN are fitted, the others are kept
    fixed (their contribution is subtracted before the fit). Types with no atom in any frame and
    no preset value get 0.
    """
    counts = np.asarray(type_counts, dtype=np.float64)
    energy = np.asarray(energy, dtype=np.float64).reshape(-1)
    if counts.ndim != 2 or counts.shape[0] != energy.size:
        raise ValueError(f"type_counts {counts.shape} and energy {energy.shape} do not match")
    if energy.size == 0:
        raise DataError("no frame with energy labels to fit the energy bias on",
                        hint="the training data needs energy.npy in at least one system")
    ntypes = counts.shape[1]
    fixed = np.zeros(ntypes, dtype=bool)
    bias = np.zeros(ntypes)
    if preset is not None:
        if len(preset) != ntypes:
            raise ValueError(f"preset has {len(preset)} values for {ntypes} types")
        values = np.array([np.nan if v is None else float(v) for v in preset])
        fixed = ~np.isnan(values)
        bias[fixed] = values[fixed]
    rest = energy - counts[:, fixed] @ bias[fixed]
    free = ~fixed & (counts.sum(axis=0) > 0)
    if free.any():
        bias[free] = np.linalg.lstsq(counts[:, free], rest, rcond=rcond)[0]
    natoms = counts.sum(axis=1)
    natoms[natoms == 0] = 1.0
    rmse = float(np.sqrt(np.mean(np.square((counts @ bias - energy) / natoms))))
    return BiasFit(bias, rmse)


def sample_stat_frames(systems: list, nbatch: int, batch_size="auto", *, seed: int = 0,
                       shuffle: bool = True) -> list[dict]:
    """Frames for statistics: one batch-like dict per system, as DeePMD-kit's make_stat_input.

    From each system take its first ``min(nbatch, nbatch_i)`` batches (``nbatch`` =
    ``data_stat_nbatch``), i.e. the first ``min(nbatch * b_i, nframes_i)`` frames of a
    permutation seeded by (``seed``, system index) — or of file order with ``shuffle=False``.
    Each dict is :func:`deepft.data.sampler.make_batch`'s (get_frames + atype, natoms,
    type_counts, system_index, system_path, frame_index).
    """
    if nbatch < 1:
        raise ValueError(f"nbatch must be >= 1, got {nbatch}")
    sizes = resolve_batch_sizes(batch_size, [s.natoms for s in systems])
    seqs = np.random.SeedSequence(int(seed)).spawn(len(systems))
    out = []
    for i, (system, b) in enumerate(zip(systems, sizes, strict=True)):
        if shuffle:
            order = np.random.Generator(np.random.PCG64(seqs[i])).permutation(system.nframes)
        else:
            order = np.arange(system.nframes)
        out.append(make_batch(system, order[: min(nbatch * b, system.nframes)], i))
    return out
