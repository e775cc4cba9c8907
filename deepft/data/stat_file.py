"""Statistics cache in one HDF5 file (``stat_file`` in the input), as DeePMD-kit's.

Layout: one group per key path, e.g. ``/O H/se_e2_a_3f2a9c81d0e4/`` (the type map joined by
spaces, as DeePMD-kit, then a descriptor key), holding named float64 datasets (``davg``, ``dstd``,
``bias_atom_e``, ...) and an optional ``fingerprint`` attribute describing the data the numbers
came from. :meth:`StatFile.load_or_compute` returns the stored arrays when the group exists, holds
every requested name and its fingerprint matches; otherwise it computes and stores them.

Writes are atomic: the file is copied to a temporary file next to it, updated, and renamed over
the original, so an interrupted run never leaves a half-written cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from deepft._atomic import current_umask
from deepft.errors import DataError


def type_map_key(type_map: Sequence[str]) -> str:
    """Group name of a type map: the elements joined by spaces (DeePMD-kit's convention)."""
    return " ".join(type_map)


def config_key(name: str, config: dict) -> str:
    """``<name>_<12 hex>``: a stable key for a config dict (sorted-key JSON, sha256)."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return f"{name}_{hashlib.sha256(blob).hexdigest()[:12]}"


def data_fingerprint(systems: Sequence, **extra) -> str:
    """A string naming the data behind statistics: system paths, frame counts, extra settings."""
    desc = {"systems": [[s.path, s.nframes, s.natoms] for s in systems], **extra}
    return hashlib.sha256(json.dumps(desc, sort_keys=True, default=str).encode()).hexdigest()


def _group_name(key: str | Sequence[str]) -> str:
    parts = [key] if isinstance(key, str) else list(key)
    for p in parts:
        if not p or "/" in p:
            raise ValueError(f"stat_file key part {p!r} must be non-empty and without '/'")
    return "/" + "/".join(parts)


class StatFile:
    """An HDF5 statistics cache at ``path`` (created on first save)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def _open_read(self):
        import h5py

        try:
            return h5py.File(self.path, "r")
        except OSError as exc:
            raise DataError(f"stat_file {self.path} is not a readable HDF5 file ({exc})",
                            hint="delete it (it is only a cache) or point stat_file elsewhere"
                            ) from exc

    def load(self, key, names: Sequence[str] | None = None,
             fingerprint: str | None = None) -> dict[str, np.ndarray] | None:
        """The arrays under ``key`` (all, or ``names``), None if absent/incomplete/mismatched."""
        group = _group_name(key)
        if not self.path.is_file():
            return None
        with self._open_read() as h5:
            if group not in h5:
                return None
            g = h5[group]
            if fingerprint is not None and g.attrs.get("fingerprint") != fingerprint:
                return None
            wanted = list(g.keys()) if names is None else list(names)
            if not wanted or any(n not in g for n in wanted):
                return None
            return {n: np.asarray(g[n][()]) for n in wanted}

    def save(self, key, arrays: dict[str, np.ndarray], fingerprint: str | None = None) -> None:
        """Replace the group ``key`` by ``arrays`` (atomic: temp copy + rename)."""
        import h5py

        group = _group_name(key)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                   dir=self.path.parent)
        os.close(fd)
        try:
            if self.path.is_file():
                self._open_read().close()  # a clear error if the old cache is broken
                shutil.copyfile(self.path, tmp)
                mode = "a"
            else:
                mode = "w"
            with h5py.File(tmp, mode) as h5:
                if group in h5:
                    del h5[group]
                g = h5.require_group(group)
                for name, value in arrays.items():
                    g.create_dataset(name, data=np.asarray(value))
                if fingerprint is not None:
                    g.attrs["fingerprint"] = fingerprint
            os.chmod(tmp, 0o666 & ~current_umask())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load_or_compute(self, key, compute: Callable[[], dict[str, np.ndarray]], *,
                        names: Sequence[str] | None = None,
                        fingerprint: str | None = None) -> tuple[dict[str, np.ndarray], bool]:
        """(arrays, loaded): stored arrays if present and matching, else ``compute()`` saved."""
        found = self.load(key, names, fingerprint)
        if found is not None:
            return found, True
        arrays = {k: np.asarray(v) for k, v in compute().items()}
        self.save(key, arrays, fingerprint)
        return arrays, False
