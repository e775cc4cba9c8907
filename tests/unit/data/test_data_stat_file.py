"""StatFile: HDF5 statistics cache, load-or-compute, fingerprints, atomic writes."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from deepft.data import StatFile, System, config_key, data_fingerprint, type_map_key
from deepft.errors import DataError


def test_save_load_roundtrip(tmp_path):
    sf = StatFile(tmp_path / "stat.h5")
    assert sf.load(["O H", "d"]) is None
    davg = np.arange(8.0).reshape(2, 4)
    sf.save(["O H", "d"], {"davg": davg, "dstd": davg + 1}, fingerprint="abc")
    out = sf.load(["O H", "d"])
    np.testing.assert_array_equal(out["davg"], davg)
    np.testing.assert_array_equal(out["dstd"], davg + 1)
    with h5py.File(tmp_path / "stat.h5", "r") as h5:  # DeePMD-kit style group names
        assert set(h5["O H/d"].keys()) == {"davg", "dstd"}
    assert sf.load(["O H", "d"], fingerprint="abc") is not None
    assert sf.load(["O H", "d"], fingerprint="xyz") is None
    assert sf.load(["O H", "d"], names=["davg", "bias"]) is None
    assert list(tmp_path.iterdir()) == [tmp_path / "stat.h5"]  # no temporary left


def test_load_or_compute(tmp_path):
    sf = StatFile(tmp_path / "sub" / "stat.h5")
    calls = []

    def compute():
        calls.append(1)
        return {"bias": np.array([1.0, 2.0 + len(calls)])}

    first, loaded = sf.load_or_compute("k", compute, names=["bias"], fingerprint="f1")
    assert not loaded and len(calls) == 1
    second, loaded = sf.load_or_compute("k", compute, names=["bias"], fingerprint="f1")
    assert loaded and len(calls) == 1
    np.testing.assert_array_equal(first["bias"], second["bias"])
    third, loaded = sf.load_or_compute("k", compute, names=["bias"], fingerprint="f2")
    assert not loaded and len(calls) == 2 and third["bias"][1] == 4.0
    assert StatFile(tmp_path / "sub" / "stat.h5").load("k", fingerprint="f2")["bias"][1] == 4.0


def test_other_groups_are_kept(tmp_path):
    sf = StatFile(tmp_path / "stat.h5")
    sf.save(["O H", "a"], {"x": np.ones(3)})
    sf.save(["H C O", "a"], {"x": np.zeros(2)})
    sf.save(["O H", "a"], {"y": np.full(2, 7.0)})  # replaces that group only
    assert set(sf.load(["O H", "a"])) == {"y"}
    np.testing.assert_array_equal(sf.load(["H C O", "a"])["x"], np.zeros(2))


def test_failed_write_keeps_old_file(tmp_path):
    sf = StatFile(tmp_path / "stat.h5")
    sf.save("k", {"x": np.ones(3)})
    before = (tmp_path / "stat.h5").read_bytes()
    with pytest.raises(TypeError):
        sf.save("k", {"x": np.ones(3), "bad": object()})
    assert (tmp_path / "stat.h5").read_bytes() == before
    assert list(tmp_path.iterdir()) == [tmp_path / "stat.h5"]


def test_broken_cache_is_a_data_error(tmp_path):
    (tmp_path / "stat.h5").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"stat_file .*stat.h5 is not a readable HDF5") as err:
        StatFile(tmp_path / "stat.h5").load("k")
    assert "delete it" in err.value.hint


def test_keys(water_dir):
    assert type_map_key(["O", "H"]) == "O H"
    a = config_key("se_e2_a", {"rcut": 6.0, "sel": [46, 92]})
    assert a == config_key("se_e2_a", {"sel": [46, 92], "rcut": 6.0}) and a.startswith("se_e2_a_")
    assert a != config_key("se_e2_a", {"rcut": 6.0, "sel": [46, 93]})
    systems = [System(water_dir / "data_0", ["O", "H"])]
    assert data_fingerprint(systems, nbatch=10) == data_fingerprint(systems, nbatch=10)
    assert data_fingerprint(systems, nbatch=10) != data_fingerprint(systems, nbatch=5)
    with pytest.raises(ValueError):
        StatFile("x.h5").load(["a/b"])
