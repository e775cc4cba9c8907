"""DPA-1 through the command line: DeePMD-kit's DPA-1 water inputs (dpa1 and se_atten_v2) run
as they are (tiny nets, few steps), then show, test, change-bias, restart (bit for bit),
init-model, float32 and torchrun; freeze to model.dft, whose native predictions (deepft test)
equal the checkpoint's, and which --init-frz-model starts from."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from support.cli import run_deepft, run_torchrun
from support.examples import shrunk

from deepft.checkpoint import load_checkpoint

EXAMPLE = {"dpa1": "water_dpa1/input.json", "se_atten_v2": "water_dpa1/input_v2.json"}
SMALL = {"neuron": [4, 8], "axis_neuron": 4, "attn": 8, "tebd_dim": 4}


def dpa1_input(data_root, kind="dpa1", numb_steps=4, **training) -> dict:
    cfg = shrunk(EXAMPLE[kind], data_root, numb_steps=numb_steps, disp_freq=2)
    cfg["model"]["descriptor"].update(SMALL)
    cfg["training"]["training_data"]["systems"] = cfg["training"]["training_data"]["systems"][:1]
    cfg["training"].update(training)
    return cfg


@pytest.fixture(scope="module")
def dpa1_run(tmp_path_factory, data_root):
    work = tmp_path_factory.mktemp("dpa1_cli")
    (work / "input.json").write_text(json.dumps(dpa1_input(data_root, save_freq=2)))
    run_deepft("train", "input.json", cwd=work)
    return work


@pytest.mark.parametrize("kind", ["dpa1", "se_atten_v2"])
def test_deepmd_kit_dpa1_inputs_run_unchanged(tmp_path, data_root, kind):
    cfg = dpa1_input(data_root, kind, numb_steps=2)
    raw = json.loads((data_root.parent / EXAMPLE[kind]).read_text())
    assert {k: v for k, v in cfg["model"]["descriptor"].items() if k not in SMALL} == \
        {k: v for k, v in raw["model"]["descriptor"].items() if k not in SMALL}
    (tmp_path / "input.json").write_text(json.dumps(cfg))
    out = run_deepft("train", "input.json", cwd=tmp_path).stdout
    assert "sel [120]" in out
    written = json.loads((tmp_path / "out.json").read_text())["model"]["descriptor"]
    assert written["type"] == kind and written["sel"] == [120]
    rows = np.loadtxt(tmp_path / "lcurve.out", ndmin=2)
    assert np.isfinite(rows).all() and rows.shape[0] == 2
    # the frozen model (type dpa1 in its header, se_atten_v2's presets spelled out) starts
    # training from the same input
    run_deepft("freeze", "-c", "model.ckpt.pt", "-o", "m.dft", cwd=tmp_path)
    again = tmp_path / "again"
    again.mkdir()
    (again / "input.json").write_text(json.dumps(cfg))
    out = run_deepft("train", "input.json", "--init-frz-model", str(tmp_path / "m.dft"),
                     cwd=again).stdout
    assert "initialized weights and statistics from branch Default" in out


def test_show_test_and_change_bias(dpa1_run, data_root):
    shown = run_deepft("show", "model.ckpt.pt", "type-map", "descriptor", "size",
                       cwd=dpa1_run).stdout
    assert "'type': 'dpa1'" in shown and "['O', 'H']" in shown
    tested = run_deepft("test", "-m", "model.ckpt.pt", "-s", str(data_root / "water/data_3"),
                        "-n", "2", cwd=dpa1_run).stdout
    assert "Force  RMSE" in tested
    run_deepft("change-bias", "model.ckpt.pt", "-s", str(data_root / "water/data_3"),
               "-o", "biased.pt", cwd=dpa1_run)
    old, new = (load_checkpoint(dpa1_run / n)["model"] for n in ("model.ckpt.pt", "biased.pt"))
    assert not torch.equal(old["fitting.bias_atom_e"], new["fitting.bias_atom_e"])
    assert all(torch.equal(old[k], new[k]) for k in old if k != "fitting.bias_atom_e")


def rmse_lines(output: str) -> list[float]:
    """The numbers of the RMSE/MAE lines of ``deepft test``."""
    return [float(line.split()[-2]) for line in output.splitlines()
            if "RMSE" in line or "MAE" in line]


def test_frozen_model_predicts_as_the_checkpoint(dpa1_run, data_root, tmp_path):
    run_deepft("freeze", "-c", "model.ckpt.pt", "-o", "m.dft", cwd=dpa1_run)
    system = str(data_root / "water/data_3")
    native = run_deepft("test", "-m", "m.dft", "-s", system, "-n", "2", cwd=dpa1_run).stdout
    torch_ = run_deepft("test", "-m", "model.ckpt.pt", "-s", system, "-n", "2",
                        cwd=dpa1_run).stdout
    got, want = rmse_lines(native), rmse_lines(torch_)
    assert len(got) >= 4 and got == pytest.approx(want, rel=1e-5, abs=1e-12), (native, torch_)
    (tmp_path / "input.json").write_text((dpa1_run / "input.json").read_text())
    out = run_deepft("train", "input.json", "--init-frz-model", str(dpa1_run / "m.dft"),
                     cwd=tmp_path).stdout
    assert f"from branch Default of {dpa1_run / 'm.dft'}" in out


def test_restart_continues_bit_for_bit(dpa1_run, tmp_path):
    (tmp_path / "input.json").write_text((dpa1_run / "input.json").read_text())
    run_deepft("train", "input.json", "--restart", str(dpa1_run / "model.ckpt-2.pt"),
               cwd=tmp_path)
    whole = load_checkpoint(dpa1_run / "model.ckpt-4.pt")["model"]
    resumed = load_checkpoint(tmp_path / "model.ckpt-4.pt")["model"]
    assert whole.keys() == resumed.keys()
    assert all(torch.equal(whole[k], resumed[k]) for k in whole), "restart is not bit-exact"


def test_init_model_and_float32(dpa1_run, tmp_path, data_root):
    cfg = dpa1_input(data_root, numb_steps=2, precision="float32")
    (tmp_path / "input.json").write_text(json.dumps(cfg))
    run_deepft("train", "input.json", cwd=tmp_path)
    state = load_checkpoint(tmp_path / "model.ckpt.pt")["model"]
    assert state["descriptor.attention.0.in_proj.matrix"].dtype == torch.float32
    second = tmp_path / "init"
    second.mkdir()
    (second / "input.json").write_text(json.dumps(dpa1_input(data_root, numb_steps=2)))
    out = run_deepft("train", "input.json", "--init-model", str(dpa1_run / "model.ckpt.pt"),
                     cwd=second).stdout
    assert f"initialized weights and statistics from {dpa1_run / 'model.ckpt.pt'}" in out
    rows = np.loadtxt(second / "lcurve.out", ndmin=2)
    assert np.isfinite(rows).all()


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="torchrun test runs on Linux")
def test_torchrun_two_ranks_equal_one_process(tmp_path, data_root):
    one, two = tmp_path / "one", tmp_path / "two"
    for folder, batch in ((one, 2), (two, 1)):
        folder.mkdir()
        cfg = dpa1_input(data_root, numb_steps=4)
        cfg["training"]["training_data"]["batch_size"] = batch
        (folder / "input.json").write_text(json.dumps(cfg))
    run_deepft("train", "input.json", cwd=one, env_extra={"DEEPFT_DEVICE": "cpu"})
    run_torchrun("train", "input.json", cwd=two)
    a = load_checkpoint(one / "model.ckpt.pt")["model"]
    b = load_checkpoint(two / "model.ckpt.pt")["model"]
    for key, value in a.items():
        torch.testing.assert_close(b[key], value, rtol=0, atol=1e-10, msg=key)
