"""The schema printout (deepft doc-train-input) and the schema's own consistency."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest
from dargs import Argument

from deepft.config import normalize
from deepft.config._args import InertArgument
from deepft.config.check import matches
from deepft.config.doc import doc_json, doc_text, print_doc
from deepft.config.schema import gen_args

EXPECTED_PATHS = [
    "model/type_map", "model/descriptor[se_e2_a]/rcut_smth", "model/descriptor[se_e2_a]/sel",
    "model/fitting_net[ener]/trainable", "model/data_stat_nbatch", "model/finetune_head",
    "learning_rate[exp]/decay_steps", "learning_rate/start_lr", "loss[ener]/stage_splits",
    "loss[ener]/stage_splits/fraction", "loss[ener]/limit_pref_pf",
    "training/training_data/batch_size", "training/validation_data/numb_btch",
    "training/finetune[lora]/rank", "training/finetune[new_head]/scale_factor",
    "training/finetune[inherit]/from_branch", "training/nan_policy", "training/restart",
    "model/model_dict", "model/shared_dict", "model/shared_links", "loss_dict",
    "training/data_dict/training_data/systems", "training/model_prob",
]


def test_text_doc_lists_every_key_path():
    text = doc_text()
    for path in EXPECTED_PATHS:
        assert f"argument path: ``{path}``" in text, path


def test_print_doc_writes_text_and_json(capsys):
    print_doc("text")
    assert "rcut_smth" in capsys.readouterr().out
    print_doc("json")
    data = json.loads(capsys.readouterr().out)
    names = [a["name"] for a in data["single_task"]]
    assert names == ["model", "learning_rate", "loss", "training"]
    assert [a["name"] for a in data["multi_task"]] == ["model", "learning_rate", "loss_dict",
                                                       "training"]
    with pytest.raises(ValueError):
        print_doc("html")


def test_json_doc_carries_defaults_and_docs():
    data = json.loads(doc_json())
    model = data["single_task"][0]
    descriptor = model["sub_fields"]["descriptor"]
    se_a = descriptor["sub_variants"]["type"]["choice_dict"]["se_e2_a"]
    assert se_a["sub_fields"]["rcut"]["default"] == 6.0
    assert se_a["sub_fields"]["rcut"]["doc"].startswith("Cut-off radius")
    assert "se_a" in se_a["alias"]


def test_cli_prints_the_doc():
    run = subprocess.run([sys.executable, "-m", "deepft", "doc-train-input", "--out-type",
                          "json"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["single_task"][0]["name"] == "model"


def walk(arg, seen):
    seen.append(arg)
    for sub in arg.sub_fields.values():
        walk(sub, seen)
    for variant in arg.sub_variants.values():
        for choice in variant.choice_dict.values():
            walk(choice, seen)
    return seen


@pytest.mark.parametrize("multi_task", [False, True])
def test_every_key_has_a_doc(multi_task):
    for top in gen_args(multi_task):
        for arg in walk(top, []):
            assert arg.doc.strip(), f"{arg.name} has no doc"


@pytest.mark.parametrize("multi_task", [False, True])
def test_inert_keys_are_optional_without_default_and_their_off_value_has_their_type(
        multi_task):
    inert = [a for top in gen_args(multi_task) for a in walk(top, [])
             if isinstance(a, InertArgument)]
    assert len(inert) > 20
    for arg in inert:
        assert arg.optional and arg.default is Argument("x", int).default, arg.name
        assert any(matches(arg.off_value, t, exact=False) for t in arg.dtype), arg.name
        assert "accepted only as" in arg.doc


def schema_keys(arg) -> set[str]:
    keys = set(arg.sub_fields)
    for variant in arg.sub_variants.values():
        for choice in variant.choice_dict.values():
            keys |= {k for k, a in choice.sub_fields.items() if not isinstance(a, InertArgument)}
    return {k for k in keys if not isinstance(arg.sub_fields.get(k), InertArgument)}


def constructor_params(cls) -> set[str]:
    return set(inspect.signature(cls).parameters) - {"self", "args", "kwargs"}


def test_descriptor_and_fitting_keys_match_the_model_constructors():
    """The schema lives with the component: every key is a constructor argument and back."""
    model = pytest.importorskip("deepft.model")
    if not hasattr(model, "DescrptSeA") or not hasattr(model, "EnergyFitting"):
        pytest.skip("deepft.model has no DescrptSeA/EnergyFitting yet")
    from deepft.config.descriptor import descriptor_arg
    from deepft.config.fitting import fitting_arg

    # ntypes/dim_descrpt are derived from the type map and the descriptor; a DPA-1's
    # stripped_type_embedding is folded into tebd_input_mode by the cross-field checks;
    # the fitting's mixed_types follows the descriptor
    variants = descriptor_arg().sub_variants["type"].choice_dict
    for name, cls, derived in (("se_e2_a", model.DescrptSeA, set()),
                               ("dpa1", model.DescrptDPA1, {"stripped_type_embedding"})):
        keys = {k for k, a in variants[name].sub_fields.items()
                if not isinstance(a, InertArgument)} - derived
        assert keys == constructor_params(cls) - {"ntypes"}, name
    fit = schema_keys(fitting_arg())
    assert fit == constructor_params(model.EnergyFitting) - {"ntypes", "dim_descrpt",
                                                             "mixed_types"}


def test_schema_defaults_pass_their_own_checks():
    # a model given no options at all: every default goes through the checker
    raw = {"model": {"type_map": ["A"], "descriptor": {"type": "se_e2_a"}, "fitting_net": {}},
           "learning_rate": {"start_lr": 1.0},
           "training": {"training_data": {"systems": "d"}, "numb_steps": 1}}
    out = normalize(raw)
    assert out["training"]["finetune"]["method"] == "full"
