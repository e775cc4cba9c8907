"""Broken data gives one-line DataErrors naming the file and the fix."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from deepft.data import System
from deepft.errors import DataError


def _np_edit(rel, fn):
    def edit(folder):
        path = folder / rel
        np.save(path, fn(np.load(path)))
    return edit


def _write(rel, text):
    def edit(folder):
        (folder / rel).write_text(text)
    return edit


def _remove(rel):
    def edit(folder):
        path = folder / rel
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return edit


def _truncate(folder):
    path = folder / "set.000" / "force.npy"
    path.write_bytes(path.read_bytes()[:300])


def _garbage(folder):
    (folder / "set.000" / "energy.npy").write_bytes(b"\x00garbage, not numpy")


def _nan_at(rel, index, value=np.nan):
    def fn(a):
        a = a.astype(np.float64)
        a[index] = value
        return a
    return _np_edit(rel, fn)


def _second_set(folder):
    shutil.copytree(folder / "set.000", folder / "set.001")
    (folder / "set.001" / "energy.npy").unlink()


# (case, system, edit, message regex, hint fragment); C4H3O1: 15 frames x 8 atoms, no PBC
CASES = [
    ("no set folder", "organic", _remove("set.000"), r"C4H3O1 has no set\.\* folder",
     "set.000/coord.npy"),
    ("no type.raw", "organic", _remove("type.raw"), r"C4H3O1 has no type\.raw",
     "one integer type per atom"),
    ("no coord", "organic", _remove("set.000/coord.npy"), r"set\.000/coord\.npy is missing",
     "needs coord.npy"),
    ("force wrong shape", "organic", _np_edit("set.000/force.npy", lambda a: a[:, :20]),
     r"set\.000/force\.npy has shape \(15, 20\), expected \(15, 24\) for 8 atoms",
     "natoms*3 numbers per frame"),
    ("virial wrong shape", "organic", _np_edit("set.000/energy.npy",
                                               lambda a: np.zeros((15, 3))),
     r"set\.000/energy\.npy has shape \(15, 3\), expected \(15, 1\)", "one total energy"),
    ("energy frame count", "organic", _np_edit("set.000/energy.npy", lambda a: a[:14]),
     r"set\.000/energy\.npy has 14 frames but coord\.npy has 15", "one row per frame"),
    ("force frame count", "organic", _np_edit("set.000/force.npy", lambda a: a[:10]),
     r"set\.000/force\.npy has 10 frames but coord\.npy has 15", "one row per frame"),
    ("nan coord", "organic", _nan_at("set.000/coord.npy", (3, 5)),
     r"set\.000/coord\.npy contains NaN or Inf \(first in frame 3, 1 values", "remove"),
    ("inf force", "organic", _nan_at("set.000/force.npy", (7, 0), np.inf),
     r"set\.000/force\.npy contains NaN or Inf \(first in frame 7", "remove"),
    ("nan energy", "organic", _nan_at("set.000/energy.npy", 11),
     r"set\.000/energy\.npy contains NaN or Inf \(first in frame 11", "remove"),
    ("nan box", "water", _nan_at("set.000/box.npy", (2, 4)),
     r"set\.000/box\.npy contains NaN or Inf \(first in frame 2", "remove"),
    ("zero box", "water", _np_edit("set.000/box.npy", lambda a: np.zeros_like(a)),
     r"set\.000/box\.npy has a zero-volume cell in frame 0", "nopbc"),
    ("missing box", "water", _remove("set.000/box.npy"),
     r"set\.000/box\.npy is missing for periodic system", "nopbc"),
    ("truncated npy", "organic", _truncate,
     r"set\.000/force\.npy is truncated or not a valid \.npy file", "numpy.save"),
    ("corrupt npy", "organic", _garbage,
     r"set\.000/energy\.npy is truncated or not a valid \.npy file", "numpy.save"),
    ("text npy dtype", "organic", _np_edit("set.000/energy.npy", lambda a: a.astype(str)),
     r"set\.000/energy\.npy has dtype <U\d+, expected floating point", "float64"),
    ("empty coord", "organic", _np_edit("set.000/coord.npy", lambda a: a[:0]),
     r"set\.000/coord\.npy holds no frame", "empty set folder"),
    ("type.raw too short", "organic", _write("type.raw", "0 0 0 0 1 1 1\n"),
     r"coord\.npy has shape \(15, 24\): 8 atoms per frame, but .*type\.raw lists 7 atoms",
     "one type per atom"),
    ("type.raw too long", "organic", _write("type.raw", "0 0 0 0 1 1 1 2 2\n"),
     r"8 atoms per frame, but .*type\.raw lists 9 atoms", "one type per atom"),
    ("type.raw not integer", "organic", _write("type.raw", "0 0 O 1\n"),
     r"type\.raw must hold integers", "one integer atom type"),
    ("type.raw negative", "organic", _write("type.raw", "0 0 0 0 1 1 -1 2\n"),
     r"type\.raw has a negative type -1", "starting at 0"),
    ("type beyond type_map.raw", "organic", _write("type.raw", "0 0 0 0 1 1 3 2\n"),
     r"type\.raw uses type 3 but .*type_map\.raw names only 3 elements", "every type"),
    ("type_map.raw repeats an element", "organic", _write("type_map.raw", "C H C\n"),
     r"type_map\.raw names \['C'\] more than once", "each element once"),
    ("type_map.raw repeats two elements", "water", _write("type_map.raw", "H H O O\n"),
     r"type_map\.raw names \['H', 'O'\] more than once", "each element once"),
    ("label in some sets", "organic", _second_set,
     r"energy\.npy is present in .*set\.000 but missing in .*set\.001", "every set folder"),
]


@pytest.mark.parametrize("case, which, edit, pattern, hint", CASES, ids=[c[0] for c in CASES])
def test_bad_data_message(copy_of, water_dir, organic_dir, case, which, edit, pattern, hint):
    src = organic_dir / "C4H3O1" if which == "organic" else water_dir / "data_0"
    folder = copy_of(src)
    System(folder, ["C", "H", "O"])  # the intact copy loads
    edit(folder)
    with pytest.raises(DataError, match=pattern) as err:
        System(folder, ["C", "H", "O"])
    assert "\n" not in str(err.value), case
    assert err.value.hint and hint in err.value.hint, (case, err.value.hint)
    assert str(folder) in str(err.value), case  # names the file / system


def test_missing_system_path(tmp_path):
    with pytest.raises(DataError, match=r"data system .*nothing does not exist"):
        System(tmp_path / "nothing", ["O"])
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DataError, match=r"afile is not a folder"):
        System(tmp_path / "afile", ["O"])


def test_bad_model_type_map(water_dir):
    with pytest.raises(DataError, match="duplicates"):
        System(water_dir / "data_0", ["O", "H", "O"])
