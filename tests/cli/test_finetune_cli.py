"""``deepft train --finetune`` end to end on the examples: logs, methods, restart, errors
(missing/frozen/foreign pretrained files: tests/unit/finetune/test_ft_plans.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support.cli import copy_run, run_deepft, write_json
from support.examples import shrunk
from support.tolerances import STRICT


@pytest.fixture(scope="module")
def pretrained(multitask_example_run):
    """The multitask example (water + organic), shrunk, 20 steps (shared by the CLI tests)."""
    return multitask_example_run / "model.ckpt.pt"


def finetune_input(tmp_path, data_root, numb_steps=6, **finetune):
    cfg = shrunk("finetune/input.json", data_root, numb_steps=numb_steps, disp_freq=3)
    if finetune:
        cfg["training"]["finetune"] = finetune
    return write_json(cfg, tmp_path / "input.json")


@pytest.mark.slow
def test_example_finetune_logs_the_bias_change_and_freezes(tmp_path, data_root, pretrained):
    from deepft.infer import DeepPot

    finetune_input(tmp_path, data_root)
    proc = run_deepft("train", "input.json", "--finetune", str(pretrained), "--model-branch",
                      "organic", cwd=tmp_path)
    out = proc.stdout
    assert "branch Default inherits pretrained branch organic" in out
    assert "old bias (eV)" in out and "new bias (eV)" in out
    assert "RMSE of energy per atom after linear regression is:" in out
    assert "Change output bias of ['O', 'H', 'C'] from [" in out
    assert "method full" in out
    curve = np.loadtxt(tmp_path / "lcurve.out", ndmin=2)
    assert curve[:, 0].tolist() == [1, 3, 6]
    out_json = json.loads((tmp_path / "out.json").read_text())
    assert out_json["model"]["_finetune"]["branches"] == {"Default": "organic"}
    run_deepft("freeze", "-o", "organic.dft", cwd=tmp_path)
    assert DeepPot(tmp_path / "organic.dft").type_map == ["O", "H", "C"]


@pytest.mark.slow
def test_lora_finetune_restarts_bit_for_bit(tmp_path, data_root, pretrained):
    """6 LoRA steps in one go == 3 steps + --restart (adapters, frozen base and optimizer):
    a copy of the run, cut back to its step-3 checkpoint, redoes steps 4..6."""
    one = tmp_path / "one"
    one.mkdir()
    cfg = finetune_input(one, data_root, method="lora", rank=2, alpha=2.0)
    data = json.loads(cfg.read_text())
    data["training"]["save_freq"] = 3
    cfg.write_text(json.dumps(data))
    run_deepft("train", "input.json", "--finetune", str(pretrained), "--model-branch",
               "organic", cwd=one)
    two = copy_run(one, tmp_path / "two", names=["input.json", "model.ckpt-3.pt", "lcurve.out"])
    proc = run_deepft("train", "input.json", "--restart", "model.ckpt-3.pt", cwd=two)
    assert "restarted from step 3" in proc.stdout
    from deepft.checkpoint import load_checkpoint

    a, b = load_checkpoint(one / "model.ckpt-6.pt"), load_checkpoint(two / "model.ckpt-6.pt")
    assert any(k.endswith("lora_a") for k in a["model"])
    for key, value in a["model"].items():
        torch.testing.assert_close(b["model"][key], value, rtol=0, atol=STRICT, msg=key)
    tested = run_deepft("test", "-m", "model.ckpt-6.pt", "-s",
                        str(data_root / "organic_nopbc" / "C4H3O1"), "-n", "2", cwd=two)
    assert "Force" in tested.stdout and "RMSE" in tested.stdout


@pytest.mark.slow
def test_multitask_example_finetune_with_replay(tmp_path, data_root, pretrained):
    cfg = shrunk("finetune/input_multitask.json", data_root, numb_steps=6, disp_freq=3)
    write_json(cfg, tmp_path / "input.json")
    proc = run_deepft("train", "input.json", "--finetune", str(pretrained), cwd=tmp_path)
    assert "branch organic_ft inherits pretrained branch organic" in proc.stdout
    assert "branch water resumes pretrained branch water" in proc.stdout
    assert "branch water resumes; energy bias unchanged" in proc.stdout
    header = (tmp_path / "lcurve.out").read_text().splitlines()[0]
    assert "rmse_f_val_organic_ft" in header and "rmse_f_val_water" in header


@pytest.mark.parametrize("case", ["unknown_branch", "mismatch"])
def test_finetune_errors_name_the_fix(tmp_path, data_root, pretrained, case):
    finetune_input(tmp_path, data_root)
    args = ["train", "input.json", "--finetune", str(pretrained), "--model-branch", "organic"]
    if case == "unknown_branch":
        args[-1] = "orgnic"
    else:
        cfg = json.loads((tmp_path / "input.json").read_text())
        cfg["model"]["descriptor"]["axis_neuron"] = 2
        cfg["model"]["fitting_net"]["resnet_dt"] = False
        (tmp_path / "input.json").write_text(json.dumps(cfg))
    proc = run_deepft(*args, cwd=tmp_path, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    err = proc.stderr
    assert "Traceback" not in err
    expected = {
        "unknown_branch": ["no branch 'orgnic'", "['water', 'organic', 'RANDOM']"],
        "mismatch": ["model/descriptor/axis_neuron: input 2 vs pretrained 4",
                     "model/fitting_net/resnet_dt", "--use-pretrain-script"],
    }[case]
    for text in expected:
        assert text in err, err
