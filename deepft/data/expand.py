"""Expand the ``systems`` entry of a data section into a list of system paths.

As DeePMD-kit's ``process_systems``: every entry is searched recursively and each folder (or
HDF5 group) holding ``type.raw`` is one system, the entry itself included. Deepft sorts the
systems found under each entry (DeePMD-kit keeps filesystem order) so runs are reproducible;
the order of the entries themselves is kept, which matters for ``auto_prob`` blocks such as
``"prob_sys_size;0:2:0.5;2:5:0.5"``.

HDF5: ``data.h5`` expands to every group of the file holding ``type.raw`` (``data.h5#/`` when the
root itself is a system); ``data.h5#/water`` restricts the search to that group.
"""

from __future__ import annotations

import os
from pathlib import Path

from deepft.data._source import split_h5_path
from deepft.errors import DataError


def expand_systems(systems: str | os.PathLike | list) -> list[str]:
    """System paths (str) found under each entry of ``systems``, sorted per entry."""
    entries = [systems] if isinstance(systems, (str, os.PathLike)) else list(systems)
    out: list[str] = []
    for entry in entries:
        entry = os.fspath(entry)
        h5 = split_h5_path(entry)
        found = _expand_h5(entry, *h5) if h5 is not None else _expand_dir(entry)
        if not found:
            raise DataError(f"no data system found in {entry} (no folder or group below it "
                            f"holds type.raw)",
                            hint="point `systems` at a system folder (type.raw + set.*/) or a "
                                 "folder containing such systems")
        out.extend(found)
    return out


def _expand_dir(entry: str) -> list[str]:
    root = Path(entry)
    if not root.exists():
        raise DataError(f"data path {entry} does not exist",
                        hint="check `systems` (relative paths are taken from the current "
                             "directory)")
    if not root.is_dir():
        raise DataError(f"data path {entry} is a file, not a system folder or an HDF5 file",
                        hint="give a folder holding type.raw and set.*/, or an .h5/.hdf5 file")
    found, seen = [], set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a symlink loop
            dirnames[:] = []
            continue
        seen.add(real)
        if "type.raw" in filenames:
            found.append(os.path.normpath(dirpath))
        # set.* folders never hold systems: skip them to keep the walk cheap
        dirnames[:] = [d for d in dirnames if not d.startswith("set.")]
    return sorted(found)


def _expand_h5(entry: str, file: str, group: str) -> list[str]:
    import h5py

    if not os.path.isfile(file):
        raise DataError(f"HDF5 file {file} does not exist", hint="check `systems`")
    try:
        h5 = h5py.File(file, "r")
    except OSError as exc:
        raise DataError(f"{file} is not a readable HDF5 file ({exc})",
                        hint="regenerate it, e.g. with dpdata's deepmd/hdf5 format") from exc
    with h5:
        if group not in h5:
            raise DataError(f"HDF5 file {file} has no group {group}",
                            hint=f"top-level groups in the file: {sorted(h5.keys())[:8]}")
        top = h5[group]
        if not isinstance(top, h5py.Group):
            raise DataError(f"{file}#{group} is a dataset, not a group",
                            hint="address the group holding type.raw and set.*")
        names = []
        if "type.raw" in top:
            names.append(group)

        def visit(name, obj):
            if isinstance(obj, h5py.Group) and "type.raw" in obj and "/set." not in f"/{name}":
                names.append(obj.name)

        top.visititems(visit)
    return [f"{file}#{g}" for g in sorted(set(names))]
