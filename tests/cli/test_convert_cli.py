"""`deepft convert-from deepmd` and DeePMD-kit files given straight to deepft's commands.

A DeePMD-kit user's commands work with `dp` replaced by `deepft`: `show`, `freeze` and
`train --finetune` take a DeePMD-kit checkpoint or frozen .pth directly (converted on the fly,
said in the log); `--restart` from one is refused with a clear error (no optimizer state).
"""

from __future__ import annotations

from support.cli import run_deepft, small_water_input, write_json
from support.deepmd_models import CASES
from support.paths import DATA_ROOT

from deepft.infer import DeepPot

MULTITASK = next(c for c in CASES if c.model == "se_e2_a_multitask").checkpoint
SINGLE = CASES[0].checkpoint


def test_convert_command_writes_checkpoint_and_model(tmp_path):
    proc = run_deepft("convert-from", "deepmd", str(MULTITASK), "-o", "multi.pt", cwd=tmp_path)
    assert "read DeePMD-kit checkpoint" in proc.stdout
    run_deepft("convert-from", "deepmd", str(MULTITASK), "-o", "organic.dft",
               "--model-branch", "organic", cwd=tmp_path)
    assert DeepPot(tmp_path / "organic.dft").type_map == ["O", "H", "C"]
    shown = run_deepft("show", "multi.pt", "model-branch", cwd=tmp_path).stdout
    assert "water" in shown and "organic" in shown


def test_show_and_freeze_take_deepmd_files_directly(tmp_path):
    shown = run_deepft("show", str(MULTITASK), "model-branch", "type-map", cwd=tmp_path).stdout
    assert "converted on the fly" in shown
    assert "water" in shown and "organic" in shown
    run_deepft("freeze", "-c", str(CASES[4].frozen), "-o", "dpa1.dft", cwd=tmp_path)
    assert (tmp_path / "dpa1.dft").is_file()


def test_finetune_from_deepmd_multitask_checkpoint(tmp_path):
    cfg = small_water_input(DATA_ROOT / "water", numb_steps=2, disp_freq=1, save_freq=2)
    write_json(cfg, tmp_path / "input.json")
    proc = run_deepft("train", "input.json", "--finetune", str(MULTITASK), "--model-branch",
                      "water", "--use-pretrain-script", cwd=tmp_path)
    assert "converted on the fly" in proc.stdout
    assert (tmp_path / "model.ckpt-2.pt").is_file()


def test_restart_from_deepmd_checkpoint_is_refused(tmp_path):
    cfg = small_water_input(DATA_ROOT / "water", numb_steps=2)
    write_json(cfg, tmp_path / "input.json")
    proc = run_deepft("train", "input.json", "--restart", str(SINGLE), cwd=tmp_path,
                      check=False)
    assert proc.returncode != 0
    assert "optimizer" in proc.stdout + proc.stderr
    assert "--init-model" in proc.stdout + proc.stderr
