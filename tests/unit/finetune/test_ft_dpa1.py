"""Every fine-tuning path on a DPA-1 model: branch choice, RANDOM, pretrain script, the methods
(full, heads, lora, new_head), a new element, a type map that drops one, bias refit, and the
checkpoint round trip (rebuild, restart) — the se_e2_a tests' questions asked of DPA-1."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from support.finetune_inputs import finetune, multitask_input, organic_systems, single_input
from support.tolerances import STRICT
from support.training import load_model, pretrain, state_of, trainer_for

from deepft.checkpoint import build_trained_model
from deepft.model import merge_lora

DPA1 = {"type": "dpa1", "sel": "auto", "rcut": 4.0, "rcut_smth": 0.5, "neuron": [4, 8],
        "axis_neuron": 4, "tebd_dim": 4, "attn": 8, "attn_layer": 1, "seed": 1}
TEBD = "descriptor.type_embedding.layers.0.matrix"
STEPS = 3


@pytest.fixture(scope="module")
def dpa1_multitask_ckpt(tmp_path_factory, water_dir, organic_dir):
    """water + organic over one shared DPA-1 descriptor (type embedding included), [O, H, C]."""
    work = tmp_path_factory.mktemp("dpa1_mt")
    return pretrain(multitask_input(work, water_dir, organic_dir, numb_steps=4,
                                    model_prob={"water": 1.0, "organic": 2.0},
                                    descriptor=DPA1))


@pytest.fixture(scope="module")
def dpa1_water_ckpt(tmp_path_factory, water_dir):
    work = tmp_path_factory.mktemp("dpa1_water")
    return pretrain(single_input(work, ["O", "H"], [water_dir / "data_0"], numb_steps=4,
                                 batch_size=1, descriptor=DPA1))


def organic_input(tmp_path, organic_dir, method=None, type_map=("O", "H", "C"), **kw):
    extra = {"finetune": method} if method else {}
    return single_input(tmp_path, list(type_map), organic_systems(organic_dir),
                        numb_steps=STEPS, descriptor=DPA1, **extra, **kw)


def train(model, cfg, tasks, report, steps=STEPS):
    trainer = trainer_for(model, cfg, tasks)
    report.check_trainer(trainer)  # the optimizer holds exactly the trainable parameters
    for _ in range(steps):
        trainer.train_step()
    return trainer


def organic_frames(organic_dir, type_map=("O", "H", "C")):
    from deepft.data import System

    system = System(organic_systems(organic_dir)[1], list(type_map))
    data = system.get_frames(np.arange(3))
    return torch.as_tensor(data["coord"]), torch.as_tensor(system.atype)


def test_shared_descriptor_is_one_object_with_one_type_embedding(dpa1_multitask_ckpt):
    model = load_model(dpa1_multitask_ckpt)
    water, organic = model.branches["water"], model.branches["organic"]
    assert water.descriptor is organic.descriptor
    assert water.fitting is not organic.fitting and organic.fitting.mixed_types
    assert water.descriptor.type_embedding.layers[0].matrix.shape == (3, 4)


def test_named_branch_and_random_branch(tmp_path, organic_dir, dpa1_multitask_ckpt):
    pre = load_model(dpa1_multitask_ckpt).branches["organic"]
    model, report, _, _ = finetune(organic_input(tmp_path, organic_dir), dpa1_multitask_ckpt,
                                   model_branch="organic")
    assert report.plans["Default"].source == "organic"
    for part in ("descriptor", "fitting"):
        for key, value in getattr(pre, part).state_dict().items():
            if key != "bias_atom_e":  # refit on the fine-tuning data
                assert torch.equal(getattr(model, part).state_dict()[key], value), key
    fresh, report, _, _ = finetune(organic_input(tmp_path, organic_dir, fit_seed=9),
                                   dpa1_multitask_ckpt, model_branch="RANDOM")
    assert report.plans["Default"].source is None
    assert torch.equal(fresh.descriptor.state_dict()[TEBD[len("descriptor."):]],
                       pre.descriptor.state_dict()[TEBD[len("descriptor."):]])
    assert not torch.equal(fresh.fitting.nets[0].layers[0].matrix,
                           pre.fitting.nets[0].layers[0].matrix)


def test_use_pretrain_script_takes_the_dpa1_section(tmp_path, organic_dir, dpa1_multitask_ckpt):
    raw = organic_input(tmp_path, organic_dir)
    raw["model"]["descriptor"] = {"type": "se_e2_a", "sel": "auto", "rcut": 3.0}  # replaced
    _, _, cfg, _ = finetune(raw, dpa1_multitask_ckpt, model_branch="water",
                            use_pretrain_script=True)
    desc = cfg["model"]["descriptor"]
    assert desc["type"] == "dpa1" and desc["attn"] == 8 and desc["rcut"] == 4.0


@pytest.mark.parametrize("method", [
    {"method": "full"},
    {"method": "heads", "trainable_last_layers": 1},
    {"method": "lora", "rank": 2, "alpha": 2.0},
    {"method": "new_head"},
])
def test_new_element_trains_its_type_embedding_under_every_method(tmp_path, organic_dir,
                                                                   dpa1_water_ckpt, method):
    """Water [O, H] -> [O, H, C]: C's type-embedding row starts random, so the matrix trains
    whatever the method freezes; old predictions are untouched before training apart from
    the refit bias; a checkpoint's config rebuilds the same requires_grad set."""
    raw = organic_input(tmp_path, organic_dir, method)
    model, report, cfg, tasks = finetune(raw, dpa1_water_ckpt)
    assert cfg["model"]["_finetune"]["new_types"] == {"Default": [2]}
    params = dict(model.named_parameters())
    assert params[TEBD].requires_grad, method
    before = state_of(model)
    train(model, cfg, tasks, report)
    after = state_of(model)
    assert not torch.equal(before[TEBD][2], after[TEBD][2]), f"{method}: C's row did not train"
    if method["method"] in ("heads", "lora", "new_head"):
        key = "descriptor.embedding.layers.1.matrix"
        assert torch.equal(before[key], after[key]), f"{method}: {key} should be frozen"
    rebuilt = build_trained_model(copy.deepcopy(cfg))
    assert [(n, p.requires_grad) for n, p in rebuilt.named_parameters()] == \
        [(n, p.requires_grad) for n, p in model.named_parameters()]
    if method["method"] == "lora":
        coord, atype = organic_frames(organic_dir)
        model.eval()
        want = model(coord, None, atype)
        merged = copy.deepcopy(model)
        assert merge_lora(merged)
        got = merged(coord, None, atype)
        torch.testing.assert_close(got["energy"], want["energy"], rtol=0, atol=STRICT)
        torch.testing.assert_close(got["force"], want["force"], rtol=0, atol=STRICT)


def test_slimmer_type_map_keeps_the_known_elements(tmp_path, water_dir, dpa1_multitask_ckpt):
    """[O, H, C] pretrained, fine-tuned on water with [H, O]: C is dropped, O and H keep their
    rows; before the bias refit the water energies equal the pretrained water branch's."""
    raw = single_input(tmp_path, ["H", "O"], [water_dir / "data_0"], numb_steps=STEPS,
                       batch_size=1, descriptor=DPA1, finetune={"method": "full"})
    model, _, _, _ = finetune(raw, dpa1_multitask_ckpt, model_branch="water")
    pre = load_model(dpa1_multitask_ckpt).branches["water"]
    from deepft.data import System

    system = System(water_dir / "data_0", ["H", "O"])
    coord = torch.as_tensor(system.get_frames(np.arange(2))["coord"])
    box = torch.as_tensor(system.get_frames(np.arange(2))["box"])
    model.eval()
    got = model(coord, box, torch.as_tensor(system.atype))
    swap = torch.as_tensor([1, 0])  # H, O -> index in [O, H, C]
    want = pre.eval()(coord, box, swap[torch.as_tensor(system.atype)])
    bias_shift = (model.fitting.bias_atom_e - pre.fitting.bias_atom_e[swap])
    counts = torch.bincount(torch.as_tensor(system.atype), minlength=2).to(torch.float64)
    torch.testing.assert_close(got["energy"] - (bias_shift * counts).sum(), want["energy"],
                               rtol=0, atol=1e-10)
    torch.testing.assert_close(got["force"], want["force"], rtol=0, atol=1e-10)
