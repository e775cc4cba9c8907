"""Every bad input gives the promised one-line InputError: key path, what is wrong, a hint."""

from __future__ import annotations

import pytest
from support.config_inputs import read

from deepft.config import load_input, normalize
from deepft.errors import InputError

W, M, S = ("water_se_e2_a.json", "water_multi_task_se_e2_a.json",
           "water_multi_task_sharefit_se_e2_a.json")


def setter(*path, value=None, delete=False, rename=None):
    """A mutation of the raw dict at ``path``."""
    def apply(cfg):
        node = cfg
        for key in path[:-1]:
            node = node[key]
        if delete:
            del node[path[-1]]
        elif rename is not None:
            node[rename] = node.pop(path[-1])
        else:
            node[path[-1]] = value
    return apply


DESC = ("model", "descriptor")
SHARED_DESC = ("model", "shared_dict", "se_e2_a_descriptor")
CASES = [
    # (case, fixture, mutation, substrings of str(InputError))
    ("unknown key with suggestion", W, setter(*DESC, "rcut", rename="rcutt"),
     ["water_se_e2_a.json", "unknown key model/descriptor/rcutt", "did you mean 'rcut'?",
      "valid keys in model/descriptor"]),
    ("unknown top-level key", W, setter("training", rename="trainig"),
     ["unknown key trainig", "did you mean 'training'?"]),
    ("unknown loss key", W, setter("loss", "start_pref_ee", value=1.0),
     ["unknown key loss/start_pref_ee", "did you mean 'start_pref_e'?"]),
    ("wrong type string for float", W, setter(*DESC, "rcut", value="6.0"),
     ["model/descriptor/rcut must be a number", "got string \"6.0\""]),
    ("wrong type bool for int", W, setter("training", "numb_steps", value=True),
     ["training/numb_steps must be an integer", "got boolean true"]),
    ("wrong type in list", W, setter(*DESC, "sel", value=[46, "92"]),
     ["model/descriptor/sel must be a list of integers or a string",
      "got list [46, \"92\"]"]),
    ("wrong type for section", W, setter("model", "fitting_net", value=[240, 240]),
     ["model/fitting_net must be an object", "got list [240, 240]"]),
    ("rcut_smth >= rcut", W, setter(*DESC, "rcut_smth", value=6.0),
     ["model/descriptor/rcut_smth (6.0) must be smaller than model/descriptor/rcut (6.0)"]),
    ("unknown training precision", W, setter("training", "precision", value="bfloat16"),
     ["training/precision = \"bfloat16\" is invalid", "must be null, float64, float32, tf32"]),
    ("negative rcut", W, setter(*DESC, "rcut", value=-1),
     ["model/descriptor/rcut = -1.0 is invalid: must be > 0"]),
    ("negative rcut_smth", W, setter(*DESC, "rcut_smth", value=-0.5),
     ["model/descriptor/rcut_smth = -0.5 is invalid", "must be >= 0"]),
    ("sel length != ntypes", W, setter(*DESC, "sel", value=[46, 92, 10]),
     ["model/descriptor/sel has 3 entries but model/type_map has 2 types"]),
    ("bad auto sel", W, setter(*DESC, "sel", value="auto:0.5"),
     ["model/descriptor/sel = \"auto:0.5\" is invalid"]),
    ("unsupported descriptor type", W, setter(*DESC, "type", value="se_e2_r"),
     ["model/descriptor/type = \"se_e2_r\" is not supported", "did you mean 'se_e2_a'?",
      "deepft supports se_e2_a"]),
    ("missing descriptor type", W, setter(*DESC, "type", delete=True),
     ["missing key model/descriptor/type", "se_e2_a"]),
    ("unknown activation", W, setter("model", "fitting_net", "activation_function",
                                     value="sigmoid"),
     ["model/fitting_net/activation_function = \"sigmoid\" is invalid",
      "tanh, gelu, relu, silu, linear"]),
    ("unknown precision", W, setter(*DESC, "precision", value="float16"),
     ["model/descriptor/precision = \"float16\" is invalid", "float64, float32"]),
    ("axis_neuron > last width", W, setter(*DESC, "axis_neuron", value=200),
     ["model/descriptor/axis_neuron (200) must not exceed", "neuron[-1] (100)"]),
    ("key and its alias", W, setter(*DESC, "n_axis_neuron", value=4),
     ["model/descriptor/axis_neuron is given twice", "alias n_axis_neuron"]),
    ("inert option switched on", W, setter(*DESC, "exclude_types", value=[[0, 1]]),
     ["model/descriptor/exclude_types = [[0, 1]] is a DeePMD-kit option deepft does not "
      "implement", "remove exclude_types"]),
    ("inert loss option switched on", W, setter("loss", "use_huber", value=True),
     ["loss/use_huber = true is a DeePMD-kit option"]),
    ("fitting trainable list length", W, setter("model", "fitting_net", "trainable",
                                                value=[True, False]),
     ["model/fitting_net/trainable has 2 entries; it needs len(neuron) + 1 = 4"]),
    ("missing start_lr", W, setter("learning_rate", "start_lr", delete=True),
     ["missing key learning_rate/start_lr"]),
    ("decay_rate out of range", W, setter("learning_rate", "decay_rate", value=1.5),
     ["learning_rate/decay_rate = 1.5 is invalid: must be in (0, 1]"]),
    ("unsupported lr type", W, setter("learning_rate", "type", value="cosine"),
     ["learning_rate/type = \"cosine\" is not supported", "deepft supports exp"]),
    ("missing numb_steps", W, setter("training", "numb_steps", delete=True),
     ["missing key training/numb_steps"]),
    ("empty systems list", W, setter("training", "training_data", "systems", value=[]),
     ["training/training_data/systems is empty"]),
    ("empty systems string", W, setter("training", "validation_data", "systems", value=""),
     ["training/validation_data/systems is empty"]),
    ("unsupported batch_size rule", W, setter("training", "training_data", "batch_size",
                                              value="mixed:4"),
     ["training/training_data/batch_size = \"mixed:4\" is invalid", "auto:N"]),
    ("zero disp_freq", W, setter("training", "disp_freq", value=0),
     ["training/disp_freq = 0 is invalid: must be > 0"]),
    ("restart not auto", W, setter("training", "restart", value="yes"),
     ["training/restart = \"yes\" is invalid", "\"auto\" or null"]),
    ("warmup >= numb_steps", W, setter("training", "warmup_steps", value=2000000),
     ["training/warmup_steps (2000000) must be smaller than training/numb_steps"]),
    ("finetune bad method", W, setter("training", "finetune", value={"method": "adapters"}),
     ["training/finetune/method = \"adapters\" is not supported", "full, heads, lora"]),
    ("finetune lora bad target", W, setter("training", "finetune",
                                           value={"method": "lora", "targets": ["embedding"]}),
     ["training/finetune/targets = [\"embedding\"] is invalid", "\"descriptor\", \"fitting\""]),
    ("finetune key of another method", W, setter("training", "finetune",
                                                 value={"method": "heads", "rank": 4}),
     ["unknown key training/finetune/rank"]),
    ("finetune inherit without branch", W, setter("training", "finetune",
                                                  value={"method": "inherit"}),
     ["missing key training/finetune/from_branch"]),
    ("finetune bad bias_mode", W, setter("training", "finetune",
                                         value={"bias_mode": "change"}),
     ["training/finetune/bias_mode = \"change\" is invalid", "change-by-statistic"]),
    ("stage with start_step and fraction", W, setter(
        "loss", "stage_splits", value=[{"start_step": 1, "fraction": 0.5, "pref_e": 1,
                                        "pref_f": 1}]),
     ["loss/stage_splits/0 needs exactly one of start_step and fraction"]),
    ("stage after the end", W, setter(
        "loss", "stage_splits", value=[{"start_step": 2000000, "pref_e": 1, "pref_f": 1}]),
     ["loss/stage_splits/0 starts at step 2000000", "never apply"]),
    ("stage missing pref", W, setter("loss", "stage_splits",
                                     value=[{"start_step": 5, "pref_e": 1}]),
     ["missing key loss/stage_splits/0/pref_f"]),
    ("two stages same start", W, setter(
        "loss", "stage_splits", value=[{"start_step": 5, "pref_e": 1, "pref_f": 1},
                                       {"fraction": 0.000005, "pref_e": 2, "pref_f": 2}]),
     ["loss/stage_splits: two stages start at step 5"]),
    ("duplicate type_map entries", W, setter("model", "type_map", value=["O", "O"]),
     ["model/type_map = [\"O\", \"O\"] is invalid", "distinct"]),
    # multitask
    ("unknown model_prob branch", M, setter("training", "model_prob", "water_3", value=0.5),
     ["training/model_prob names unknown branch 'water_3'", "did you mean",
      "valid branches: water_1, water_2"]),
    ("negative model_prob", M, setter("training", "model_prob", "water_1", value=-1),
     ["training/model_prob = ", "is invalid: values must be numbers >= 0"]),
    ("missing loss_dict entry", M, setter("loss_dict", "water_2", delete=True),
     ["branch 'water_2' of model/model_dict has no loss_dict entry", "add loss_dict/water_2"]),
    ("extra loss_dict entry", M, setter("loss_dict", "water_9", value={"type": "ener"}),
     ["loss_dict/water_9 names no branch of model/model_dict", "branches: water_1, water_2"]),
    ("missing loss_dict", M, setter("loss_dict", delete=True), ["missing key loss_dict"]),
    ("missing data_dict", M, setter("training", "data_dict", delete=True),
     ["missing key training/data_dict"]),
    ("single-task data in multitask", M, setter("training", "training_data",
                                                value={"systems": "x"}),
     ["unknown key training/training_data"]),
    ("missing data_dict entry", M, setter("training", "data_dict", "water_1", delete=True),
     ["branch 'water_1' of model/model_dict has no training/data_dict entry"]),
    ("loss instead of loss_dict", M, setter("loss_dict", rename="loss"),
     ["unknown key loss", "did you mean 'loss_dict'?"]),
    ("reserved branch name", M, setter("model", "model_dict", "water_2", rename="RANDOM"),
     ["model/model_dict/RANDOM: the branch name RANDOM is reserved"]),
    ("sharing level 1", M, setter("model", "model_dict", "water_2", "descriptor",
                                  value="se_e2_a_descriptor:1"),
     ["model/model_dict/water_2/descriptor = 'se_e2_a_descriptor:1'",
      "sharing level '1' is not supported, only level 0"]),
    ("unknown shared reference", M, setter("model", "model_dict", "water_2", "descriptor",
                                           value="se_e2_a_descr"),
     ["names no model/shared_dict entry", "did you mean 'se_e2_a_descriptor'?",
      "shared_dict entries: type_map_all, se_e2_a_descriptor"]),
    ("unknown key in shared descriptor", M, setter(*SHARED_DESC, "rcut", rename="rcutt"),
     ["unknown key model/shared_dict/se_e2_a_descriptor/rcutt", "used by branch water_1",
      "did you mean 'rcut'?"]),
    ("rcut_smth >= rcut in shared descriptor", M, setter(*SHARED_DESC, "rcut_smth", value=7),
     ["model/shared_dict/se_e2_a_descriptor/rcut_smth (7.0) must be smaller than "
      "model/shared_dict/se_e2_a_descriptor/rcut (6.0)", "used by branch water_1"]),
    ("different type maps", M, setter("model", "model_dict", "water_2", "type_map",
                                      value=["H", "O"]),
     ["branches have different type_map", "water_1: ['O', 'H']", "water_2: ['H', 'O']"]),
    ("case embedding", S, setter("model", "shared_dict", "shared_fit_with_id",
                                 "dim_case_embd", value=2),
     ["model/shared_dict/shared_fit_with_id/dim_case_embd = 2 is a DeePMD-kit option",
      "used by branch water_1"]),
    ("empty model_dict", M, setter("model", "model_dict", value={}),
     ["model/model_dict must be an object with at least one branch"]),
    ("multitask data systems empty", M, setter("training", "data_dict", "water_2",
                                               "training_data", "systems", value=[]),
     ["training/data_dict/water_2/training_data/systems is empty"]),
]


@pytest.mark.parametrize("case,fixture,mutate,expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input_message(case, fixture, mutate, expected):
    raw = read(fixture)
    mutate(raw)
    with pytest.raises(InputError) as info:
        normalize(raw, source=fixture)
    text = str(info.value)
    for piece in expected:
        assert piece in text, f"{case}: {piece!r} not in {text!r}"
    assert "\n" not in text, f"{case}: message is not one line: {text!r}"
    assert info.value.hint, f"{case}: no hint"
    assert text.startswith(f"{fixture}: ") or fixture not in text, case


def test_normalized_links_that_disagree_are_rejected(sharefit):
    out = normalize(sharefit)
    out["model"]["model_dict"]["water_2"]["fitting_net"]["neuron"] = [64, 64]
    with pytest.raises(InputError, match="shared_links/shared_fit_with_id: water_1/fitting_net "
                                         "and water_2/fitting_net share one module but differ "
                                         "in neuron"):
        normalize(out)


def test_links_naming_unknown_branch_are_rejected(multi):
    out = normalize(multi)
    out["model"]["shared_links"]["se_e2_a_descriptor"].append("water_7/descriptor")
    with pytest.raises(InputError, match="'water_7/descriptor' is not"):
        normalize(out)


def test_top_level_not_an_object():
    with pytest.raises(InputError, match="must be a JSON object"):
        normalize([1, 2], source="x.json")


JSON_CASES = [
    ("missing comma", '{\n  "model": {\n    "type_map": ["O", "H"]\n    "descriptor": {}\n  }\n}',
     ["invalid JSON at line 4, column 5", "Expecting ',' delimiter"]),
    ("trailing comma", '{"a": 1,\n}', ["invalid JSON at line 2, column 1"]),
    ("unquoted key", '{\n  model: 1\n}', ["invalid JSON at line 2, column 3",
                                          "property name"]),
    ("duplicate key", '{"training": {"seed": 1, "seed": 2}}', ["key 'seed' appears twice"]),
    ("not an object", '[1, 2]', ["must be a JSON object, got list"]),
]


@pytest.mark.parametrize("case,text,expected", JSON_CASES, ids=[c[0] for c in JSON_CASES])
def test_load_input_errors(case, text, expected, tmp_path):
    path = tmp_path / "input.json"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_input(path)
    message = str(info.value)
    assert str(path) in message, case
    for piece in expected:
        assert piece in message, f"{case}: {piece!r} not in {message!r}"


def test_load_input_missing_file(tmp_path):
    with pytest.raises(InputError, match="input file .*nope.json not found"):
        load_input(tmp_path / "nope.json")


def test_repeated_comment_keys_are_fine(tmp_path):
    path = tmp_path / "input.json"
    path.write_text('{"_comment": "a", "_comment": "b", "x": 1}')
    assert load_input(path) == {"_comment": "b", "x": 1}


def leaf_paths(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaf_paths(v, path + (k,))
    elif isinstance(value, list) and value and isinstance(value[0], (dict, list)):
        for i, v in enumerate(value):
            yield from leaf_paths(v, path + (i,))
    yield path


@pytest.mark.parametrize("fixture", [W, M, S])
def test_any_wrong_value_anywhere_gives_input_error_only(fixture):
    """Swap every node for values of other JSON types: InputError or success, nothing else."""
    base = read(fixture)
    swaps = [None, True, "x", -1, 0, 2.5, [], [1], {}, {"a": 1}]
    failures = 0
    for path in leaf_paths(base):
        if not path:
            continue
        for swap in swaps:
            raw = read(fixture)
            node = raw
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = swap
            try:
                normalize(raw, source=fixture)
            except InputError as err:
                failures += 1
                assert "\n" not in str(err)
    assert failures > 100
