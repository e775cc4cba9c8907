"""System: loading every shared system, type-map remapping, labels and defaults."""

from __future__ import annotations

import numpy as np
import pytest

from deepft.data import System
from deepft.errors import DataError

SHARED = [
    ("water/data_0", 80, 192, True, ["O", "H"]),
    ("water/data_1", 160, 192, True, ["O", "H"]),
    ("water/data_2", 80, 192, True, ["O", "H"]),
    ("water/data_3", 80, 192, True, ["O", "H"]),
    ("organic_nopbc/C1H4O2", 1562, 7, False, ["C", "H", "O"]),
    ("organic_nopbc/C3H3O4", 485, 10, False, ["C", "H", "O"]),
    ("organic_nopbc/C4H3O1", 15, 8, False, ["C", "H", "O"]),
]


def _npy_concat(folder, name):
    parts = [np.load(s / f"{name}.npy") for s in sorted(folder.glob("set.*"))]
    return np.concatenate(parts, axis=0)


@pytest.mark.parametrize("rel, nframes, natoms, pbc, type_map", SHARED,
                         ids=[s[0] for s in SHARED])
def test_shared_system_loads_untouched(data_root, rel, nframes, natoms, pbc, type_map):
    folder = data_root / rel
    system = System(folder, type_map)
    assert (system.nframes, system.natoms, system.pbc) == (nframes, natoms, pbc), rel
    assert system.labels == {"energy", "force"}, rel
    raw = np.loadtxt(folder / "type.raw", dtype=np.int64, ndmin=1)
    np.testing.assert_array_equal(system.atype, raw)  # type_map.raw equals the model's here
    assert system.atype.dtype == np.int64
    np.testing.assert_array_equal(system.type_counts, np.bincount(raw, minlength=len(type_map)))
    f = system.get_frames(np.arange(nframes))
    assert f["coord"].shape == (nframes, natoms, 3) and f["coord"].dtype == np.float64
    assert f["force"].shape == (nframes, natoms, 3) and f["energy"].shape == (nframes,)
    np.testing.assert_array_equal(f["coord"].reshape(nframes, -1), _npy_concat(folder, "coord"))
    np.testing.assert_array_equal(f["force"].reshape(nframes, -1), _npy_concat(folder, "force"))
    np.testing.assert_array_equal(f["energy"], _npy_concat(folder, "energy"))
    if pbc:
        assert f["box"].shape == (nframes, 9)
        np.testing.assert_array_equal(f["box"], _npy_concat(folder, "box"))
    else:
        assert f["box"] is None
    assert (f["find_energy"], f["find_force"], f["find_virial"]) == (1.0, 1.0, 0.0)
    assert (f["find_atom_ener"], f["find_atom_pref"]) == (0.0, 0.0)
    np.testing.assert_array_equal(f["virial"], np.zeros((nframes, 9)))
    np.testing.assert_array_equal(f["atom_ener"], np.zeros((nframes, natoms)))
    np.testing.assert_array_equal(f["atom_pref"], np.ones((nframes, natoms)))


def test_sets_concatenated_in_order(water_dir):
    system = System(water_dir / "data_1", ["O", "H"])
    assert system.sets == ["set.000", "set.001"] and system.set_nframes == [80, 80]
    second = np.load(water_dir / "data_1" / "set.001" / "energy.npy")
    np.testing.assert_array_equal(system.get_frames(np.arange(80, 160))["energy"], second)


def test_get_frames_order_and_copy(water_dir):
    system = System(water_dir / "data_0", ["O", "H"])
    energy = np.load(water_dir / "data_0" / "set.000" / "energy.npy")
    f = system.get_frames([5, 2, 5])
    np.testing.assert_array_equal(f["energy"], energy[[5, 2, 5]])
    f["coord"][:] = 0.0
    assert np.abs(system.get_frames([5])["coord"]).sum() > 0  # internal data untouched
    with pytest.raises(IndexError):
        system.get_frames([80])


def test_type_map_remapping(organic_dir):
    # file type_map.raw is C H O; the model orders H C O
    folder = organic_dir / "C1H4O2"
    raw = np.loadtxt(folder / "type.raw", dtype=np.int64)
    system = System(folder, ["H", "C", "O"])
    assert system.system_type_map == ["C", "H", "O"]
    np.testing.assert_array_equal(system.atype, np.array([1, 0, 2])[raw])
    np.testing.assert_array_equal(system.type_counts, [4, 1, 2])  # H4 C1 O2
    # a larger model type map: unused types count 0
    big = System(folder, ["Zn", "O", "H", "C"])
    np.testing.assert_array_equal(big.type_counts, [0, 2, 4, 1])
    np.testing.assert_array_equal(big.atype, np.array([3, 2, 1])[raw])


def test_missing_element_names_system_and_element(water_dir):
    with pytest.raises(DataError) as err:
        System(water_dir / "data_0", ["H", "C"])
    msg = str(err.value)
    assert "element O" in msg and "data_0" in msg and "['H', 'C']" in msg
    assert "add 'O' to model/type_map" in err.value.hint


def test_unused_element_of_type_map_raw_is_ignored(copy_of, water_dir):
    folder = copy_of(water_dir / "data_0")
    (folder / "type_map.raw").write_text("O\nH\nZn\n")
    system = System(folder, ["O", "H"])
    np.testing.assert_array_equal(system.type_counts, [64, 128])


def test_without_type_map_raw_types_are_indices(copy_of, water_dir):
    folder = copy_of(water_dir / "data_0")
    (folder / "type_map.raw").unlink()
    system = System(folder, ["H", "O"])  # indices taken as they are
    assert system.system_type_map is None
    np.testing.assert_array_equal(system.type_counts, [64, 128])
    with pytest.raises(DataError, match=r"uses type 1 .* has 1 types"):
        System(folder, ["O"])


def test_optional_labels_and_inputs(copy_of, organic_dir):
    folder = copy_of(organic_dir / "C4H3O1")
    nf, n = 15, 8
    rng = np.random.default_rng(0)
    arrays = {"virial": rng.normal(size=(nf, 9)), "atom_ener": rng.normal(size=(nf, n)),
              "atom_pref": rng.uniform(size=(nf, n)), "fparam": rng.normal(size=(nf, 2)),
              "aparam": rng.normal(size=(nf, n * 3))}
    for name, value in arrays.items():
        np.save(folder / "set.000" / f"{name}.npy", value)
    system = System(folder, ["C", "H", "O"])
    assert system.labels == {"energy", "force", "virial", "atom_ener", "atom_pref"}
    assert (system.numb_fparam, system.numb_aparam) == (2, 3)
    f = system.get_frames([3, 7])
    for name in ("virial", "atom_ener", "atom_pref", "fparam"):
        np.testing.assert_array_equal(f[name], arrays[name][[3, 7]], err_msg=name)
        assert f[f"find_{name}"] == 1.0, name
    np.testing.assert_array_equal(f["aparam"], arrays["aparam"][[3, 7]].reshape(2, n, 3))
    assert f["find_aparam"] == 1.0


def test_energy_absent_gives_find_zero(copy_of, organic_dir):
    folder = copy_of(organic_dir / "C4H3O1")
    (folder / "set.000" / "energy.npy").unlink()
    f = System(folder, ["C", "H", "O"]).get_frames([0, 1])
    assert f["find_energy"] == 0.0 and f["find_force"] == 1.0
    np.testing.assert_array_equal(f["energy"], [0.0, 0.0])


def test_coord_stored_three_dimensional(copy_of, organic_dir):
    folder = copy_of(organic_dir / "C4H3O1")
    coord = np.load(folder / "set.000" / "coord.npy")
    np.save(folder / "set.000" / "coord.npy", coord.reshape(15, 8, 3))
    system = System(folder, ["C", "H", "O"])
    np.testing.assert_array_equal(system.get_frames(np.arange(15))["coord"],
                                  coord.reshape(15, 8, 3))
