"""Multitask inputs: shared_dict references resolve to equal dicts; shared_links lists them."""

from __future__ import annotations

import pytest
from support.config_inputs import assert_contained, deep, read, without_comments

from deepft.config import branch_names, is_multitask, normalize


def test_deepmd_multitask_example_resolves_shared_descriptor(multi):
    out = normalize(deep(multi))
    model = out["model"]
    assert set(model) == {"model_dict", "shared_links"}  # shared_dict is resolved away
    b1, b2 = model["model_dict"]["water_1"], model["model_dict"]["water_2"]
    assert b1["descriptor"] == b2["descriptor"]
    assert b1["descriptor"] is not b2["descriptor"]
    shared = without_comments(multi["model"]["shared_dict"])
    assert_contained(shared["se_e2_a_descriptor"], b1["descriptor"])
    assert b1["descriptor"]["precision"] == "float64" and b1["descriptor"]["sel"] == [46, 92]
    assert b1["type_map"] == b2["type_map"] == ["O", "H"]
    assert model["shared_links"] == {"se_e2_a_descriptor": ["water_1/descriptor",
                                                            "water_2/descriptor"]}
    assert is_multitask(out) and branch_names(out) == ["water_1", "water_2"]


def test_deepmd_multitask_example_keeps_other_sections(multi):
    out = normalize(deep(multi))
    raw = without_comments(multi)
    for key in ("learning_rate", "loss_dict", "training"):
        assert_contained(raw[key], out[key])
    for b in ("water_1", "water_2"):
        assert_contained(raw["model"]["model_dict"][b]["fitting_net"],
                         out["model"]["model_dict"][b]["fitting_net"])
    assert out["training"]["data_dict"]["water_2"]["validation_data"] is None
    assert "loss" not in out and "training_data" not in out["training"]


def test_shared_fitting_net_is_linked_too(sharefit):
    out = normalize(sharefit)
    links = out["model"]["shared_links"]
    assert links["shared_fit_with_id"] == ["water_1/fitting_net", "water_2/fitting_net"]
    assert links["se_e2_a_descriptor"] == ["water_1/descriptor", "water_2/descriptor"]
    branches = out["model"]["model_dict"]
    assert branches["water_1"]["fitting_net"] == branches["water_2"]["fitting_net"]
    assert branches["water_1"]["fitting_net"]["neuron"] == [240, 240, 240]


def test_level_zero_suffix_is_sharing_everything(multi):
    multi["model"]["model_dict"]["water_2"]["descriptor"] = "se_e2_a_descriptor:0"
    out = normalize(multi)
    assert out["model"]["shared_links"]["se_e2_a_descriptor"] == ["water_1/descriptor",
                                                                  "water_2/descriptor"]


def test_unshared_branch_descriptor_is_not_linked(multi):
    own = deep(multi["model"]["shared_dict"]["se_e2_a_descriptor"])
    own["neuron"] = [8, 16]
    own["axis_neuron"] = 4
    multi["model"]["model_dict"]["water_2"]["descriptor"] = own
    out = normalize(multi)
    assert out["model"]["shared_links"] == {"se_e2_a_descriptor": ["water_1/descriptor"]}
    assert out["model"]["model_dict"]["water_2"]["descriptor"]["neuron"] == [8, 16]


def test_model_level_keys_apply_to_branches_that_do_not_set_them(multi):
    multi["model"]["data_stat_nbatch"] = 3
    multi["model"]["model_dict"]["water_2"]["data_stat_nbatch"] = 7
    out = normalize(multi)
    assert out["model"]["model_dict"]["water_1"]["data_stat_nbatch"] == 3
    assert out["model"]["model_dict"]["water_2"]["data_stat_nbatch"] == 7
    assert "data_stat_nbatch" not in out["model"]


def test_normalized_multitask_re_normalizes_to_itself_with_links(sharefit):
    out = normalize(sharefit)
    again = normalize(deep(out))
    assert again == out
    assert again["model"]["shared_links"] == out["model"]["shared_links"]


def test_sel_resolved_in_place_by_the_trainer_still_re_normalizes(multi):
    # the trainer writes concrete sel into every branch of a shared descriptor before out.json
    multi["model"]["shared_dict"]["se_e2_a_descriptor"]["sel"] = "auto"
    out = normalize(multi)
    for b in ("water_1", "water_2"):
        assert out["model"]["model_dict"][b]["descriptor"]["sel"] == "auto"
        out["model"]["model_dict"][b]["descriptor"]["sel"] = [48, 96]
    assert normalize(deep(out)) == out


def test_model_prob_may_leave_out_branches(multi):
    multi["training"]["model_prob"] = {"water_1": 2}
    out = normalize(multi)
    assert out["training"]["model_prob"] == {"water_1": 2.0}
    del multi["training"]["model_prob"]
    assert normalize(multi)["training"]["model_prob"] == {}


def test_finetune_head_per_branch(multi):
    multi["model"]["model_dict"]["water_1"]["finetune_head"] = "RANDOM"
    out = normalize(multi)
    assert out["model"]["model_dict"]["water_1"]["finetune_head"] == "RANDOM"
    assert "finetune_head" not in out["model"]["model_dict"]["water_2"]


@pytest.mark.parametrize("name", ["water_multi_task_se_e2_a.json",
                                  "water_multi_task_sharefit_se_e2_a.json"])
def test_comment_keys_are_dropped_everywhere(name):
    import json

    assert "_comment" not in json.dumps(normalize(read(name)))


def test_training_precision_sets_every_branch(multi):
    """training/precision overrides descriptor and fitting precision of all branches; the shared
    descriptor stays equal across branches, and out.json re-normalizes to itself."""
    raw = deep(multi)
    raw["training"]["precision"] = "float32"
    out = normalize(raw)
    for branch in out["model"]["model_dict"].values():
        assert branch["descriptor"]["precision"] == "float32"
        assert branch["fitting_net"]["precision"] == "float32"
    b1, b2 = out["model"]["model_dict"].values()
    assert b1["descriptor"] == b2["descriptor"]
    assert normalize(deep(out)) == out
