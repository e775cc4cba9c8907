"""deepmd/hdf5 systems (``file.h5#/group``) equal their deepmd/npy originals."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from deepft.data import System, expand_systems
from deepft.errors import DataError

PAIRS = [("water/data_0", "water/data_0"), ("water/data_1", "water/data_1"),
         ("organic/C3H3O4", "organic_nopbc/C3H3O4"), ("organic/C4H3O1", "organic_nopbc/C4H3O1")]


@pytest.mark.parametrize("group, rel", PAIRS, ids=[p[0] for p in PAIRS])
def test_h5_equals_npy(h5_file, data_root, group, rel):
    type_map = ["H", "C", "O"]
    a = System(f"{h5_file}#/{group}", type_map)
    b = System(data_root / rel, type_map)
    for attr in ("natoms", "nframes", "pbc", "labels", "sets", "set_nframes", "system_type_map"):
        assert getattr(a, attr) == getattr(b, attr), (group, attr)
    np.testing.assert_array_equal(a.atype, b.atype)
    np.testing.assert_array_equal(a.type_counts, b.type_counts)
    fa, fb = a.get_frames(np.arange(a.nframes)), b.get_frames(np.arange(b.nframes))
    assert fa.keys() == fb.keys()
    for key in fa:
        if isinstance(fa[key], np.ndarray):
            assert fa[key].dtype == np.float64, key
            np.testing.assert_array_equal(fa[key], fb[key], err_msg=f"{group}: {key}")
        else:
            assert fa[key] == fb[key], (group, key)


def test_expand_h5_file_and_group(h5_file):
    every = expand_systems(str(h5_file))
    assert every == [f"{h5_file}#/organic/C3H3O4", f"{h5_file}#/organic/C4H3O1",
                     f"{h5_file}#/water/data_0", f"{h5_file}#/water/data_1"]
    assert expand_systems(f"{h5_file}#/water") == [f"{h5_file}#/water/data_0",
                                                   f"{h5_file}#/water/data_1"]
    assert expand_systems(f"{h5_file}#water/data_1") == [f"{h5_file}#/water/data_1"]


def test_h5_root_system(tmp_path, organic_dir, write_h5):
    path = tmp_path / "one.hdf5"
    with h5py.File(path, "w") as h5:
        write_h5(h5, "/", organic_dir / "C4H3O1")
    assert expand_systems(str(path)) == [f"{path}#/"]
    system = System(str(path), ["C", "H", "O"])  # no '#': the root group
    assert (system.nframes, system.natoms, system.pbc) == (15, 8, False)


def test_h5_group_absent(h5_file):
    with pytest.raises(DataError, match=r"has no group /water/data_9") as err:
        System(f"{h5_file}#/water/data_9", ["O", "H"])
    assert "organic" in err.value.hint and "water" in err.value.hint
    with pytest.raises(DataError, match=r"has no group /nothing"):
        expand_systems(f"{h5_file}#/nothing")


def test_h5_file_absent(tmp_path):
    with pytest.raises(DataError, match=r"HDF5 file .*missing.h5 .*does not exist"):
        System(f"{tmp_path}/missing.h5#/sys", ["O"])
    with pytest.raises(DataError, match=r"missing.h5 does not exist"):
        expand_systems(f"{tmp_path}/missing.h5")


def test_h5_not_hdf5(tmp_path):
    path = tmp_path / "fake.h5"
    path.write_text("not an hdf5 file")
    with pytest.raises(DataError, match=r"fake.h5 is not a readable HDF5 file"):
        System(f"{path}#/sys", ["O"])


def test_h5_missing_set_dataset(tmp_path, water_dir, write_h5):
    path = tmp_path / "broken.h5"
    with h5py.File(path, "w") as h5:
        write_h5(h5, "w", water_dir / "data_0")
        del h5["w/set.000/box.npy"]
    with pytest.raises(DataError, match=r"broken.h5#/w/set.000/box.npy is missing"):
        System(f"{path}#/w", ["O", "H"])


def test_h5_variable_length_strings(tmp_path, organic_dir, write_h5):
    path = tmp_path / "vlen.h5"
    with h5py.File(path, "w") as h5:
        write_h5(h5, "s", organic_dir / "C4H3O1")
        del h5["s/type_map.raw"]
        h5["s"].create_dataset("type_map.raw", data=["C", "H", "O"],
                               dtype=h5py.string_dtype())
    system = System(f"{path}#/s", ["O", "H", "C"])
    assert system.system_type_map == ["C", "H", "O"]
    np.testing.assert_array_equal(system.type_counts, [1, 3, 4])  # O1 H3 C4
