"""Raw access to one system's files: a deepmd/npy folder or a group of a deepmd/hdf5 file.

Both layouts hold the same names (DeePMD-kit / dpdata convention):

    type.raw          (natoms) int      | atom types, indices into type_map.raw (or the model's)
    type_map.raw      (ntypes) str      | optional element names
    nopbc             (empty file / any dataset) | present: the system is not periodic
    set.NNN/coord.npy (nframes x natoms*3) | Å
    set.NNN/box.npy   (nframes x 9)     | Å, rows = lattice vectors; required unless nopbc
    set.NNN/<label>.npy                 | energy, force, virial, atom_ener, atom_pref,
                                          fparam, aparam

In an HDF5 file a system is a group addressed as ``file.h5#/path/in/file``; the ``.raw`` and
``.npy`` names become datasets and ``set.NNN`` sub-groups. Everything read here is returned as
numpy arrays; the shape and value checks live in :mod:`deepft.data.system`.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from deepft.errors import DataError

H5_SUFFIXES = (".h5", ".hdf5")


def split_h5_path(path: str) -> tuple[str, str] | None:
    """``"file.h5#/grp"`` -> ("file.h5", "/grp"); an HDF5 file without ``#`` -> (file, "/").

    Returns None when ``path`` names neither (a plain folder or a missing non-HDF5 path).
    """
    if "#" in path:
        file, group = path.split("#", 1)
        return file, "/" + group.strip("/")
    if path.lower().endswith(H5_SUFFIXES) or (os.path.isfile(path) and _is_hdf5(path)):
        return path, "/"
    return None


def _is_hdf5(path: str) -> bool:
    import h5py

    try:
        return bool(h5py.is_hdf5(path))
    except OSError:
        return False


def open_source(path: str):
    """The reader for ``path``: :class:`NpySource` for a folder, :class:`H5Source` for a group."""
    h5 = split_h5_path(str(path))
    if h5 is not None:
        return H5Source(str(path), *h5)
    return NpySource(str(path))


class NpySource:
    """A deepmd/npy system folder."""

    def __init__(self, path: str):
        self.path = path
        self.root = Path(path)
        if not self.root.exists():
            raise DataError(f"data system {path} does not exist",
                            hint="check the path in `systems` (relative paths are taken from "
                                 "the current directory)")
        if not self.root.is_dir():
            raise DataError(f"data system {path} is not a folder",
                            hint="a deepmd/npy system is a folder with type.raw and set.*/; "
                                 "HDF5 files must end in .h5 or .hdf5")

    def describe(self, *names: str) -> str:
        """File name used in messages, e.g. ``data/sys/set.000/coord.npy``."""
        return str(self.root.joinpath(*names))

    def has(self, name: str) -> bool:
        return (self.root / name).exists()

    def read_raw(self, name: str) -> list[str] | None:
        """Whitespace-separated tokens of a ``.raw`` text file, None if absent."""
        file = self.root / name
        if not file.is_file():
            return None
        try:
            return file.read_text().split()
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read {file}: {exc}",
                            hint="it must be a text file of whitespace-separated values") from exc

    def sets(self) -> list[str]:
        return sorted(p.name for p in self.root.glob("set.*") if p.is_dir())

    def read_npy(self, set_name: str, name: str) -> np.ndarray | None:
        """The array in ``set_name/name``, None if the file is absent."""
        file = self.root / set_name / name
        if not file.exists():
            return None
        try:
            arr = np.load(file, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise DataError(f"{file} is truncated or not a valid .npy file ({exc})",
                            hint="write it again with numpy.save (or dpdata)") from exc
        if not isinstance(arr, np.ndarray):
            raise DataError(f"{file} is an .npz archive, not an .npy array",
                            hint="save each array with numpy.save as <name>.npy")
        return arr


class H5Source:
    """One group of a deepmd/hdf5 file (read once into memory, the file is closed after)."""

    def __init__(self, path: str, file: str, group: str):
        import h5py

        self.path, self.file, self.group = path, file, group
        if not os.path.isfile(file):
            raise DataError(f"HDF5 file {file} of data system {path} does not exist",
                            hint="check the path in `systems`")
        try:
            self._h5 = h5py.File(file, "r")
        except OSError as exc:
            raise DataError(f"{file} is not a readable HDF5 file ({exc})",
                            hint="regenerate it, e.g. with dpdata's deepmd/hdf5 format") from exc
        if group not in self._h5:
            tops = sorted(self._h5.keys())[:8]
            self.close()
            raise DataError(f"HDF5 file {file} has no group {group} (data system {path})",
                            hint=f"top-level groups in the file: {tops}")
        self._g = self._h5[group]
        if not isinstance(self._g, h5py.Group):
            self.close()
            raise DataError(f"{file}#{group} is a dataset, not a system group",
                            hint="address the group holding type.raw and set.*")

    def close(self) -> None:
        self._h5.close()

    def describe(self, *names: str) -> str:
        inner = "/".join((self.group.rstrip("/"),) + names)
        return f"{self.file}#{inner}"

    def has(self, name: str) -> bool:
        return name in self._g

    def read_raw(self, name: str) -> list[str] | None:
        if name not in self._g:
            return None
        data = self._dataset(self._g[name], self.describe(name))[()]
        values = np.atleast_1d(data).ravel().tolist()
        out = []
        for v in values:
            text = v.decode() if isinstance(v, bytes) else str(v)
            out.extend(text.split())
        return out

    def sets(self) -> list[str]:
        import h5py

        return sorted(k for k in self._g.keys()
                      if k.startswith("set.") and isinstance(self._g[k], h5py.Group))

    def read_npy(self, set_name: str, name: str) -> np.ndarray | None:
        grp = self._g[set_name]
        if name not in grp:
            return None
        try:
            return np.asarray(self._dataset(grp[name], self.describe(set_name, name))[()])
        except OSError as exc:
            raise DataError(f"{self.describe(set_name, name)} cannot be read ({exc})",
                            hint="the HDF5 file may be truncated; regenerate it") from exc

    @staticmethod
    def _dataset(obj, where: str):
        import h5py

        if not isinstance(obj, h5py.Dataset):
            raise DataError(f"{where} is a group, expected a dataset",
                            hint="store arrays as datasets named like the deepmd/npy files")
        return obj
