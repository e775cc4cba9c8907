"""float32 training end to end: float32 weights, inputs and kernels; accuracy close to float64.

The accuracy cost on the full water example (1000 steps) is measured by hand, not in CI; these
tests use the small nets of support.cli.small_water_input.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from support.cli import run_deepft, small_water_input
from support.tolerances import COARSE
from support.training import build_trainer

from deepft.checkpoint import load_checkpoint


def precision_input(water_dir, precision: str) -> dict:
    cfg = small_water_input(water_dir, numb_steps=20, disp_freq=5, save_freq=20)
    cfg["model"]["descriptor"]["precision"] = precision
    cfg["model"]["fitting_net"]["precision"] = precision
    return cfg


def training_precision_input(water_dir, precision: str) -> dict:
    """float64 model section, precision chosen by ``training/precision`` alone."""
    cfg = precision_input(water_dir, "float64")
    cfg["training"]["precision"] = precision
    return cfg


@pytest.fixture(scope="module")
def runs(tmp_path_factory, water_dir, water_20_steps_run) -> dict:
    """Runs keyed float64, float32 (model precision) and tf32 (training/precision, on a CPU).
    float64 is the shared 20-step water run (the same input: float64 is the default)."""
    out = {"float64": water_20_steps_run}
    inputs = {"float32": precision_input(water_dir, "float32"),
              "tf32": training_precision_input(water_dir, "tf32")}
    for name, cfg in inputs.items():
        folder = tmp_path_factory.mktemp(name)
        (folder / "input.json").write_text(json.dumps(cfg))
        proc = run_deepft("train", "input.json", cwd=folder, env_extra={"DEEPFT_DEVICE": "cpu"})
        (folder / "console.txt").write_text(proc.stdout + proc.stderr)
        out[name] = folder
    return out


@pytest.mark.slow
def test_training_precision_overrides_the_model_section(runs):
    """training/precision tf32 on a CPU: a float64 model section trains exactly as float32,
    out.json records the effective precision, and a warning says no TensorFloat-32 ran."""
    console = (runs["tf32"] / "console.txt").read_text()
    assert "TensorFloat-32 exists only on CUDA GPUs" in console, console
    written = json.loads((runs["tf32"] / "out.json").read_text())
    assert written["model"]["descriptor"]["precision"] == "float32"
    assert written["model"]["fitting_net"]["precision"] == "float32"
    assert written["training"]["precision"] == "tf32"
    tf32 = load_checkpoint(runs["tf32"] / "model.ckpt-20.pt")["model"]
    f32 = load_checkpoint(runs["float32"] / "model.ckpt-20.pt")["model"]
    for key, value in f32.items():
        assert torch.equal(tf32[key], value), key


@pytest.mark.slow
def test_training_precision_conflicting_with_restart_checkpoint(runs, tmp_path):
    """A float64 checkpoint continued with training/precision float32: an error naming both,
    no output written."""
    cfg = json.loads((runs["float64"] / "input.json").read_text())
    cfg["training"]["precision"] = "float32"
    (tmp_path / "input.json").write_text(json.dumps(cfg))
    ckpt = runs["float64"] / "model.ckpt-20.pt"
    proc = run_deepft("train", "input.json", "--restart", str(ckpt), cwd=tmp_path, check=False,
                      env_extra={"DEEPFT_DEVICE": "cpu"})
    assert proc.returncode != 0
    message = proc.stdout + proc.stderr
    assert (f"training/precision is float32 but in the checkpoint {ckpt} "
            "model/descriptor/precision is float64") in message, message
    assert "Traceback" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.json"]


@pytest.mark.slow
def test_float32_checkpoint_holds_float32_tensors(runs):
    state = load_checkpoint(runs["float32"] / "model.ckpt-20.pt")["model"]
    dtypes = {k: v.dtype for k, v in state.items() if v.is_floating_point()}
    # the per-element energy bias stays float64 (as DeePMD-kit's out_bias): energies are
    # ~ -150 eV per atom and a float32 sum over a frame would lose meV
    assert dtypes.pop("fitting.bias_atom_e") == torch.float64
    assert set(dtypes.values()) == {torch.float32}, dtypes
    assert all(torch.isfinite(v).all() for v in state.values())


@pytest.mark.slow
def test_float32_learns_like_float64(runs):
    """Same seeds and frames: 20 steps in float32 follow the float64 curve to ~1e-2."""
    curves = {p: np.loadtxt(runs[p] / "lcurve.out", ndmin=2) for p in ("float64", "float32")}
    f64, f32 = curves["float64"], curves["float32"]
    assert f32[-1, 1] < 0.8 * f32[0, 1], f"float32 validation loss did not drop: {f32[:, 1]}"
    np.testing.assert_allclose(f32, f64, rtol=2e-2, err_msg="float32 curve left float64's")
    w64 = load_checkpoint(runs["float64"] / "model.ckpt-20.pt")["model"]
    w32 = load_checkpoint(runs["float32"] / "model.ckpt-20.pt")["model"]
    for key, value in w64.items():
        torch.testing.assert_close(w32[key].double(), value, rtol=COARSE, atol=COARSE,
                                   msg=lambda m, key=key: f"{key}: {m}")


def test_float32_training_runs_float32_kernels(water_dir):
    """Coordinates reach the model as float32, the environment matrix comes out of the float32
    kernel (float32), and the embedding/fitting nets see float32."""
    trainer = build_trainer(precision_input(water_dir, "float32"), skip_stat=True,
                            device=torch.device("cpu"))
    model = trainer.model
    seen = {}

    def record(name):
        def hook(module, args):
            seen.setdefault(name, args[0].dtype)  # returns None: inputs unchanged
        return hook

    hooks = [model.register_forward_pre_hook(record("coord")),
             model.descriptor.embeddings[0].register_forward_pre_hook(record("env_mat")),
             model.fitting.register_forward_pre_hook(record("descriptor"))]
    try:
        _, metrics, _ = trainer.train_step()
    finally:
        for h in hooks:
            h.remove()
    assert trainer.dtype == torch.float32
    assert seen == {"coord": torch.float32, "env_mat": torch.float32,
                    "descriptor": torch.float32}, seen
    assert math.isfinite(float(metrics["rmse"]))
    # the C++ kernel itself answers in float32 for float32 input
    from deepft import _core

    rij = np.random.default_rng(0).normal(size=(2, 3, 3)).astype(np.float32)
    out = _core.env_mat_se_a(rij, np.ones((2, 3), bool), np.zeros(2, np.int32),
                             np.zeros((1, 4), np.float32), np.ones((1, 4), np.float32), 6.0, 0.5)
    assert np.asarray(out).dtype == np.float32
