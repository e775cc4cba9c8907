"""Fixtures of the data tests: writable copies of shared systems and a deepmd/hdf5 file."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from support.systems import copy_system


def write_h5_system(h5: h5py.File, group: str, folder: Path) -> None:
    """Write the npy system ``folder`` as ``group`` in the deepmd/hdf5 layout (dpdata's dump)."""
    g = h5.create_group(group) if group != "/" else h5
    g.create_dataset("type.raw", data=np.loadtxt(folder / "type.raw", dtype=np.int64, ndmin=1))
    if (folder / "type_map.raw").is_file():
        names = (folder / "type_map.raw").read_text().split()
        g.create_dataset("type_map.raw", data=np.array(names, dtype="S"))
    if (folder / "nopbc").exists():
        g.create_dataset("nopbc", data=True)
    for set_dir in sorted(folder.glob("set.*")):
        s = g.create_group(set_dir.name)
        for npy in sorted(set_dir.glob("*.npy")):
            s.create_dataset(npy.name, data=np.load(npy))


@pytest.fixture(scope="session")
def write_h5():
    """The :func:`write_h5_system` helper (test modules are not a package)."""
    return write_h5_system


@pytest.fixture
def copy_of(tmp_path):
    """``copy_of(src, name=None)`` -> writable copy of a system folder under tmp_path."""

    def make(src: Path, name: str | None = None) -> Path:
        return copy_system(Path(src), tmp_path / (name or Path(src).name))

    return make


@pytest.fixture(scope="session")
def h5_file(tmp_path_factory, water_dir, organic_dir) -> Path:
    """water/data_0, water/data_1 (two sets) and organic C3H3O4, C4H3O1 in one HDF5 file."""
    path = tmp_path_factory.mktemp("h5") / "systems.h5"
    with h5py.File(path, "w") as h5:
        write_h5_system(h5, "water/data_0", water_dir / "data_0")
        write_h5_system(h5, "water/data_1", water_dir / "data_1")
        write_h5_system(h5, "organic/C3H3O4", organic_dir / "C3H3O4")
        write_h5_system(h5, "organic/C4H3O1", organic_dir / "C4H3O1")
    return path
