"""model.dft v2: layout, round trip, versioning and bad files (Python reader and C++ core)."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest

from deepft.errors import ModelFileError
from deepft.io import model_file as mf

HEADER = {
    "deepft_version": "test",
    "type_map": ["O", "H"],
    "default_branch": "Default",
    "branches": {"Default": {"note": "unused by the Python reader"}},
    "config": {"comment": "ünïcode ✓ \"quoted\" \\ back\nslash", "numbers": [1, -2.5e-300, 1e300]},
}


def sample_tensors():
    rng = np.random.default_rng(0)
    return {
        "a.matrix": rng.normal(size=(3, 5)),
        "a.bias": rng.normal(size=5).astype(np.float32),
        "b.scalar": np.array(2.5),
        "c.empty": np.zeros((0, 4)),
        "d.big": rng.normal(size=(7, 11, 3)),
    }


def test_round_trip_preserves_tensors_and_header(tmp_path):
    path = mf.write_model_file(tmp_path / "m.dft", HEADER, sample_tensors())
    model = mf.read_model_file(path)
    assert model.format_version == mf.FORMAT_VERSION == 2
    assert model.type_map == ["O", "H"]
    assert model.header["config"] == HEADER["config"]
    for name, value in sample_tensors().items():
        assert model.tensors[name].dtype == value.dtype, name
        np.testing.assert_array_equal(model.tensors[name], value, err_msg=name)


def test_binary_layout(tmp_path):
    path = mf.write_model_file(tmp_path / "m.dft", HEADER, sample_tensors())
    data = path.read_bytes()
    magic, version, header_crc, hlen = struct.unpack_from("<8sIIQ", data)
    assert (magic, version) == (b"DEEPFTMD", 2)
    assert header_crc == zlib.crc32(data[24:24 + hlen])
    header = json.loads(data[24:24 + hlen].decode("utf-8"))
    start = 24 + hlen + (-(24 + hlen)) % 64
    assert start % 64 == 0 and set(data[24 + hlen:start]) <= {0}
    assert len(data) - start == header["blob_nbytes"]
    for name, info in header["tensors"].items():
        assert info["offset"] % 64 == 0, name
        raw = data[start + info["offset"]:start + info["offset"] + info["nbytes"]]
        assert info["crc32"] == zlib.crc32(raw), name
        got = np.frombuffer(raw, dtype="<" + {"float64": "f8", "float32": "f4"}[info["dtype"]])
        np.testing.assert_array_equal(got.reshape(info["shape"]), sample_tensors()[name])


def test_write_is_atomic_and_replaces(tmp_path):
    path = tmp_path / "m.dft"
    path.write_bytes(b"old content")
    mf.write_model_file(path, HEADER, sample_tensors())
    assert path.read_bytes()[:8] == b"DEEPFTMD"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.dft"]  # no temp file left


def test_write_rejects_integer_tensors(tmp_path):
    with pytest.raises(ModelFileError, match="dtype int64"):
        mf.write_model_file(tmp_path / "m.dft", HEADER, {"x": np.arange(3)})


def _write(tmp_path, name="m.dft"):
    return mf.write_model_file(tmp_path / name, HEADER, sample_tensors())


@pytest.mark.parametrize("cut", [4, 20, 100, -1, -64 * 3])
def test_truncated_file_names_the_file(tmp_path, cut):
    path = _write(tmp_path)
    data = path.read_bytes()
    bad = tmp_path / f"cut{abs(cut)}.dft"
    bad.write_bytes(data[:cut])
    with pytest.raises(ModelFileError, match=str(bad)) as err:
        mf.read_model_file(bad)
    assert "truncated" in str(err.value) or "magic" in str(err.value)


def test_wrong_magic_and_missing_file(tmp_path):
    bad = tmp_path / "notamodel.dft"
    bad.write_bytes(b"PK\x03\x04 this is a zip or a torch file" + b"\0" * 100)
    with pytest.raises(ModelFileError, match="notamodel.dft.*magic"):
        mf.read_model_file(bad)
    with pytest.raises(ModelFileError, match="nothere.dft"):
        mf.read_model_file(tmp_path / "nothere.dft")


def _with_version(path, version):
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 8, version)
    path.write_bytes(bytes(data))
    return path


def test_newer_version_is_refused(tmp_path):
    path = _with_version(_write(tmp_path), 99)
    with pytest.raises(ModelFileError, match="version 99 is newer") as err:
        mf.read_model_file(path)
    assert str(path) in str(err.value) and err.value.hint


def test_old_version_without_upgrade_is_refused(tmp_path):
    path = _with_version(_write(tmp_path), 0)
    with pytest.raises(ModelFileError, match="version 0 is not supported and cannot be upgraded"):
        mf.read_model_file(path)


def test_upgrade_chain_runs_registered_steps(tmp_path, monkeypatch):
    """A file of version 1 read by a (pretend) version-3 reader goes through 1->2->3."""
    path = tmp_path / "v1.dft"
    path.write_bytes(mf.encode_model_file(HEADER, sample_tensors(), version=1))
    calls = []

    def v1_to_v2(header, p):
        calls.append((1, p))
        return {**header, "type_map": [t.lower() for t in header["type_map"]]}

    def v2_to_v3(header, p):
        calls.append((2, p))
        return {**header, "added_in_v3": True}

    monkeypatch.setattr(mf, "FORMAT_VERSION", 3)
    monkeypatch.setitem(mf._UPGRADES, 1, v1_to_v2)
    monkeypatch.setitem(mf._UPGRADES, 2, v2_to_v3)
    with pytest.warns(mf.ModelFileWarning, match="carries no checksum"):
        model = mf.read_model_file(path)
    assert [c[0] for c in calls] == [1, 2]
    assert model.format_version == 3 and model.type_map == ["o", "h"]
    assert model.header["added_in_v3"] is True
    out = mf.upgrade_model_file(path, tmp_path / "new.dft")
    assert struct.unpack_from("<I", out.read_bytes(), 8)[0] == 3


def test_corrupt_header_and_inconsistent_tensor_entry(tmp_path):
    path = _write(tmp_path)
    data = bytearray(path.read_bytes())
    data[24] = ord("[")  # header no longer valid JSON; checksum re-stamped
    hlen = struct.unpack_from("<Q", data, 16)[0]
    struct.pack_into("<I", data, 12, zlib.crc32(data[24:24 + hlen]))
    bad = tmp_path / "badjson.dft"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="badjson.dft: corrupt model header"):
        mf.read_model_file(bad)
    header = dict(HEADER)
    tensors = sample_tensors()
    good = mf.encode_model_file(header, tensors)
    hlen = struct.unpack_from("<Q", good, 16)[0]
    text = good[24:24 + hlen].decode().replace('"nbytes": 120', '"nbytes": 128', 1)
    assert len(text.encode()) == hlen
    bad2 = tmp_path / "badentry.dft"
    bad2.write_bytes(good[:12] + struct.pack("<I", zlib.crc32(text.encode())) + good[16:24]
                     + text.encode() + good[24 + hlen:])
    with pytest.raises(ModelFileError, match="badentry.dft: tensor 'a.matrix' has an inconsistent"):
        mf.read_model_file(bad2)
