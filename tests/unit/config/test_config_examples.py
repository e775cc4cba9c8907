"""Valid inputs: DeePMD-kit's examples normalize without change, defaults fill, idempotence."""

from __future__ import annotations

import json

import pytest
from support.config_inputs import INPUTS, MULTI, SINGLE, assert_contained, read, without_comments

from deepft.config import branch_names, is_multitask, load_input, normalize, write_normalized


@pytest.mark.parametrize("name", SINGLE)
def test_deepmd_single_task_example_keeps_every_value(name):
    raw = load_input(INPUTS / name)
    out = normalize(raw, source=name)
    assert_contained(without_comments(raw), out)
    assert "_comment" not in json.dumps(out)
    assert branch_names(out) == ["Default"] and not is_multitask(out)


@pytest.mark.parametrize("name", SINGLE + MULTI)
def test_normalize_is_idempotent_and_survives_out_json(name, tmp_path):
    out = normalize(load_input(INPUTS / name), source=name)
    assert normalize(out) == out
    path = tmp_path / "out.json"
    write_normalized(out, path)
    back = load_input(path)
    assert back == out
    assert normalize(back, source=str(path)) == out
    assert not list(tmp_path.glob(".*tmp")), "temp file left behind"


def test_normalize_does_not_modify_its_argument(multi):
    before = json.dumps(multi, sort_keys=True)
    normalize(multi)
    assert json.dumps(multi, sort_keys=True) == before


def test_defaults_are_filled_as_in_deepmd_kit():
    # input_torch.json leaves out precision, activation, virial prefactors, ...
    out = normalize(read("water_se_e2_a_torch.json"))
    desc, fit = out["model"]["descriptor"], out["model"]["fitting_net"]
    assert desc["precision"] == "float64" and fit["precision"] == "float64"
    assert desc["activation_function"] == "tanh" and fit["activation_function"] == "tanh"
    assert desc["trainable"] is True and desc["set_davg_zero"] is False
    assert fit["type"] == "ener" and fit["trainable"] is True
    assert out["model"]["data_stat_nbatch"] == 20  # given
    loss = out["loss"]
    assert (loss["start_pref_v"], loss["limit_pref_v"]) == (0.0, 0.0)
    assert (loss["start_pref_ae"], loss["limit_pref_pf"]) == (0.0, 0.0)
    assert loss["stage_splits"] == []
    lr = out["learning_rate"]
    assert lr["type"] == "exp" and lr["decay_rate"] is None
    tr = out["training"]
    assert tr["save_ckpt"] == "model.ckpt" and tr["max_ckpt_keep"] == 5
    assert tr["disp_file"] == "lcurve.out" and tr["opt_type"] == "Adam"
    assert tr["validation_data"]["numb_btch"] == 3 and "numb_btch" not in tr["training_data"]
    assert tr["training_data"]["auto_prob"] == "prob_sys_size"
    assert tr["finetune"] == {"bias_mode": "change-by-statistic", "method": "full"}
    assert tr["restart"] is None and tr["nan_policy"] == "stop"


def minimal() -> dict:
    return {"model": {"type_map": ["O", "H"], "descriptor": {"type": "se_e2_a"},
                      "fitting_net": {}},
            "learning_rate": {"start_lr": 1e-3},
            "training": {"training_data": {"systems": "data"}, "numb_steps": 10}}


def test_minimal_input_gets_deepmd_kit_defaults():
    out = normalize(minimal())
    desc = out["model"]["descriptor"]
    assert desc == {"type": "se_e2_a", "sel": "auto", "rcut": 6.0, "rcut_smth": 0.5,
                    "neuron": [10, 20, 40], "axis_neuron": 4, "activation_function": "tanh",
                    "resnet_dt": False, "type_one_side": False, "precision": "float64",
                    "trainable": True, "seed": None, "set_davg_zero": False}
    assert out["model"]["fitting_net"]["neuron"] == [120, 120, 120]
    assert out["model"]["fitting_net"]["resnet_dt"] is True
    assert out["model"]["data_stat_nbatch"] == 10
    assert out["learning_rate"]["stop_lr"] == 5e-8
    assert out["learning_rate"]["decay_steps"] == 5000
    assert (out["loss"]["start_pref_e"], out["loss"]["limit_pref_e"]) == (0.02, 1.0)
    assert (out["loss"]["start_pref_f"], out["loss"]["limit_pref_f"]) == (1000.0, 1.0)
    assert out["training"]["validation_data"] is None
    assert out["training"]["stat_file"] is None
    assert out["training"]["training_data"]["batch_size"] == "auto"
    assert (out["training"]["disp_freq"], out["training"]["save_freq"]) == (1000, 1000)
    assert "finetune_head" not in out["model"]


def test_aliases_and_value_spellings_are_normalized():
    raw = minimal()
    raw["model"]["descriptor"] = {"type": "se_a", "n_axis_neuron": 8, "rcut": 5,
                                  "rcut_smth": 1, "precision": "default",
                                  "activation_function": "none", "sel": [10, 20]}
    raw["model"]["fitting_net"] = {"n_neuron": [32, 32], "precision": "float32"}
    raw["training"] = {"training_data": {"systems": ["a"], "auto_prob_style": "prob_uniform",
                                         "sys_weights": [1]}, "stop_batch": 7}
    out = normalize(raw)
    desc = out["model"]["descriptor"]
    assert desc["type"] == "se_e2_a" and desc["axis_neuron"] == 8
    assert desc["precision"] == "float64" and desc["activation_function"] == "linear"
    assert isinstance(desc["rcut"], float) and desc["rcut"] == 5.0
    assert isinstance(desc["rcut_smth"], float)
    assert out["model"]["fitting_net"]["neuron"] == [32, 32]
    assert out["model"]["fitting_net"]["precision"] == "float32"
    assert out["training"]["numb_steps"] == 7
    assert out["training"]["training_data"]["auto_prob"] == "prob_uniform"
    assert out["training"]["training_data"]["sys_probs"] == [1.0]
    assert isinstance(out["training"]["training_data"]["sys_probs"][0], float)
    assert normalize(out) == out


@pytest.mark.parametrize("sel", ["auto", "auto:1.5", "auto:2", [46, 92], [0, 3]])
def test_sel_forms_accepted(sel):
    raw = minimal()
    raw["model"]["descriptor"]["sel"] = sel
    assert normalize(raw)["model"]["descriptor"]["sel"] == sel


@pytest.mark.parametrize("batch_size", [1, "auto", "auto:64", "max:200", [1, 2]])
def test_batch_size_forms_accepted(batch_size):
    raw = minimal()
    raw["training"]["training_data"]["batch_size"] = batch_size
    assert normalize(raw)["training"]["training_data"]["batch_size"] == batch_size


def test_deepmd_kit_inert_keys_at_their_no_op_value_are_accepted_and_dropped():
    # what DeePMD-kit's own normalized out.json carries for features deepft does not implement
    raw = minimal()
    raw["model"]["descriptor"].update({"exclude_types": [], "env_protection": 0.0})
    raw["model"]["fitting_net"].update({"numb_fparam": 0, "numb_aparam": 0, "rcond": None,
                                        "atom_ener": [], "dim_case_embd": 0})
    raw["model"].update({"data_stat_protect": 0.01, "pair_exclude_types": []})
    raw["loss"] = {"type": "ener", "relative_f": None, "enable_atom_ener_coeff": False,
                   "use_huber": False, "loss_func": "mse", "start_pref_h": 0}
    raw["learning_rate"].update({"smooth": False, "warmup_steps": 0})
    raw["training"].update({"change_bias_after_training": False, "profiling": False})
    out = normalize(raw)
    assert out == normalize(minimal())


def test_stage_splits_fraction_becomes_start_step_and_stages_are_sorted():
    raw = minimal()
    raw["training"]["numb_steps"] = 1000
    raw["loss"] = {"stage_splits": [{"fraction": 0.25, "pref_e": 1, "pref_f": 1},
                                    {"start_step": 0, "pref_e": 0.02, "pref_f": 1000}]}
    out = normalize(raw)
    assert out["loss"]["stage_splits"] == [
        {"start_step": 0, "pref_e": 0.02, "pref_f": 1000.0},
        {"start_step": 250, "pref_e": 1.0, "pref_f": 1.0}]
    assert normalize(out) == out


@pytest.mark.parametrize("finetune,expected", [
    ({"method": "heads"}, {"method": "heads", "trainable_last_layers": None}),
    ({"method": "heads", "trainable_last_layers": 2},
     {"method": "heads", "trainable_last_layers": 2}),
    ({"method": "lora", "rank": 4},
     {"method": "lora", "rank": 4, "alpha": 8.0, "targets": ["descriptor", "fitting"]}),
    ({"method": "new_head", "scale_factor": 0},
     {"method": "new_head", "scale_factor": 0.0}),
    ({"method": "inherit", "from_branch": "water_1", "bias_mode": "set-by-statistic"},
     {"method": "inherit", "from_branch": "water_1"}),
])
def test_finetune_methods(finetune, expected):
    raw = minimal()
    raw["training"]["finetune"] = finetune
    got = normalize(raw)["training"]["finetune"]
    bias = finetune.get("bias_mode", "change-by-statistic")
    assert got == {"bias_mode": bias, **expected}


def test_top_level_validation_data_null_and_restart_auto():
    raw = minimal()
    raw["training"].update({"validation_data": None, "restart": "auto", "nan_policy": "skip"})
    out = normalize(raw)
    assert out["training"]["validation_data"] is None
    assert (out["training"]["restart"], out["training"]["nan_policy"]) == ("auto", "skip")


def test_fitting_trainable_per_layer():
    raw = minimal()
    raw["model"]["fitting_net"] = {"neuron": [8, 8], "trainable": [False, False, True]}
    assert normalize(raw)["model"]["fitting_net"]["trainable"] == [False, False, True]
