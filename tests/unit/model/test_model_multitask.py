"""Model building from normalized configs; MultiTaskModel shares module objects."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from deepft.config import load_input, normalize
from deepft.config.descriptor import se_e2_a_args
from deepft.config.fitting import ener_args
from deepft.model import EnergyModel, MultiTaskModel, build_from_config, build_multitask_model
from deepft.model.build import FITTING_KEYS, SE_E2_A_KEYS

INPUTS = Path(__file__).resolve().parents[1] / "config" / "inputs"


def schema_keys(args) -> set[str]:
    """Keys of a component schema that survive normalization (inert keys are dropped)."""
    return {a.name for a in args if "does not implement" not in (a.doc or "")}


def test_schema_keys_equal_constructor_args():
    assert schema_keys(se_e2_a_args()) == set(SE_E2_A_KEYS)
    assert schema_keys(ener_args()) == set(FITTING_KEYS)


def test_single_task_from_normalized_input():
    cfg = normalize(load_input(INPUTS / "water_se_e2_a.json"), "water_se_e2_a.json")
    model = build_from_config(cfg)
    assert isinstance(model, EnergyModel) and model.type_map == ["O", "H"]
    assert model.descriptor.dim_out == 100 * 16
    keys = set(model.state_dict())
    assert {"descriptor.davg", "descriptor.dstd", "descriptor.embeddings.1.layers.2.matrix",
            "fitting.nets.1.layers.3.bias", "fitting.bias_atom_e"} <= keys
    assert "fitting.nets.0.layers.1.idt" in keys  # resnet_dt: 240 -> 240 has idt
    assert "fitting.nets.0.layers.0.idt" not in keys  # no skip, no idt


@pytest.mark.parametrize("name, shared_fit", [("water_multi_task_se_e2_a.json", False),
                                              ("water_multi_task_sharefit_se_e2_a.json", True)])
def test_multitask_shares_module_objects(name, shared_fit):
    cfg = normalize(load_input(INPUTS / name), name)
    model = build_from_config(cfg)
    assert isinstance(model, MultiTaskModel)
    a, b = (model.branches[n] for n in model.branch_names())
    assert a.descriptor is b.descriptor
    assert (a.fitting is b.fitting) == shared_fit
    n_unique = sum(p.numel() for p in model.parameters())  # parameters() deduplicates
    n_a = sum(p.numel() for p in a.parameters())
    n_fit = sum(p.numel() for p in a.fitting.parameters())
    assert n_unique == n_a + (0 if shared_fit else n_fit)
    # one set of weights: a change through one branch is seen by the other
    with torch.no_grad():
        a.descriptor.embeddings[0].layers[0].bias.add_(1.0)
    assert torch.equal(a.descriptor.embeddings[0].layers[0].bias,
                       b.descriptor.embeddings[0].layers[0].bias)
    # state dict round trip keeps the sharing (load writes the same object twice)
    again = build_from_config(cfg)
    again.load_state_dict(model.state_dict())
    branches = list(again.branches.values())
    assert branches[0].descriptor is branches[1].descriptor
    assert torch.equal(branches[1].descriptor.embeddings[0].layers[0].bias,
                       a.descriptor.embeddings[0].layers[0].bias)


def test_multitask_forward_by_branch(water):
    section = {
        "model_dict": {
            b: {"type_map": ["O", "H"],
                "descriptor": {"type": "se_e2_a", "sel": [20, 40], "rcut": 4.0,
                               "rcut_smth": 0.5, "neuron": [4, 8], "axis_neuron": 2,
                               "seed": 1},
                "fitting_net": {"type": "ener", "neuron": [6], "seed": s}}
            for b, s in (("w1", 2), ("w2", 3))},
        "shared_links": {"d": ["w1/descriptor", "w2/descriptor"]},
    }
    model = build_multitask_model(section).eval()
    coord, box, atype = water
    e1 = model(coord, box, atype, branch="w1")["energy"]
    e2 = model(coord, box, atype, branch="w2")["energy"]
    torch.testing.assert_close(e1, model.branches["w1"](coord, box, atype)["energy"])
    assert not torch.allclose(e1, e2)  # different fitting nets
    with pytest.raises(KeyError, match="w3"):
        model(coord, box, atype, branch="w3")
    assert model.shared_links == {"d": ["w1/descriptor", "w2/descriptor"]}
