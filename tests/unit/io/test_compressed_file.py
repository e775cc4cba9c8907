"""The compressed branch of a model.dft as hostile input: every field of ``compression`` and
the table tensors it names are checked by the C++ reader, each problem one ModelFileError
naming the field (never a crash, never a silent fallback to the embedding nets)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from support.model_files import write_random_model

from deepft.compress.model import compress_frozen
from deepft.errors import ModelFileError
from deepft.infer import DeepPot
from deepft.io.model_file import read_model_file, write_model_file


@pytest.fixture(scope="module")
def compressed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    plain = read_model_file(write_random_model(folder / "m.dft"))
    header, tensors = compress_frozen(plain, min_nbor_dist=0.9, step=0.05, extrapolate=3.0,
                                      check_frequency=-1)
    return header, tensors


def load_edited(tmp_path, compressed, edit):
    header, tensors = copy.deepcopy(compressed[0]), dict(compressed[1])
    edit(header["branches"]["Default"]["compression"], tensors)
    path = write_model_file(tmp_path / "edited.dft", header, tensors)
    return DeepPot(path)


def test_unedited_file_loads(tmp_path, compressed):
    pot = load_edited(tmp_path, compressed, lambda z, t: None)
    assert pot.compressed


def _set(key, value):
    return lambda z, t: z.__setitem__(key, value)


def _net(key, value):
    return lambda z, t: z["nets"][0].__setitem__(key, value)


CASES = {
    "unknown type": (_set("type", "cubic"), "compression.type"),
    "zero step": (_set("step", 0.0), "compression.step"),
    "negative step": (_set("step", -0.01), "compression.step"),
    "check frequency 0": (_set("check_frequency", 0), "compression.check_frequency"),
    "too few tables": (lambda z, t: z["nets"].pop(), "compression.nets"),
    "nets not a list": (_set("nets", {"a": 1}), "compression.nets"),
    "n_fine off by one": (lambda z, t: z["nets"][0].__setitem__(
        "n_fine", z["nets"][0]["n_fine"] + 1), "table.0"),
    "huge n_coarse": (_net("n_coarse", 2 ** 62), "n_coarse"),
    "negative n_fine": (_net("n_fine", -3), "n_fine"),
    "lower not a number": (_net("lower", "x"), "lower"),
    "lower infinite-ish": (_net("lower", 1e300), "lower"),
    "missing table": (lambda z, t: t.pop(z["table_prefix"] + "table.1"), "table.1"),
    "table of wrong width": (lambda z, t: t.__setitem__(
        z["table_prefix"] + "table.0", t[z["table_prefix"] + "table.0"][:, :, :5].copy()),
        "table.0"),
    "NaN in table": (lambda z, t: t.__setitem__(
        z["table_prefix"] + "table.0", np.full_like(t[z["table_prefix"] + "table.0"], np.nan)),
        "table.0"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_compression_field_is_named(tmp_path, compressed, case):
    edit, field = CASES[case]
    with pytest.raises(ModelFileError, match=field.replace(".", r"\.")) as err:
        load_edited(tmp_path, compressed, edit)
    assert str(tmp_path / "edited.dft") in str(err.value), f"{case}: {err.value}"


def test_multitask_descriptor_tabulated_once(tmp_path, water_dir):
    """Two branches sharing one descriptor: one set of tables, both branches point at it, and
    each branch's compressed evaluation equals its uncompressed one."""
    from support.frames import load_frames

    plain = write_random_model(tmp_path / "multi.dft", branches=("water", "other"))
    header, tensors = compress_frozen(read_model_file(plain), min_nbor_dist=0.9, step=0.01,
                                      extrapolate=5.0, check_frequency=-1)
    prefixes = {br["compression"]["table_prefix"] for br in header["branches"].values()}
    assert prefixes == {"compressed.shared.descriptor."}, prefixes
    assert sorted(k for k in tensors if k.startswith("compressed.")) == \
        [f"compressed.shared.descriptor.table.{k}" for k in range(2)]
    small = write_model_file(tmp_path / "c.dft", header, tensors)
    frames = load_frames(water_dir / "data_0", 1, ["O", "H"])
    for branch in ("water", "other"):
        want = DeepPot(plain, branch=branch).eval(*frames)
        got = DeepPot(small, branch=branch).eval(*frames)
        assert np.abs(got[1] - want[1]).max() < 1e-6, branch


@pytest.fixture(scope="module")
def compressed_dpa1(tmp_path_factory):
    """A compressed DPA-1 strip model without attention: (header, tensors)."""
    from support.models import write_dpa1_model

    folder = tmp_path_factory.mktemp("hostile_dpa1")
    plain = read_model_file(write_dpa1_model(folder / "d.dft", attn_layer=0))
    return compress_frozen(plain, min_nbor_dist=0.9, step=0.05, extrapolate=3.0,
                           check_frequency=-1)


DPA1_CASES = {
    "unedited": (lambda d, z, t: None, None),
    "two tables for one net": (lambda d, z, t: z["nets"].append(dict(z["nets"][0])),
                               "compression.nets"),
    "attention layers": (lambda d, z, t: d.__setitem__("attn_layer", 1), "attn_layer 1"),
    "concat": (lambda d, z, t: d.__setitem__("tebd_input_mode", "concat"), "'concat'"),
    "table of wrong width": (lambda d, z, t: t.__setitem__(
        z["table_prefix"] + "table.0", t[z["table_prefix"] + "table.0"][:, :, :5].copy()),
        "table.0"),
    "missing table": (lambda d, z, t: t.pop(z["table_prefix"] + "table.0"), "table.0"),
}


@pytest.mark.parametrize("case", list(DPA1_CASES))
def test_bad_compressed_dpa1_branch_is_named(tmp_path, compressed_dpa1, case):
    """A compressed DPA-1 branch is validated like se_e2_a's: one table (the geometric net),
    and only with attn_layer 0 and tebd_input_mode "strip"."""
    edit, field = DPA1_CASES[case]
    header, tensors = copy.deepcopy(compressed_dpa1[0]), dict(compressed_dpa1[1])
    branch = header["branches"]["Default"]
    edit(branch["descriptor"], branch["compression"], tensors)
    path = write_model_file(tmp_path / "edited.dft", header, tensors)
    if field is None:
        assert DeepPot(path).compressed
        return
    with pytest.raises(ModelFileError, match=field.replace(".", r"\.")) as err:
        DeepPot(path)
    assert str(path) in str(err.value), f"{case}: {err.value}"
