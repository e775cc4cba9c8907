"""deepft freeze: checkpoint -> model.dft (single task, multitask, one branch, LoRA merged)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from support.tolerances import STRICT

from deepft.commands.freeze import freeze
from deepft.errors import InputError, ModelFileError
from deepft.infer import DeepPot
from deepft.io import read_model_file

TYPE_MAP = ["O", "H"]


def section(seed: int, fitting=(16, 16)) -> dict:
    return {
        "type_map": TYPE_MAP,
        "descriptor": {"type": "se_e2_a", "sel": [20, 40], "rcut": 4.0, "rcut_smth": 0.5,
                       "neuron": [4, 8, 16], "axis_neuron": 4, "resnet_dt": False,
                       "type_one_side": True, "activation_function": "tanh",
                       "precision": "float64", "seed": seed},
        "fitting_net": {"type": "ener", "neuron": list(fitting), "resnet_dt": True,
                        "activation_function": "tanh", "precision": "float64",
                        "seed": seed + 1},
    }


def frame():
    rng = np.random.default_rng(0)
    coord = rng.uniform(0, 7.0, (24, 3))
    box = (np.eye(3) * 7.0).reshape(1, 9)
    atype = np.array([0] * 8 + [1] * 16)
    return coord[None], box, atype


def perturb_buffers(model, seed):
    """Non-trivial statistics and biases (a fresh model has davg 0, dstd 1, bias 0)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if hasattr(m, "davg"):
                m.davg[:, 0] = 0.1 + 0.1 * torch.rand(m.davg.shape[0], generator=g,
                                                      dtype=torch.float64)
                m.dstd.copy_(0.2 + 0.2 * torch.rand(m.dstd.shape, generator=g,
                                                    dtype=torch.float64))
            if hasattr(m, "bias_atom_e"):
                m.bias_atom_e.copy_(-50 + 10 * torch.randn(m.bias_atom_e.shape, generator=g,
                                                           dtype=torch.float64))


def save(tmp_path, model, cfg, name="model.ckpt"):
    from deepft.checkpoint import save_checkpoint

    branches = list(model.branches) if hasattr(model, "branches") else ["Default"]
    state = {"config": cfg, "model": model.state_dict(), "branches": branches,
             "optimizer": {}, "step": 10}
    return save_checkpoint(state, str(tmp_path / name), 10, max_keep=2)


def torch_energy_force(model, coord, box, atype):
    out = model(torch.as_tensor(coord), torch.as_tensor(box), torch.as_tensor(atype))
    return out["energy"].detach().numpy(), out["force"].detach().numpy()


@pytest.fixture()
def single(tmp_path):
    from deepft.model import build_from_config

    cfg = {"model": section(1)}
    model = build_from_config(cfg).eval()
    perturb_buffers(model, 0)
    return model, cfg, save(tmp_path, model, cfg)


def test_single_task_freeze_matches_model(tmp_path, single):
    model, _, ckpt = single
    out = freeze(ckpt, tmp_path / "model.dft")
    frozen = read_model_file(out)
    assert frozen.branches == ["Default"] and frozen.type_map == TYPE_MAP
    assert set(frozen.tensors) == set(model.state_dict())
    br = frozen.branch()
    assert br["descriptor_prefix"] == "descriptor." and br["fitting_prefixes"] == ["fitting."]
    assert br["descriptor"]["sel"] == [20, 40] and br["descriptor"]["rcut"] == 4.0
    coord, box, atype = frame()
    e, f, _ = DeepPot(out).eval(coord, box, atype)
    te, tf = torch_energy_force(model, coord, box, atype)
    np.testing.assert_allclose(e, te, rtol=0, atol=STRICT)
    np.testing.assert_allclose(f, tf, rtol=0, atol=STRICT)
    assert frozen.header["config"]["model"]["type_map"] == TYPE_MAP


def test_freeze_command_and_cli(tmp_path, single):
    _, _, ckpt = single
    assert freeze(ckpt, str(tmp_path / "a.dft")) == tmp_path / "a.dft"
    assert (tmp_path / "a.dft").exists()
    proc = subprocess.run([sys.executable, "-m", "deepft", "freeze", "-c", str(ckpt), "-o",
                           str(tmp_path / "b.dft")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "a.dft").read_bytes() == (tmp_path / "b.dft").read_bytes()


def test_multitask_all_branches_and_one_branch(tmp_path):
    from deepft.model import build_from_config

    cfg = {"model": {
        "model_dict": {"water": section(1), "ice": section(1, fitting=(8, 8))},
        "shared_links": {"desc": ["water/descriptor", "ice/descriptor"]},
    }}
    model = build_from_config(cfg).eval()
    perturb_buffers(model, 1)
    ckpt = save(tmp_path, model, cfg)
    out = freeze(ckpt, tmp_path / "multi.dft")
    frozen = read_model_file(out)
    assert frozen.branches == ["water", "ice"] and frozen.default_branch == "water"
    # the shared descriptor is stored once
    desc_keys = [k for k in frozen.tensors if ".descriptor." in k]
    assert desc_keys and all(k.startswith("branches.water.descriptor.") for k in desc_keys)
    assert frozen.branch("ice")["descriptor_prefix"] == "branches.water.descriptor."
    coord, box, atype = frame()
    for name in ("water", "ice"):
        e, f, _ = DeepPot(out, branch=name).eval(coord, box, atype)
        te, tf = torch_energy_force(model.branches[name], coord, box, atype)
        np.testing.assert_allclose(e, te, rtol=0, atol=STRICT, err_msg=name)
        np.testing.assert_allclose(f, tf, rtol=0, atol=STRICT, err_msg=name)
    one = read_model_file(freeze(ckpt, tmp_path / "ice.dft", model_branch="ice"))
    assert one.branches == ["ice"] and one.default_branch == "ice"
    assert not any(k.startswith("branches.water.fitting.") for k in one.tensors)
    e, _, _ = DeepPot(tmp_path / "ice.dft").eval(coord, box, atype)
    np.testing.assert_allclose(e, torch_energy_force(model.branches["ice"], coord, box,
                                                     atype)[0], atol=STRICT)
    with pytest.raises(InputError, match=r"'gas' is not a branch .*\['water', 'ice'\]"):
        freeze(ckpt, tmp_path / "x.dft", model_branch="gas")


def test_lora_adapters_are_merged(tmp_path):
    from deepft.model import apply_lora, build_from_config

    cfg = {"model": section(2), "training": {"finetune": {"method": "lora", "rank": 2,
                                                           "alpha": 3.0}}}
    model = build_from_config(cfg).eval()
    perturb_buffers(model, 2)
    paths = apply_lora(model, rank=2, alpha=3.0, seed=4)
    assert paths
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("lora_b"):
                p.normal_(0.0, 0.3)
    assert any(k.endswith("lora_a") for k in model.state_dict())
    ckpt = save(tmp_path, model, cfg)
    out = freeze(ckpt, tmp_path / "lora.dft")
    assert not any("lora" in k for k in read_model_file(out).tensors)
    coord, box, atype = frame()
    e, f, _ = DeepPot(out).eval(coord, box, atype)
    te, tf = torch_energy_force(model, coord, box, atype)
    np.testing.assert_allclose(e, te, rtol=0, atol=STRICT)
    np.testing.assert_allclose(f, tf, rtol=0, atol=STRICT)
    # without the LoRA alpha the adapters cannot be merged: a clear error, not a wrong model
    bad_cfg = {"model": section(2)}
    ckpt2 = save(tmp_path, model, bad_cfg, name="noalpha")
    with pytest.raises(ModelFileError, match="LoRA adapters but no LoRA alpha"):
        freeze(ckpt2, tmp_path / "bad.dft")


def test_bad_checkpoint(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelFileError, match="bad.pt"):
        freeze(bad, tmp_path / "x.dft")
    assert not (tmp_path / "x.dft").exists()


# ---- DPA-1 -----------------------------------------------------------------------------------

def dpa1_section(seed: int, fitting=(16, 16)) -> dict:
    return {
        "type_map": TYPE_MAP,
        "descriptor": {"type": "dpa1", "sel": [30], "rcut": 4.0, "rcut_smth": 0.5,
                       "neuron": [4, 8], "axis_neuron": 4, "tebd_dim": 4, "attn": 8,
                       "attn_layer": 1, "tebd_input_mode": "strip", "set_davg_zero": False,
                       "seed": seed},
        "fitting_net": {"type": "ener", "neuron": list(fitting), "seed": seed + 1},
    }


def test_dpa1_header_holds_every_hyper_parameter(tmp_path):
    from deepft.model import build_from_config

    cfg = {"model": dpa1_section(3)}
    cfg["model"]["descriptor"].update(temperature=0.5, attn_dotr=False, ln_eps=1e-6)
    model = build_from_config(cfg).eval()
    perturb_buffers(model, 2)
    br = read_model_file(freeze(save(tmp_path, model, cfg), tmp_path / "m.dft")).branch()
    assert br["descriptor"] == {
        "type": "dpa1", "sel": [30], "rcut": 4.0, "rcut_smth": 0.5, "neuron": [4, 8],
        "axis_neuron": 4, "resnet_dt": False, "type_one_side": False,
        "activation_function": "tanh", "precision": "float64", "tebd_dim": 4,
        "tebd_input_mode": "strip", "use_tebd_bias": False, "attn": 8, "attn_layer": 1,
        "attn_dotr": False, "normalize": True, "temperature": 0.5, "scaling_factor": 1.0,
        "smooth_type_embedding": True, "ln_eps": 1e-6, "concat_output_tebd": True}
    assert br["fitting_net"]["mixed_types"] is True
    assert DeepPot(tmp_path / "m.dft").sel == [30]


def test_dpa1_round_trip_through_the_file(tmp_path):
    """freeze -> model.dft -> (C++ core, and io.to_torch back to a torch model): the same
    predictions as the trained model."""
    from deepft.io.to_torch import frozen_branch_model
    from deepft.model import build_from_config

    cfg = {"model": dpa1_section(5)}
    model = build_from_config(cfg).eval()
    perturb_buffers(model, 3)
    frozen = read_model_file(freeze(save(tmp_path, model, cfg), tmp_path / "m.dft"))
    rebuilt = frozen_branch_model(frozen, "Default").eval()
    assert rebuilt.fitting.mixed_types and len(rebuilt.fitting.nets) == 1
    coord, box, atype = frame()
    te, tf = torch_energy_force(model, coord, box, atype)
    re_, rf = torch_energy_force(rebuilt, coord, box, atype)
    np.testing.assert_array_equal(re_, te)
    np.testing.assert_array_equal(rf, tf)
    e, f, _ = DeepPot(tmp_path / "m.dft").eval(coord, box, atype)
    np.testing.assert_allclose(e, te, rtol=0, atol=STRICT)
    np.testing.assert_allclose(f, tf, rtol=0, atol=STRICT)


def test_dpa1_multitask_branches(tmp_path):
    """Two branches over one shared DPA-1 descriptor: stored once, each branch (and a file of
    one branch) evaluates as its torch branch."""
    from deepft.model import build_from_config

    cfg = {"model": {
        "model_dict": {"water": dpa1_section(1), "ice": dpa1_section(1, fitting=(8, 8))},
        "shared_links": {"desc": ["water/descriptor", "ice/descriptor"]},
    }}
    model = build_from_config(cfg).eval()
    perturb_buffers(model, 4)
    ckpt = save(tmp_path, model, cfg)
    frozen = read_model_file(freeze(ckpt, tmp_path / "multi.dft"))
    assert frozen.branch("ice")["descriptor_prefix"] == "branches.water.descriptor."
    coord, box, atype = frame()
    for name in ("water", "ice"):
        e, f, _ = DeepPot(tmp_path / "multi.dft", branch=name).eval(coord, box, atype)
        te, tf = torch_energy_force(model.branches[name], coord, box, atype)
        np.testing.assert_allclose(e, te, rtol=0, atol=STRICT, err_msg=name)
        np.testing.assert_allclose(f, tf, rtol=0, atol=STRICT, err_msg=name)
    freeze(ckpt, tmp_path / "ice.dft", model_branch="ice")
    e, _, _ = DeepPot(tmp_path / "ice.dft").eval(coord, box, atype)
    np.testing.assert_allclose(e, torch_energy_force(model.branches["ice"], coord, box,
                                                     atype)[0], rtol=0, atol=STRICT)
