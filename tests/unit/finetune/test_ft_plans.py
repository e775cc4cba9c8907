"""Which pretrained weights each branch starts from; errors naming branches, keys and files."""

from __future__ import annotations

import logging

import pytest
import torch
from support.finetune_inputs import finetune, multitask_input, organic_systems, single_input
from support.training import load_model

from deepft.checkpoint import load_checkpoint
from deepft.errors import InputError, ModelFileError


def nets_equal(a, b) -> bool:
    """Same fitting-net weights (bias_atom_e excluded: fine-tuning refits it)."""
    sa = {k: v for k, v in a.state_dict().items() if k != "bias_atom_e"}
    sb = {k: v for k, v in b.state_dict().items() if k != "bias_atom_e"}
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def organic_target(tmp_path, organic_dir, **kw):
    return single_input(tmp_path, ["O", "H", "C"], organic_systems(organic_dir), **kw)


def test_named_branch_copies_descriptor_and_fitting_bit_exact(tmp_path, organic_dir,
                                                              multitask_ckpt):
    pre = load_model(multitask_ckpt).branches["organic"]
    model, report, cfg, _ = finetune(organic_target(tmp_path, organic_dir), multitask_ckpt,
                                     model_branch="organic")
    assert report.plans["Default"].source == "organic"
    assert nets_equal(model.fitting, pre.fitting), "fitting nets not copied bit-exactly"
    for key, value in pre.descriptor.state_dict().items():
        assert torch.equal(model.descriptor.state_dict()[key], value), key
    assert cfg["model"]["_finetune"]["branches"] == {"Default": "organic"}
    # the inherited copy is independent of the pretrained model object
    assert model.fitting.nets[0].layers[0].matrix is not pre.fitting.nets[0].layers[0].matrix


def test_random_branch_reinitializes_the_fitting_net(tmp_path, organic_dir, multitask_ckpt):
    from deepft.model import build_from_config

    pre = load_model(multitask_ckpt)
    model, report, cfg, _ = finetune(organic_target(tmp_path, organic_dir, fit_seed=5),
                                     multitask_ckpt, model_branch="RANDOM")
    assert report.plans["Default"].source is None
    for name in ("water", "organic"):
        assert not torch.equal(model.fitting.nets[0].layers[0].matrix,
                               pre.branches[name].fitting.nets[0].layers[0].matrix)
    fresh = build_from_config(cfg)  # same seeds: the fresh net is the input's initialization
    assert nets_equal(model.fitting, fresh.fitting)
    assert cfg["model"]["_finetune"]["fresh"] == ["Default/fitting_net"]
    # descriptor still inherited (from the first pretrained branch)
    torch.testing.assert_close(model.descriptor.davg, pre.branches["water"].descriptor.davg,
                               rtol=0, atol=0)


def test_multitask_checkpoint_without_branch_warns_and_starts_fresh(tmp_path, organic_dir,
                                                                     multitask_ckpt, caplog):
    with caplog.at_level(logging.WARNING, logger="deepft"):
        _, report, _, _ = finetune(organic_target(tmp_path, organic_dir), multitask_ckpt)
    assert report.plans["Default"].source is None
    assert "without --model-branch" in caplog.text and "['water', 'organic']" in caplog.text
    assert "freshly initialized fitting net" in caplog.text


def test_unknown_branch_lists_the_available_ones(tmp_path, organic_dir, multitask_ckpt):
    with pytest.raises(InputError) as err:
        finetune(organic_target(tmp_path, organic_dir), multitask_ckpt, model_branch="organik")
    assert "no branch 'organik'" in str(err.value)
    assert "['water', 'organic', 'RANDOM']" in str(err.value)


def test_branch_name_on_single_task_checkpoint_is_an_error(tmp_path, water_dir, water_ckpt):
    raw = single_input(tmp_path, ["O", "H"], [water_dir / "data_1"], batch_size=1)
    with pytest.raises(InputError, match="single-task and has no branches"):
        finetune(raw, water_ckpt, model_branch="water")
    _, report, _, _ = finetune(raw, water_ckpt, model_branch="Default")
    assert report.plans["Default"].source == "Default"


def test_mismatched_model_section_lists_the_keys(tmp_path, organic_dir, multitask_ckpt):
    raw = organic_target(tmp_path, organic_dir)
    raw["model"]["descriptor"]["neuron"] = [4, 16]
    raw["model"]["descriptor"]["rcut"] = 5.0
    raw["model"]["fitting_net"]["neuron"] = [8, 8, 8]
    raw["model"]["descriptor"]["seed"] = 99  # free: seeds may differ
    with pytest.raises(InputError) as err:
        finetune(raw, multitask_ckpt, model_branch="organic")
    msg = str(err.value)
    for key in ("model/descriptor/neuron", "model/descriptor/rcut",
                "model/fitting_net/neuron"):
        assert key in msg, msg
    assert "seed" not in msg.split("(hint")[0]
    assert "--use-pretrain-script" in msg


def test_use_pretrain_script_takes_the_checkpoint_model_section(tmp_path, organic_dir,
                                                                multitask_ckpt):
    raw = organic_target(tmp_path, organic_dir)
    raw["model"]["descriptor"]["neuron"] = [4, 16]
    raw["model"]["fitting_net"]["neuron"] = [32]
    model, _, cfg, _ = finetune(raw, multitask_ckpt, model_branch="organic",
                                use_pretrain_script=True)
    assert cfg["model"]["descriptor"]["neuron"] == [4, 8]
    assert cfg["model"]["fitting_net"]["neuron"] == [8, 8]
    assert cfg["model"]["type_map"] == ["O", "H", "C"]
    assert model.descriptor.neuron == [4, 8]


@pytest.mark.parametrize("broken", [
    lambda m: m["descriptor"].update(rcutt=6.0),  # a misspelled key
    lambda m: m["descriptor"].update(rcut="six"),  # a wrong type
    lambda m: m["fitting_net"].update(neuron="big"),
    lambda m: m.pop("fitting_net"),
])
def test_use_pretrain_script_replaces_the_model_section_before_validation(
        tmp_path, organic_dir, multitask_ckpt, broken):
    """As DeePMD-kit: the pretrained sections replace the input's before it is checked, so
    what the input says there does not matter (without the flag it is an error)."""
    raw = organic_target(tmp_path, organic_dir)
    broken(raw["model"])
    with pytest.raises(InputError):
        finetune(raw, multitask_ckpt, model_branch="organic")
    model, _, cfg, _ = finetune(raw, multitask_ckpt, model_branch="organic",
                                use_pretrain_script=True)
    assert cfg["model"]["descriptor"]["rcut"] == 4.0
    assert cfg["model"]["fitting_net"]["neuron"] == [8, 8]


def test_use_pretrain_script_replaces_shared_dict_entries(tmp_path, water_dir, organic_dir,
                                                         multitask_ckpt):
    """A multitask input's shared descriptor entry is replaced (both branches see it)."""
    raw = multitask_input(tmp_path, water_dir, organic_dir, numb_steps=0)
    raw["model"]["shared_dict"]["desc"]["neuron"] = [2, 2]
    model, _, cfg, _ = finetune(raw, multitask_ckpt, use_pretrain_script=True)
    for branch in ("water", "organic"):
        assert cfg["model"]["model_dict"][branch]["descriptor"]["neuron"] == [4, 8]
    assert model.branches["water"].descriptor is model.branches["organic"].descriptor


@pytest.mark.parametrize("kind", ["missing", "text", "torch_dict"])
def test_finetune_from_a_missing_or_foreign_file(tmp_path, kind):
    path = tmp_path / "pre.pt"
    if kind == "text":
        path.write_text("not a checkpoint")
    elif kind == "torch_dict":
        torch.save({"model": {}, "something": 1}, path)
    with pytest.raises(ModelFileError) as err:
        load_checkpoint(str(path))
    assert str(path) in str(err.value)
    assert {"missing": "does not exist", "text": "not a readable torch file",
            "torch_dict": "not a deepft checkpoint"}[kind] in str(err.value)


def test_finetune_from_a_frozen_model_names_the_fix(tmp_path):
    path = tmp_path / "model.dft"
    path.write_bytes(b"DEEPFTMD" + bytes(64))
    with pytest.raises(ModelFileError, match="frozen model") as err:
        load_checkpoint(str(path))
    assert "checkpoint" in err.value.hint


def test_multitask_target_resumes_inherits_and_starts_fresh(tmp_path, water_dir, organic_dir,
                                                           multitask_ckpt):
    """water resumes (weights and bias bit-exact), organic_ft starts from pretrained organic,
    extra starts fresh."""
    raw = multitask_input(tmp_path, water_dir, organic_dir,
                          branches=("water", "organic_ft", "extra_water"))
    raw["model"]["model_dict"]["organic_ft"]["finetune_head"] = "organic"
    pre = load_model(multitask_ckpt)
    model, report, cfg, _ = finetune(raw, multitask_ckpt)
    plans = report.plans
    assert (plans["water"].source, plans["water"].resume) == ("water", True)
    assert (plans["organic_ft"].source, plans["organic_ft"].resume) == ("organic", False)
    assert plans["extra_water"].source is None
    new = model.branches
    for key, value in pre.branches["water"].fitting.state_dict().items():
        assert torch.equal(new["water"].fitting.state_dict()[key], value), key
    assert nets_equal(new["organic_ft"].fitting, pre.branches["organic"].fitting)
    assert not torch.equal(new["organic_ft"].fitting.bias_atom_e,
                           pre.branches["organic"].fitting.bias_atom_e)
    assert new["water"].descriptor is new["organic_ft"].descriptor is new["extra_water"].descriptor
    assert cfg["model"]["_finetune"]["branches"] == {
        "water": "water", "organic_ft": "organic", "extra_water": "RANDOM"}


def test_inherit_method_initializes_new_branches_from_from_branch(tmp_path, water_dir,
                                                                  organic_dir, multitask_ckpt):
    raw = multitask_input(tmp_path, water_dir, organic_dir, branches=("organic_ccsd",),
                          finetune={"method": "inherit", "from_branch": "organic"})
    pre = load_model(multitask_ckpt)
    model, report, _, _ = finetune(raw, multitask_ckpt)
    assert report.plans["organic_ccsd"].source == "organic"
    assert nets_equal(model.branches["organic_ccsd"].fitting, pre.branches["organic"].fitting)
    bad = multitask_input(tmp_path, water_dir, organic_dir, branches=("organic_ccsd",),
                          finetune={"method": "inherit", "from_branch": "nope"})
    with pytest.raises(InputError, match=r"from_branch.*\['water', 'organic'\]"):
        finetune(bad, multitask_ckpt)


def test_model_branch_with_multitask_input_is_an_error(tmp_path, water_dir, organic_dir,
                                                        multitask_ckpt):
    raw = multitask_input(tmp_path, water_dir, organic_dir)
    with pytest.raises(InputError, match="finetune_head"):
        finetune(raw, multitask_ckpt, model_branch="water")


def test_branches_from_one_pretrained_branch_keep_separate_fitting_nets(
        tmp_path, water_dir, organic_dir, multitask_ckpt):
    """Two new branches with their own fitting_net sections, both starting from the pretrained
    organic branch: two copies (equal at step 0), not one shared net."""
    raw = multitask_input(tmp_path, water_dir, organic_dir, numb_steps=0,
                          branches=("organic_a", "organic_b"))
    for branch in ("organic_a", "organic_b"):
        raw["model"]["model_dict"][branch]["finetune_head"] = "organic"
    model, _, _, _ = finetune(raw, multitask_ckpt)
    a, b = model.branches["organic_a"].fitting, model.branches["organic_b"].fitting
    assert a is not b
    assert nets_equal(a, b)
    assert model.branches["organic_a"].descriptor is model.branches["organic_b"].descriptor


def test_a_shared_descriptor_needs_one_pretrained_descriptor():
    """Branches sharing a descriptor inherit it from their fitting nets' pretrained branch; when
    those branches had different descriptors it is refused, naming them."""
    from types import SimpleNamespace

    from deepft.finetune.build import settle_descriptor_source
    from deepft.finetune.plan import BranchPlan

    d1, d2 = object(), object()
    pre = {"A": SimpleNamespace(descriptor=d1), "B": SimpleNamespace(descriptor=d2),
           "C": SimpleNamespace(descriptor=d1)}
    plans = {"x": BranchPlan("x", None, "A"), "y": BranchPlan("y", "C", "C")}
    settle_descriptor_source(["x", "y"], plans, pre)
    assert plans["x"].descriptor_from == plans["y"].descriptor_from == "C"
    plans = {"x": BranchPlan("x", "A", "A"), "y": BranchPlan("y", "B", "B")}
    with pytest.raises(InputError, match=r"\['A', 'B'\] whose descriptors differ"):
        settle_descriptor_source(["x", "y"], plans, pre)


@pytest.mark.parametrize("raw", [{}, {"model": [1]}, {"model": {"model_dict": {"b": 5}}},
                                 {"model": {"model_dict": 3}}])
def test_adopt_into_leaves_a_malformed_input_to_the_schema(raw, water_ckpt):
    from deepft.finetune.plan import FinetunePlan

    plan = FinetunePlan(str(water_ckpt), load_checkpoint(water_ckpt), {})
    assert plan.adopt_into(raw) == raw


def test_restart_diffs_ignore_the_sel_fine_tuning_chose():
    from deepft.config.diff import model_diffs

    def cfg(sel, record=None):
        model = {"type_map": ["O", "H"], "descriptor": {"type": "se_e2_a", "sel": sel},
                 "fitting_net": {"neuron": [8], "trainable": True}}
        if record:
            model["_finetune"] = record
        return {"model": model}

    assert model_diffs(cfg([46, 92]), cfg([44, 80])) == [
        "model/descriptor/sel: input [46, 92] vs checkpoint [44, 80]"]
    assert model_diffs(cfg([46, 92]), cfg([44, 80], {"method": {"method": "full"}})) == []
    flipped = cfg([46, 92])
    flipped["model"]["fitting_net"]["trainable"] = False
    assert model_diffs(flipped, cfg([46, 92])) == []
    assert model_diffs(flipped, cfg([46, 92]), trainable_free=False) == [
        "model/fitting_net/trainable: input False vs checkpoint True"]
