"""``--restart`` with an input whose model section differs: the checkpoint's architecture is
trained and a warning lists every difference (as DeePMD-kit does)."""

from __future__ import annotations

import json

from support.cli import run_deepft, small_water_input

from deepft.checkpoint import load_checkpoint


def test_restart_warns_with_the_differences_and_keeps_the_checkpoint_model(tmp_path, water_dir):
    cfg = small_water_input(water_dir, numb_steps=2, disp_freq=1, save_freq=2)
    (tmp_path / "input.json").write_text(json.dumps(cfg))
    run_deepft("train", "input.json", cwd=tmp_path)
    cfg["training"]["numb_steps"] = 3
    cfg["model"]["fitting_net"]["neuron"] = [8]
    cfg["model"]["descriptor"]["rcut"] = 5.0
    (tmp_path / "input.json").write_text(json.dumps(cfg))
    out = run_deepft("train", "input.json", "--restart", "model.ckpt-2.pt", cwd=tmp_path).stdout
    warning = next(ln for ln in out.splitlines() if "the input differs in" in ln)
    assert "--restart model.ckpt-2.pt: the checkpoint's model section is used" in warning
    assert "model/fitting_net/neuron: input [8] vs checkpoint [16, 16]" in warning
    assert "model/descriptor/rcut: input 5.0 vs checkpoint 6.0" in warning
    state = load_checkpoint(tmp_path / "model.ckpt-3.pt")
    assert state["step"] == 3
    assert state["config"]["model"]["fitting_net"]["neuron"] == [16, 16]
    assert state["config"]["model"]["descriptor"]["rcut"] == 6.0


def descriptor_state(ckpt) -> dict:
    state = load_checkpoint(ckpt)["model"]
    return {k: v for k, v in state.items() if k.startswith("descriptor.embeddings")}


def test_init_model_trains_what_the_input_says(tmp_path, water_dir):
    """--init-model starts a new run: the input's ``trainable`` flags decide (the descriptor
    stays put with ``trainable: false``), and out.json records them."""
    import torch

    cfg = small_water_input(water_dir, numb_steps=2, disp_freq=1, save_freq=2)
    (tmp_path / "input.json").write_text(json.dumps(cfg))
    run_deepft("train", "input.json", cwd=tmp_path)
    second = tmp_path / "second"
    second.mkdir()
    cfg["model"]["descriptor"]["trainable"] = False
    (second / "input.json").write_text(json.dumps(cfg))
    run_deepft("train", "input.json", "--init-model", str(tmp_path / "model.ckpt-2.pt"),
               cwd=second)
    before, after = descriptor_state(tmp_path / "model.ckpt-2.pt"), descriptor_state(
        second / "model.ckpt-2.pt")
    assert before and all(torch.equal(before[k], after[k]) for k in before)
    written = json.loads((second / "out.json").read_text())
    assert written["model"]["descriptor"]["trainable"] is False
