"""Fine-tuning methods: heads, lora, new_head — what trains, what stays, rebuild and freeze."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from support.finetune_inputs import finetune, organic_systems, single_input
from support.tolerances import STRICT
from support.training import state_of, trainer_for

from deepft.checkpoint import build_trained_model
from deepft.model import merge_lora, structure
from deepft.model.fitting import new_head_for
from deepft.model.network import derive_seed

STEPS = 3


def organic_run(tmp_path, organic_dir, ckpt, method: dict, **kw):
    raw = single_input(tmp_path, ["O", "H", "C"], organic_systems(organic_dir),
                       numb_steps=STEPS, finetune=method)
    return finetune(raw, ckpt, model_branch="organic", **kw)


def train(model, cfg, tasks, report, steps=STEPS):
    trainer = trainer_for(model, cfg, tasks)
    report.check_trainer(trainer)  # checks the optimizer holds exactly the trainable parameters
    for _ in range(steps):
        trainer.train_step()
    return trainer


def frames(organic_dir, n=3):
    from deepft.data import System

    sys = System(organic_systems(organic_dir)[1], ["O", "H", "C"])
    data = sys.get_frames(np.arange(n))
    return torch.as_tensor(data["coord"]), torch.as_tensor(sys.atype)


def predict(model, coord, atype):
    model.eval()
    out = model(coord, None, atype)
    return out["energy"].detach(), out["force"].detach()


def changed(before: dict, after: dict, key: str) -> bool:
    return not torch.equal(before[key], after[key])


def test_heads_freezes_the_descriptor(tmp_path, organic_dir, multitask_ckpt):
    model, report, cfg, tasks = organic_run(tmp_path, organic_dir, multitask_ckpt,
                                            {"method": "heads"})
    before = state_of(model)
    assert not any(p.requires_grad for p in model.descriptor.parameters())
    train(model, cfg, tasks, report)
    after = state_of(model)
    desc = [k for k in before if k.startswith("descriptor.")]
    assert desc and not any(changed(before, after, k) for k in desc), "descriptor moved"
    assert changed(before, after, "fitting.nets.0.layers.0.matrix")


def test_heads_last_layers_only(tmp_path, organic_dir, multitask_ckpt):
    model, report, cfg, tasks = organic_run(
        tmp_path, organic_dir, multitask_ckpt, {"method": "heads", "trainable_last_layers": 1})
    before = state_of(model)
    train(model, cfg, tasks, report)
    after = state_of(model)
    nlayers = len(model.fitting.nets[0].layers)
    for key in before:
        if not key.startswith("fitting.nets."):
            assert not changed(before, after, key), key
            continue
        layer = int(key.split(".")[4])
        net = int(key.split(".")[2])
        if layer < nlayers - 1:
            assert not changed(before, after, key), f"{key} should be frozen"
        elif net == 0 and key.endswith("matrix"):
            assert changed(before, after, key), f"{key} should train"


def test_lora_trains_adapters_only_and_merges_exactly(tmp_path, organic_dir, multitask_ckpt):
    model, report, cfg, tasks = organic_run(
        tmp_path, organic_dir, multitask_ckpt,
        {"method": "lora", "rank": 2, "alpha": 4.0, "targets": ["descriptor", "fitting"]})
    coord, atype = frames(organic_dir)
    e0, f0 = predict(model, coord, atype)
    before = state_of(model)
    base = [k for k in before if not k.split(".")[-1].startswith("lora_")]
    adapters = [k for k in before if k.endswith("lora_b")]
    assert adapters and all(not before[k].any() for k in adapters), "B starts at zero"
    train(model, cfg, tasks, report)
    after = state_of(model)
    assert not any(changed(before, after, k) for k in base), "a base weight moved"
    assert any(after[k].abs().max() > 0 for k in adapters), "no adapter trained"
    e1, f1 = predict(model, coord, atype)
    assert not torch.allclose(e0, e1, rtol=0, atol=1e-6), "training had no effect"
    merged = copy.deepcopy(model)
    paths = merge_lora(merged)
    assert paths and not any("lora_" in k for k in merged.state_dict())
    e2, f2 = predict(merged, coord, atype)
    torch.testing.assert_close(e2, e1, rtol=0, atol=STRICT)
    torch.testing.assert_close(f2, f1, rtol=0, atol=STRICT)


@pytest.mark.parametrize("scale", [0.0, 0.1])
def test_new_head_starts_from_the_inherited_model(tmp_path, organic_dir, multitask_ckpt, scale):
    full, _, _, _ = organic_run(tmp_path, organic_dir, multitask_ckpt, {"method": "full"})
    model, _, _, _ = organic_run(tmp_path, organic_dir, multitask_ckpt,
                                 {"method": "new_head", "scale_factor": scale})
    coord, atype = frames(organic_dir)
    e_full, f_full = predict(full, coord, atype)
    e_new, f_new = predict(model, coord, atype)
    head = model.fitting.new_head
    with torch.no_grad():
        nlist = model.build_nlist(coord, None, atype)
        desc = model.descriptor(coord, None, atype, nlist)
        at = atype.reshape(1, -1).expand(coord.shape[0], -1)
        head_e = head(desc, at).sum(-1)
    dbias = (model.fitting.bias_atom_e - full.fitting.bias_atom_e)[atype].sum()
    torch.testing.assert_close(e_new, e_full + head_e + dbias, rtol=0, atol=1e-9)
    if scale == 0.0:
        torch.testing.assert_close(e_new, e_full, rtol=0, atol=1e-9)
        torch.testing.assert_close(f_new, f_full, rtol=0, atol=STRICT)
    else:  # the head's output layer is the fresh initialization times scale_factor
        ref = new_head_for(model.fitting, 1.0, None)
        seeded = new_head_for(model.fitting, 1.0, derive_seed(7, "new_head", "Default"))
        last = head.nets[0].layers[-1].matrix
        torch.testing.assert_close(last, scale * seeded.nets[0].layers[-1].matrix, rtol=1e-15,
                                   atol=0)
        assert not torch.equal(seeded.nets[0].layers[-1].matrix, ref.nets[0].layers[-1].matrix)
        assert not torch.allclose(f_new, f_full, atol=1e-6), "the head changes the forces"


def test_new_head_trains_only_the_head(tmp_path, organic_dir, multitask_ckpt):
    model, report, cfg, tasks = organic_run(tmp_path, organic_dir, multitask_ckpt,
                                            {"method": "new_head"})
    before = state_of(model)
    train(model, cfg, tasks, report)
    after = state_of(model)
    for key in before:
        moved = changed(before, after, key)
        if key.startswith("fitting.new_head.") and key.endswith("matrix"):
            assert moved, f"{key} should train"
        elif not key.startswith("fitting.new_head."):
            assert not moved, f"{key} should be frozen"
    assert [f for f in model.extra_fittings] == [model.fitting.new_head]
    assert structure.fitting_prefixes(model) == ["fitting.", "fitting.new_head."]


@pytest.mark.parametrize("method", [
    {"method": "heads", "trainable_last_layers": 2},
    {"method": "lora", "rank": 3, "alpha": 1.5, "targets": ["fitting"]},
    {"method": "new_head", "scale_factor": 0.2},
])
def test_checkpoint_config_rebuilds_structure_and_trainability(tmp_path, organic_dir,
                                                               multitask_ckpt, method):
    """build_trained_model(saved config) = the fine-tuned module tree, requires_grad set
    included (a restart's optimizer state depends on it); the weights load strictly."""
    model, _, cfg, _ = organic_run(tmp_path, organic_dir, multitask_ckpt, method)
    rebuilt = build_trained_model(copy.deepcopy(cfg))
    rebuilt.load_state_dict(model.state_dict())
    names = [(n, p.requires_grad, tuple(p.shape)) for n, p in model.named_parameters()]
    assert names == [(n, p.requires_grad, tuple(p.shape)) for n, p in rebuilt.named_parameters()]
    coord, atype = frames(organic_dir)
    torch.testing.assert_close(predict(rebuilt, coord, atype)[0], predict(model, coord, atype)[0],
                               rtol=0, atol=0)


def test_lora_checkpoint_freezes_to_the_merged_model(tmp_path, organic_dir, multitask_ckpt):
    """LoRA checkpoint -> deepft freeze -> model.dft; the C++ core gives the torch model's
    energies and forces."""
    from deepft.checkpoint import save_checkpoint
    from deepft.commands.freeze import freeze
    from deepft.infer import DeepPot

    model, report, cfg, tasks = organic_run(
        tmp_path, organic_dir, multitask_ckpt, {"method": "lora", "rank": 2, "alpha": 4.0})
    trainer = train(model, cfg, tasks, report)
    ckpt = save_checkpoint(trainer.state_dict(), str(tmp_path / "ft.ckpt"), STEPS, 1)
    out = freeze(ckpt, tmp_path / "ft.dft")
    coord, atype = frames(organic_dir)
    e, f = predict(model, coord, atype)
    pot = DeepPot(out)
    e_c, f_c, _ = pot.eval(coord.numpy(), None, atype.numpy())
    np.testing.assert_allclose(e_c, e.numpy(), rtol=0, atol=STRICT)
    np.testing.assert_allclose(f_c, f.numpy(), rtol=0, atol=STRICT)


def test_new_head_model_file_sums_both_fitting_prefixes(tmp_path, organic_dir, multitask_ckpt):
    """The model.dft of a new_head branch lists two fitting prefixes; the C++ core sums them."""
    from deepft.infer import DeepPot
    from deepft.io.export import model_to_file_contents
    from deepft.io.model_file import write_model_file
    from deepft.model.structure import branch_models

    model, report, cfg, tasks = organic_run(tmp_path, organic_dir, multitask_ckpt,
                                            {"method": "new_head", "scale_factor": 0.5})
    train(model, cfg, tasks, report, steps=2)
    header, tensors = model_to_file_contents(model, branch_models(model), cfg)
    assert header["branches"]["Default"]["fitting_prefixes"] == ["fitting.",
                                                                 "fitting.new_head."]
    path = write_model_file(tmp_path / "head.dft", header, tensors)
    coord, atype = frames(organic_dir)
    e, f = predict(model, coord, atype)
    e_c, f_c, _ = DeepPot(path).eval(coord.numpy(), None, atype.numpy())
    np.testing.assert_allclose(e_c, e.numpy(), rtol=0, atol=STRICT)
    np.testing.assert_allclose(f_c, f.numpy(), rtol=0, atol=STRICT)


def test_freeze_command_on_a_new_head_checkpoint(tmp_path, organic_dir, multitask_ckpt):
    from deepft.checkpoint import save_checkpoint
    from deepft.commands.freeze import freeze

    model, report, cfg, tasks = organic_run(tmp_path, organic_dir, multitask_ckpt,
                                            {"method": "new_head"})
    trainer = train(model, cfg, tasks, report, steps=1)
    ckpt = save_checkpoint(trainer.state_dict(), str(tmp_path / "ft.ckpt"), 1, 1)
    freeze(ckpt, tmp_path / "ft.dft")


@pytest.mark.parametrize("method", [
    {"method": "heads", "trainable_last_layers": 1},
    {"method": "lora", "rank": 2, "alpha": 2.0},
    {"method": "new_head"},
])
def test_new_element_nets_train_under_every_method(tmp_path, organic_dir, water_ckpt, method):
    """Water-pretrained [O, H] fine-tuned onto [O, H, C]: the nets that exist only for C (its
    neighbor embedding net, its fitting net) start random, so they train in full whatever the
    method freezes; everything the method freezes for O and H stays put. A checkpoint's config
    rebuilds the same requires_grad set."""
    raw = single_input(tmp_path, ["O", "H", "C"], organic_systems(organic_dir),
                       numb_steps=STEPS, finetune=method)
    model, report, cfg, tasks = finetune(raw, water_ckpt)
    assert cfg["model"]["_finetune"]["new_types"] == {"Default": [2]}
    fresh = [k for k, _ in model.named_parameters()
             if k.startswith(("descriptor.embeddings.2.", "fitting.nets.2."))
             and "lora_" not in k]
    assert fresh and all(dict(model.named_parameters())[k].requires_grad for k in fresh)
    before = state_of(model)
    train(model, cfg, tasks, report)
    after = state_of(model)
    for key in fresh:
        if key.endswith("matrix"):
            assert changed(before, after, key), f"{method['method']}: {key} should train"
    frozen_for_old = ["descriptor.embeddings.0.layers.1.matrix"]
    if method["method"] != "heads":
        frozen_for_old.append("fitting.nets.0.layers.0.matrix")
    for key in frozen_for_old:
        assert not changed(before, after, key), f"{method['method']}: {key} should be frozen"
    rebuilt = build_trained_model(copy.deepcopy(cfg))
    assert [(n, p.requires_grad) for n, p in rebuilt.named_parameters()] == \
        [(n, p.requires_grad) for n, p in model.named_parameters()]
