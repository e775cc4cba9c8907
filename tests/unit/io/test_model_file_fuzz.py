"""Python-level fuzz of model.dft: mutated, truncated and spliced variants of real models,
many with re-stamped checksums (so they reach the parsers and validators), loaded by the
Python reader and by the C++ core through deepft._core. Each must load or raise
ModelFileError (never another exception, never a crash). The C++ fuzzer in tests/cpp runs
many more cases; this loop covers the Python reader and the bindings."""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path

import numpy as np
import pytest
from support.model_files import write_model

from deepft import _core
from deepft.errors import InputError, ModelFileError
from deepft.io import model_file as mf  # noqa: E402

CASES = 1000
HOSTILE = [0, -1, 1, 3, 64, 2**31, 2**32, 2**62, 2**63 - 1, 2**63, 2**64, -2**63, 1e308,
           0.5, "x", None, True, [], {}, [1, 2]]


def _mutate_header(rng: random.Random, header: dict) -> dict:
    """One field of a real header replaced by a hostile value (tensor table or branch)."""
    header = json.loads(json.dumps(header))
    if rng.random() < 0.5:
        name = rng.choice(list(header["tensors"]))
        entry = header["tensors"][name]
        key = rng.choice(["shape", "offset", "nbytes", "dtype", "crc32"])
        if key == "shape" and rng.random() < 0.5:
            entry["shape"] = [rng.choice(HOSTILE) for _ in entry["shape"]]
        else:
            entry[key] = rng.choice(HOSTILE)
    else:
        branch = next(iter(header["branches"].values()))
        part = rng.choice(["descriptor", "fitting_net"])
        key = rng.choice(list(branch[part]))
        branch[part][key] = rng.choice(HOSTILE)
        if rng.random() < 0.3:
            branch[rng.choice(["type_map", "descriptor_prefix", "fitting_prefixes"])] = (
                rng.choice(HOSTILE))
    return header


def _case(rng: random.Random, seeds: list[bytes]) -> bytes:
    data = rng.choice(seeds)
    kind = rng.randrange(5)
    if kind == 0:  # raw byte flips
        out = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        return bytes(out)
    if kind == 1:  # truncation
        return data[:rng.randrange(len(data))]
    if kind == 2:  # splice
        other = rng.choice(seeds)
        return data[:rng.randrange(len(data))] + other[rng.randrange(len(other)):]
    hlen = struct.unpack_from("<Q", data, 16)[0]
    header = json.loads(data[24:24 + hlen])
    blob = data[len(data) - header["blob_nbytes"]:]
    version = 1 if kind == 4 else mf.FORMAT_VERSION  # version 1: no checksum at all
    header = _mutate_header(rng, header)
    header["format_version"] = version
    return mf.assemble_model_file(header, blob, version)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> list[bytes]:
    d = tmp_path_factory.mktemp("fuzz")
    return [write_model(d / "a.dft").read_bytes(),
            write_model(d / "b.dft", precision="float32", type_one_side=False, seed=1)
            .read_bytes()]


@pytest.mark.filterwarnings("ignore::deepft.errors.ModelFileWarning")
def test_every_variant_loads_or_raises_model_file_error(seeds, tmp_path):
    rng = random.Random(12345)
    coord = np.array([[[0.1, 0.2, 0.3], [1.0, 0.1, 0.2], [0.2, 1.1, 0.1], [2.5, 2.4, 2.6]]])
    box = np.array([[5.0, 0, 0, 0, 5.2, 0, 0.3, 0, 4.9]])
    outcome = {"python_loaded": 0, "core_loaded": 0, "refused": 0}
    path = tmp_path / "case.dft"
    for _ in range(CASES):
        path.write_bytes(_case(rng, seeds))
        try:
            mf.read_model_file(path)
            outcome["python_loaded"] += 1
        except ModelFileError:
            pass
        try:
            pot = _core.infer.DeepPot(str(path), "")
        except ModelFileError as exc:
            assert str(path) in str(exc)
            outcome["refused"] += 1
            continue
        outcome["core_loaded"] += 1
        try:
            out = pot.compute(coord, np.arange(4, dtype=np.int32) % pot.ntypes, box)
            assert np.isfinite(out["energy"]).all() and np.isfinite(out["force"]).all()
        except InputError:
            pass
    # the loop is not vacuous: both outcomes occur often
    assert outcome["core_loaded"] > CASES // 100 and outcome["refused"] > CASES // 2, outcome


def test_checksum_mismatch_is_named_in_both_readers(seeds, tmp_path):
    data = bytearray(seeds[0])
    hlen = struct.unpack_from("<Q", data, 16)[0]
    header = json.loads(data[24:24 + hlen])
    name, entry = list(header["tensors"].items())[-1]
    start = len(data) - header["blob_nbytes"]
    data[start + entry["offset"] + entry["nbytes"] - 1] ^= 0x10  # last byte of the last tensor
    bad = tmp_path / "flipped.dft"
    bad.write_bytes(bytes(data))
    for load in (mf.read_model_file, lambda p: _core.infer.DeepPot(str(p), "")):
        with pytest.raises(ModelFileError, match=rf"flipped.dft: file is corrupt \(checksum "
                                                 rf"mismatch in tensor '{name}'\)"):
            load(bad)


def _ok(tmp_path, seeds) -> Path:
    path = tmp_path / "ok.dft"
    path.write_bytes(seeds[0])
    return path


def test_version_1_file_loads_with_a_warning_in_both_readers(seeds, tmp_path):
    model = mf.read_model_file(_ok(tmp_path, seeds))
    header = {k: v for k, v in model.header.items()
              if k not in ("tensors", "blob_nbytes", "format_version")}
    old = tmp_path / "old.dft"
    old.write_bytes(mf.encode_model_file(header, model.tensors, version=1))
    with pytest.warns(mf.ModelFileWarning, match="old.dft: model.dft format version 1 carries "
                                                 "no checksum"):
        v1 = mf.read_model_file(old)
    with pytest.warns(mf.ModelFileWarning, match="old.dft: model.dft format version 1"):
        pot = _core.infer.DeepPot(str(old), "")
    assert v1.format_version == mf.FORMAT_VERSION == 2
    for name, value in model.tensors.items():
        np.testing.assert_array_equal(v1.tensors[name], value)
    new = mf.upgrade_model_file(old, tmp_path / "new.dft")
    assert new.read_bytes() == seeds[0]  # the upgrade restores the checksummed file exactly
    assert pot.ntypes == 2
