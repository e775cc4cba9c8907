"""float32 training end to end: float32 weights, inputs and kernels; accuracy close to float64.

The accuracy cost on the full water example (1000 steps) is measured by hand, not in CI; these
tests use the small nets of cli_helpers.small_water_input.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from cli_helpers import run_deepft, small_water_input

from deepft.train.checkpoint import load_checkpoint


def precision_input(water_dir, precision: str) -> dict:
    cfg = small_water_input(water_dir, numb_steps=20, disp_freq=5, save_freq=20)
    cfg["model"]["descriptor"]["precision"] = precision
    cfg["model"]["fitting_net"]["precision"] = precision
    return cfg


@pytest.fixture(scope="module")
def runs(tmp_path_factory, water_dir) -> dict:
    out = {}
    for precision in ("float64", "float32"):
        folder = tmp_path_factory.mktemp(precision)
        (folder / "input.json").write_text(json.dumps(precision_input(water_dir, precision)))
        run_deepft("train", "input.json", cwd=folder, env_extra={"DEEPFT_DEVICE": "cpu"})
        out[precision] = folder
    return out


def test_float32_checkpoint_holds_float32_tensors(runs):
    state = load_checkpoint(runs["float32"] / "model.ckpt-20.pt")["model"]
    dtypes = {k: v.dtype for k, v in state.items() if v.is_floating_point()}
    # the per-element energy bias stays float64 (as DeePMD-kit's out_bias): energies are
    # ~ -150 eV per atom and a float32 sum over a frame would lose meV
    assert dtypes.pop("fitting.bias_atom_e") == torch.float64
    assert set(dtypes.values()) == {torch.float32}, dtypes
    assert all(torch.isfinite(v).all() for v in state.values())


def test_float32_learns_like_float64(runs):
    """Same seeds and frames: 20 steps in float32 follow the float64 curve to ~1e-2."""
    curves = {p: np.loadtxt(f / "lcurve.out", ndmin=2) for p, f in runs.items()}
    f64, f32 = curves["float64"], curves["float32"]
    assert f32[-1, 1] < 0.8 * f32[0, 1], f"float32 validation loss did not drop: {f32[:, 1]}"
    np.testing.assert_allclose(f32, f64, rtol=2e-2, err_msg="float32 curve left float64's")
    w64 = load_checkpoint(runs["float64"] / "model.ckpt-20.pt")["model"]
    w32 = load_checkpoint(runs["float32"] / "model.ckpt-20.pt")["model"]
    for key, value in w64.items():
        torch.testing.assert_close(w32[key].double(), value, rtol=1e-3, atol=1e-3,
                                   msg=lambda m, key=key: f"{key}: {m}")


def test_float32_training_runs_float32_kernels(water_dir):
    """Coordinates reach the model as float32, the environment matrix comes out of the float32
    kernel (float32), and the embedding/fitting nets see float32."""
    from deepft.config import normalize
    from deepft.model import build_from_config
    from deepft.train.setup import build_tasks, model_probabilities, resolve_all_sel
    from deepft.train.statistics import compute_statistics
    from deepft.train.trainer import Trainer

    cfg = normalize(precision_input(water_dir, "float32"))
    tasks = build_tasks(cfg)
    resolve_all_sel(cfg, tasks, skip_stat=True)
    model = build_from_config(cfg)
    compute_statistics(model, cfg, tasks)
    trainer = Trainer(cfg, model, tasks, model_probabilities(cfg, tasks),
                      device=torch.device("cpu"))
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
    assert np.isfinite(metrics["rmse"])
    # the C++ kernel itself answers in float32 for float32 input
    from deepft import _core

    rij = np.random.default_rng(0).normal(size=(2, 3, 3)).astype(np.float32)
    out = _core.env_mat_se_a(rij, np.ones((2, 3), bool), np.zeros(2, np.int32),
                             np.zeros((1, 4), np.float32), np.ones((1, 4), np.float32), 6.0, 0.5)
    assert np.asarray(out).dtype == np.float32
