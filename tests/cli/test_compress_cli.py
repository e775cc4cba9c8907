"""``deepft compress`` end to end: the shortest neighbor distance from -t / --system or from an
earlier compression, ``show`` says a file is compressed, bad options and inputs are one-line
errors, a compressed file cannot seed training or a bias refit, DPA-1 strip without attention
is compressed, other DPA-1 forms are refused."""

from __future__ import annotations

import numpy as np
import pytest
from support.cli import run_deepft, small_water_input, write_json
from support.frames import load_frames
from support.models import ELEMENTS, build_energy_model, freeze_to, model_section, write_dpa1_model

from deepft.errors import ModelFileError
from deepft.infer import DeepPot
from deepft.io.model_file import read_model_file
from deepft.io.to_torch import frozen_branch_model


@pytest.fixture(scope="module")
def model(tmp_path_factory, water_dir):
    coord, box, atype = load_frames(water_dir / "data_0", 1, ELEMENTS)
    m = build_energy_model(model_section(True, neuron=(4, 8), fitting=(8, 8)),
                           [{"coord": coord, "box": box, "atype": atype}])
    return freeze_to(m, tmp_path_factory.mktemp("compress") / "model.dft")


def one_line_error(proc, *words):
    assert proc.returncode != 0, proc.stdout
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("deepft compress: error:"), proc.stderr
    for w in words:
        assert w in err[0], f"{w!r} not in {err[0]!r}"


def test_compress_show_and_recompress(model, tmp_path, water_dir):
    inp = write_json(small_water_input(water_dir), tmp_path / "input.json")
    run_deepft("compress", "-i", str(model), "-o", "c.dft", "-t", str(inp), cwd=tmp_path)
    z = read_model_file(tmp_path / "c.dft").branch()["compression"]
    assert z["step"] == 0.01 and z["extrapolate"] == 5.0 and z["check_frequency"] == -1
    assert 0.8 < z["min_nbor_dist"] < 1.0, z  # the O-H bond of the water data
    shown = run_deepft("show", "c.dft", "type-map", cwd=tmp_path).stdout
    assert "This model is compressed: embedding nets tabulated (step 0.01" in shown, shown
    plain = run_deepft("show", str(model), "type-map", cwd=tmp_path).stdout
    assert "compressed" not in plain, plain
    # a compressed file records min_nbor_dist: compressing it again needs no data
    run_deepft("compress", "-i", "c.dft", "-o", "c2.dft", "--step", "0.02",
               "--check-frequency", "100", cwd=tmp_path)
    z2 = read_model_file(tmp_path / "c2.dft").branch()["compression"]
    assert z2["min_nbor_dist"] == z["min_nbor_dist"] and z2["step"] == 0.02
    frames = load_frames(water_dir / "data_0", 1, ELEMENTS)
    e = [DeepPot(p).eval(*frames)[0][0] for p in (model, tmp_path / "c.dft", tmp_path / "c2.dft")]
    assert np.ptp(e) < 1e-8, e


def test_needs_training_data_when_not_recorded(model, tmp_path):
    proc = run_deepft("compress", "-i", str(model), "-o", "c.dft", cwd=tmp_path, check=False)
    one_line_error(proc, "shortest neighbor distance", "-t input.json")


@pytest.mark.parametrize("option, words", [(("--step", "0"), ["--step"]),
                                           (("--extrapolate", "1"), ["--extrapolate"]),
                                           (("--check-frequency", "0"), ["--check-frequency"])])
def test_bad_options(model, tmp_path, water_dir, option, words):
    proc = run_deepft("compress", "-i", str(model), "--system", str(water_dir / "data_0"),
                      *option, cwd=tmp_path, check=False)
    one_line_error(proc, *words)


@pytest.mark.parametrize("descriptor, words", [
    ({"attn_layer": 2}, ["attn_layer 2", "attn_layer 0"]),
    ({"attn_layer": 0, "tebd_input_mode": "concat"}, ["tebd_input_mode 'concat'", "strip"])])
def test_dpa1_refused_unless_strip_without_attention(tmp_path, water_dir, descriptor, words):
    path = write_dpa1_model(tmp_path / "dpa1.dft", **descriptor)
    proc = run_deepft("compress", "-i", str(path), "--system", str(water_dir / "data_0"),
                      cwd=tmp_path, check=False)
    one_line_error(proc, "DPA-1", *words)


def test_compress_dpa1_strip_without_attention(tmp_path, water_dir):
    path = write_dpa1_model(tmp_path / "dpa1.dft", attn_layer=0)
    run_deepft("compress", "-i", str(path), "-o", "c.dft", "--system",
               str(water_dir / "data_0"), cwd=tmp_path)
    small = read_model_file(tmp_path / "c.dft")
    entry = small.header["branches"]["Default"]["compression"]
    assert len(entry["nets"]) == 1 and entry["min_nbor_dist"] > 0.5, entry
    table = small.tensors[entry["table_prefix"] + "table.0"]
    assert table.shape == (entry["nets"][0]["n_fine"] + entry["nets"][0]["n_coarse"], 6, 8)
    frames = load_frames(water_dir / "data_0", 1, ["O", "H"])
    want, got = DeepPot(path).eval(*frames), DeepPot(tmp_path / "c.dft").eval(*frames)
    assert np.abs(got[1] - want[1]).max() < 1e-6
    assert abs(got[0][0] - want[0][0]) < 1e-6 * len(frames[2])


def test_compressed_file_cannot_seed_training(model, tmp_path, water_dir):
    run_deepft("compress", "-i", str(model), "-o", "c.dft", "--system",
               str(water_dir / "data_0"), cwd=tmp_path)
    with pytest.raises(ModelFileError, match="compressed.*uncompressed"):
        frozen_branch_model(read_model_file(tmp_path / "c.dft"), "Default")
    inp = write_json(small_water_input(water_dir), tmp_path / "input.json")
    proc = run_deepft("train", str(inp), "--init-frz-model", "c.dft", cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "is compressed" in proc.stderr, proc.stderr
    assert "uncompressed" in proc.stderr, proc.stderr


def test_training_records_min_nbor_dist_for_compress(water_20_steps_run, water_dir, tmp_path):
    """`deepft train` keeps its neighbor statistics' shortest distance in the checkpoint,
    `freeze` writes it, and `deepft compress` then needs no training data."""
    from deepft.commands._systems import load_systems
    from deepft.data.neighbor_stat import neighbor_stat
    from deepft.io import read_model_file

    run_deepft("freeze", "-c", str(water_20_steps_run / "model.ckpt.pt"), "-o", "m.dft",
               cwd=tmp_path)
    recorded = read_model_file(tmp_path / "m.dft").header["branches"]["Default"]
    systems = load_systems([str(water_dir / "data_0"), str(water_dir / "data_1")], ["O", "H"])
    assert recorded["min_nbor_dist"] == neighbor_stat(systems, 6.0).min_nbor_dist
    run_deepft("compress", "-i", "m.dft", "-o", "c.dft", cwd=tmp_path)
    header = read_model_file(tmp_path / "c.dft").header
    assert header["branches"]["Default"]["compression"]["min_nbor_dist"] == \
        recorded["min_nbor_dist"]
