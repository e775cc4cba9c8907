"""Multitask training: the example end to end, shared modules, model_prob sampling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from support.cli import read_lcurve, run_deepft
from support.examples import shrunk
from support.tolerances import TIGHT
from support.training import build_trainer


def shrunk_example(data_root: Path, numb_steps: int = 20) -> dict:
    return shrunk("multitask/input.json", data_root, numb_steps)


def test_example_trains_both_branches_end_to_end(tmp_path, multitask_example_run):
    """The shared run of the example (20 steps, the session fixture), then freeze and show."""
    from deepft.checkpoint import load_checkpoint

    run = multitask_example_run
    names, curve = read_lcurve(run / "lcurve.out")
    for branch in ("water", "organic"):
        for metric in ("rmse_e", "rmse_f"):
            assert f"{metric}_val_{branch}" in names and f"{metric}_trn_{branch}" in names
    assert curve[:, 0].tolist() == [1, 10, 20]
    assert np.isfinite(curve).all(), "every branch column is filled at every display step"
    ckpt = load_checkpoint(run / "model.ckpt.pt")
    assert ckpt["branches"] == ["water", "organic"]
    for branch in ("water", "organic"):
        assert f"branches.{branch}.fitting.nets.2.layers.0.matrix" in ckpt["model"]
    out = json.loads((run / "out.json").read_text())
    assert out["model"]["shared_links"] == {
        "shared_descriptor": ["water/descriptor", "organic/descriptor"]}
    # the checkpoint holds one set of descriptor weights seen by both branches
    torch.testing.assert_close(ckpt["model"]["branches.water.descriptor.davg"],
                               ckpt["model"]["branches.organic.descriptor.davg"], rtol=0, atol=0)
    run_deepft("freeze", "-c", str(run / "model.ckpt.pt"), "-o", "multi.dft", cwd=tmp_path)
    shown = run_deepft("show", "multi.dft", "model-branch", "type-map", cwd=tmp_path).stdout
    assert "Available model branches are ['water', 'organic']\n" in shown  # no RANDOM: frozen
    assert "The type_map of branch organic is ['O', 'H', 'C']" in shown


@pytest.fixture
def multitask_trainer(tmp_path, data_root):
    raw = shrunk_example(data_root)
    raw["training"]["model_prob"] = {"water": 1.0, "organic": 3.0}
    for d in raw["model"]["shared_dict"].values():
        if isinstance(d, dict):
            d.update(rcut=3.5, sel="auto")
    return build_trainer(raw)


def test_shared_descriptor_is_one_module_trained_by_every_branch(multitask_trainer, data_root):
    from deepft.data import System

    trainer = multitask_trainer
    water, organic = trainer.model.branches["water"], trainer.model.branches["organic"]
    assert water.descriptor is organic.descriptor
    params = {id(p) for p in trainer.model.parameters()}
    assert len(params) == len(list(trainer.model.parameters()))
    assert water.fitting is not organic.fitting
    system = System(data_root / "organic_nopbc" / "C3H3O4", ["O", "H", "C"])
    coord = torch.as_tensor(system.get_frames(np.arange(2))["coord"])
    atype = torch.as_tensor(system.atype)

    def organic_view():
        nlist = organic.build_nlist(coord, None, atype)
        with torch.no_grad():
            return organic.descriptor(coord, None, atype, nlist).clone()

    desc0 = organic_view()
    fit0 = {k: v.clone() for k, v in organic.fitting.state_dict().items()}
    trainer.branch_prob = np.array([1.0, 0.0])  # a step on water only
    branch, _, _ = trainer.train_step()
    assert branch == "water"
    assert not torch.allclose(organic_view(), desc0, rtol=0, atol=TIGHT), \
        "a water step must change the descriptor the organic branch sees"
    for key, value in organic.fitting.state_dict().items():
        assert torch.equal(value, fit0[key]), f"organic fitting {key} moved on a water step"


def test_model_prob_sets_the_branch_frequencies(multitask_trainer):
    """model_prob {water: 1, organic: 3}: of 20,000 draws of the trainer's branch choice,
    water gets 25 % within 4 sigma (1.2 %); a short real run trains both branches."""
    trainer = multitask_trainer
    np.testing.assert_allclose(trainer.branch_prob, [0.25, 0.75])
    state = trainer.branch_rng.bit_generator.state
    draws = [trainer.choose_branch() for _ in range(20_000)]
    share = draws.count("water") / len(draws)
    assert abs(share - 0.25) < 4 * np.sqrt(0.25 * 0.75 / len(draws)), share
    trainer.branch_rng.bit_generator.state = state
    picks = [trainer.train_step()[0] for _ in range(12)]
    assert picks == draws[:12], "train_step draws its branch with choose_branch"


def test_missing_model_prob_entries_weigh_by_frame_count(data_root):
    from deepft.config import normalize
    from deepft.train.setup import build_tasks, model_probabilities

    raw = shrunk_example(data_root)
    raw["training"]["model_prob"] = {"water": 2.0}
    cfg = normalize(raw)
    tasks = build_tasks(cfg)
    frames = {b: sum(s.nframes for s in t.train_systems) for b, t in tasks.items()}
    total = sum(frames.values())
    probs = model_probabilities(cfg, tasks)
    organic = frames["organic"] / total
    np.testing.assert_allclose([probs["water"], probs["organic"]],
                               [2.0 / (2.0 + organic), organic / (2.0 + organic)])
