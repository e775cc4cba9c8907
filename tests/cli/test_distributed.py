"""Data-parallel training with torchrun (gloo, 2 CPU processes) against one process.

The property under test (deepft.train.distributed): N ranks with batch_size b train on exactly
the frames of one process with batch_size N*b (same global batch, sliced by rank, loss = mean over
the global batch), so the weights agree to rounding in float64.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support.cli import copy_run, run_deepft, run_torchrun, small_water_input
from support.paths import REPO
from support.tolerances import STRICT

from deepft.checkpoint import load_checkpoint
from deepft.train.distributed import DistInfo


def assert_same_weights(a: dict, b: dict, what: str, atol: float = STRICT) -> None:
    assert a.keys() == b.keys(), what
    for key, value in a.items():
        torch.testing.assert_close(b[key], value, rtol=0, atol=atol,
                                   msg=lambda m, key=key: f"{what}: {key}: {m}")


def lcurve(path) -> np.ndarray:
    return np.loadtxt(path, ndmin=2)


def water_input(water_dir, batch_size: int, **training) -> dict:
    cfg = small_water_input(water_dir, numb_steps=20, disp_freq=5, save_freq=10, **training)
    cfg["training"]["training_data"]["batch_size"] = batch_size
    return cfg


@pytest.fixture(scope="module")
def water_runs(tmp_path_factory, water_dir):
    """One process with batch 2 and two ranks with batch 1, 20 steps each (shared by tests)."""
    root = tmp_path_factory.mktemp("ddp")
    one, two = root / "one", root / "two"
    for folder, bs in ((one, 2), (two, 1)):
        folder.mkdir()
        (folder / "input.json").write_text(json.dumps(water_input(water_dir, bs)))
    run_deepft("train", "input.json", cwd=one, env_extra={"DEEPFT_DEVICE": "cpu"})
    proc = run_torchrun("train", "input.json", cwd=two)
    return one, two, proc


@pytest.mark.slow
def test_two_ranks_batch_b_equal_one_process_batch_2b(water_runs):
    one, two, proc = water_runs
    a = load_checkpoint(one / "model.ckpt-20.pt")
    b = load_checkpoint(two / "model.ckpt-20.pt")
    assert b["world_size"] == 2 and len(b["ranks"]) == 2 and a["world_size"] == 1
    assert_same_weights(a["model"], b["model"], "2 ranks x 1 vs 1 x 2")
    for state in ("exp_avg", "exp_avg_sq"):
        for k, v in a["optimizer"]["state"].items():
            torch.testing.assert_close(b["optimizer"]["state"][k][state], v[state], rtol=0,
                                       atol=STRICT, msg=f"Adam {state} of parameter {k}")
    # same lcurve: validation on rank 0, training metrics reduced over the two slices
    np.testing.assert_allclose(lcurve(two / "lcurve.out"), lcurve(one / "lcurve.out"),
                               rtol=2e-3, err_msg="lcurve of 2 ranks differs from 1 process")
    # rank 0 alone logs progress and writes outputs
    assert proc.stdout.count("saved checkpoint model.ckpt-20.pt") == 1, proc.stdout
    assert "2 ranks, backend gloo" in proc.stdout
    assert sorted(p.name for p in two.iterdir() if not p.name.startswith(".")) == [
        "input.json", "lcurve.out", "model.ckpt-10.pt", "model.ckpt-20.pt", "model.ckpt.pt",
        "out.json"]


@pytest.mark.slow
def test_distributed_run_resumes_exactly(water_runs, tmp_path):
    """Kill the tail of the 2-rank run, resume from its step-10 checkpoint with 2 ranks."""
    _, two, _ = water_runs
    work = copy_run(two, tmp_path / "resume", names=["input.json", "model.ckpt-10.pt",
                                                     "lcurve.out"])
    ref = load_checkpoint(two / "model.ckpt-10.pt")
    assert ref["ranks"][0]["train"] == ref["ranks"][1]["train"]  # one global frame sequence
    proc = run_torchrun("train", "input.json", "--restart", "model.ckpt-10.pt", cwd=work)
    assert "restarted from step 10" in proc.stdout
    assert_same_weights(load_checkpoint(two / "model.ckpt-20.pt")["model"],
                        load_checkpoint(work / "model.ckpt-20.pt")["model"], "resumed 2-rank run")
    # the lcurve copied at step 20 was cut back to step 10, then continued: no repeated step
    steps = lcurve(work / "lcurve.out")[:, 0].tolist()
    assert steps == [1, 5, 10, 15, 20], steps
    np.testing.assert_allclose(lcurve(work / "lcurve.out"), lcurve(two / "lcurve.out"),
                               rtol=1e-6)


@pytest.mark.slow
def test_error_on_rank0_is_printed_once(tmp_path, water_dir):
    """A missing restart checkpoint is found by rank 0 (which alone reads it); every rank stops
    with its exit code, the message appears once, with no deepft traceback."""
    (tmp_path / "input.json").write_text(json.dumps(water_input(water_dir, 1)))
    proc = run_torchrun("train", "input.json", "--restart", "absent.pt", cwd=tmp_path,
                        check=False)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if "deepft train: error:" in line]
    assert len(errors) == 1 and "absent.pt" in errors[0], proc.stderr
    # torchrun's own report of the failed child follows; no deepft frame is printed
    assert f'File "{REPO / "deepft"}' not in proc.stderr, proc.stderr


def multitask_input(water_dir, organic_dir, scale: int) -> dict:
    """Water + organic, shared small descriptor; batch sizes multiplied by ``scale``."""
    loss = {"type": "ener", "start_pref_e": 0.02, "limit_pref_e": 1, "start_pref_f": 1000,
            "limit_pref_f": 1}
    fit = {"neuron": [8, 8], "resnet_dt": True, "seed": 1}
    return {
        "model": {
            "shared_dict": {
                "tm": ["O", "H", "C"],
                "desc": {"type": "se_e2_a", "sel": [46, 92, 8], "rcut_smth": 0.5, "rcut": 6.0,
                         "neuron": [4, 8], "axis_neuron": 4, "seed": 1},
            },
            "model_dict": {
                "water": {"type_map": "tm", "descriptor": "desc", "fitting_net": dict(fit)},
                "organic": {"type_map": "tm", "descriptor": "desc",
                            "fitting_net": dict(fit, seed=2)},
            },
            "data_stat_nbatch": 1,
        },
        "learning_rate": {"type": "exp", "decay_steps": 5, "start_lr": 1e-3, "stop_lr": 1e-4},
        "loss_dict": {"water": loss, "organic": loss},
        "training": {
            "model_prob": {"water": 1.0, "organic": 2.0},
            "data_dict": {
                "water": {"training_data": {"systems": [str(water_dir / "data_0")],
                                            "batch_size": 1 * scale}},
                "organic": {"training_data": {"systems": [str(organic_dir / "C3H3O4"),
                                                          str(organic_dir / "C4H3O1")],
                                              "batch_size": 2 * scale}},
            },
            "numb_steps": 12, "seed": 3, "disp_freq": 6, "save_freq": 12,
        },
    }


@pytest.mark.slow
def test_multitask_two_ranks_follow_the_same_branches(tmp_path, water_dir, organic_dir):
    """Shared seed: both ranks train the same branch each step; unused branch params are fine."""
    one, two = tmp_path / "one", tmp_path / "two"
    for folder, scale in ((one, 2), (two, 1)):
        folder.mkdir()
        (folder / "input.json").write_text(
            json.dumps(multitask_input(water_dir, organic_dir, scale)))
    run_deepft("train", "input.json", cwd=one, env_extra={"DEEPFT_DEVICE": "cpu"})
    run_torchrun("train", "input.json", cwd=two)
    a = load_checkpoint(one / "model.ckpt-12.pt")
    b = load_checkpoint(two / "model.ckpt-12.pt")
    assert a["rng"]["branch"] == b["rng"]["branch"]
    assert_same_weights(a["model"], b["model"], "multitask 2 ranks x b vs 1 x 2b")
    # both branches trained (12 steps, p = 1/3, 2/3): each fitting moved from its start
    assert not torch.equal(a["model"]["branches.water.fitting.nets.0.layers.0.matrix"],
                           a["model"]["branches.organic.fitting.nets.0.layers.0.matrix"])


@pytest.mark.parametrize("nframes, world", [(4, 2), (3, 2), (1, 2), (5, 3), (7, 4)])
def test_rank_slices_partition_the_global_batch(nframes, world):
    """Slices cover the batch once, and sum_r w_r * mean_r / N is the global mean."""
    rng = np.random.default_rng(nframes * 10 + world)
    batch = {"coord": rng.normal(size=(nframes, 3, 3)), "energy": rng.normal(size=nframes),
             "box": None, "frame_index": np.arange(nframes) + 100, "atype": np.zeros(3, int),
             "natoms": 3}
    seen, total = [], 0.0
    for rank in range(world):
        local, w = DistInfo(rank=rank, world_size=world).local_slice(batch)
        assert local["atype"] is batch["atype"] and local["coord"].shape[0] >= 1
        if w > 0:
            seen += local["frame_index"].tolist()
        total += w * np.mean(local["energy"] ** 2) / world
    assert seen == batch["frame_index"].tolist()
    assert total == pytest.approx(np.mean(batch["energy"] ** 2), rel=1e-14)
