"""``deepft train`` end to end on the shared water data: learning, restart, DeePMD-kit input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support.cli import copy_run, read_lcurve, run_deepft, small_water_input
from support.paths import CONFIG_INPUTS
from support.tolerances import STRICT
from support.training import build_trainer

from deepft.checkpoint import load_checkpoint


@pytest.mark.slow
def test_training_lowers_the_loss_and_writes_outputs(tmp_path, water_dir, write_input):
    write_input(small_water_input(water_dir, numb_steps=50, disp_freq=10, save_freq=25))
    proc = run_deepft("train", "input.json", cwd=tmp_path)
    names, curve = read_lcurve(tmp_path / "lcurve.out")
    assert names[:7] == ["step", "rmse_val", "rmse_trn", "rmse_e_val", "rmse_e_trn",
                         "rmse_f_val", "rmse_f_trn"] and names[-1] == "lr"
    assert curve[:, 0].tolist() == [1, 10, 20, 30, 40, 50]
    first, last = curve[0], curve[-1]
    assert last[1] < 0.7 * first[1], f"validation loss did not drop: {curve[:, 1]}"
    assert "s/step" in proc.stdout and "steps/s" in proc.stdout
    for name in ("model.ckpt-25.pt", "model.ckpt-50.pt", "model.ckpt.pt", "out.json"):
        assert (tmp_path / name).exists(), name
    assert load_checkpoint(tmp_path / "model.ckpt.pt")["step"] == 50
    assert json.loads((tmp_path / "out.json").read_text())["model"]["descriptor"]["sel"] == [46, 92]


@pytest.mark.slow
def test_restart_continues_bit_for_bit(tmp_path, water_20_steps_run):
    """20 steps in one go == 10 steps, then --restart from the step-10 checkpoint (fp64): a
    copy of the shared 20-step run without its tail redoes steps 11..20 (on the CPU, as it)."""
    one = water_20_steps_run
    two = copy_run(one, tmp_path / "two", names=["input.json", "model.ckpt-10.pt", "lcurve.out"])
    run_deepft("train", "input.json", "--restart", "model.ckpt-10.pt", cwd=two,
               env_extra={"DEEPFT_DEVICE": "cpu"})
    a = load_checkpoint(one / "model.ckpt-20.pt")
    b = load_checkpoint(two / "model.ckpt-20.pt")
    assert a["step"] == b["step"] == 20
    for key, value in a["model"].items():
        torch.testing.assert_close(b["model"][key], value, rtol=0, atol=STRICT,
                                   msg=f"parameter {key} differs after restart")
    # the restarted lcurve continues the original one
    _, curve_a = read_lcurve(one / "lcurve.out")
    _, curve_b = read_lcurve(two / "lcurve.out")
    np.testing.assert_allclose(curve_b[-1], curve_a[-1], rtol=1e-8)


def test_deepmd_kit_water_input_runs_unchanged(tmp_path, water_dir):
    """DeePMD-kit's own examples/water/se_e2_a/input.json, data paths adjusted only."""
    from deepft.config import load_input

    src = load_input(CONFIG_INPUTS / "water_se_e2_a.json")
    src["training"]["training_data"]["systems"] = [str(water_dir / f"data_{i}")
                                                   for i in range(3)]
    src["training"]["validation_data"]["systems"] = [str(water_dir / "data_3")]
    trainer = build_trainer(src)
    model = trainer.model
    losses = [float(trainer.train_step()[1]["rmse"]) for _ in range(3)]
    assert trainer.step == 3 and all(np.isfinite(losses))
    assert model.descriptor.get_sel() == [46, 92]


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c["model"]["descriptor"].update(sel=[10, 20]), "sel [10, 20]"),
    (lambda c: c["training"]["training_data"].update(systems=["/nonexistent/sys"]),
     "/nonexistent/sys"),
])
def test_bad_training_inputs_fail_with_one_line(tmp_path, water_dir, write_input, mutate,
                                                message):
    cfg = small_water_input(water_dir)
    mutate(cfg)
    write_input(cfg)
    proc = run_deepft("train", "input.json", cwd=tmp_path, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "model.ckpt.pt").exists()
