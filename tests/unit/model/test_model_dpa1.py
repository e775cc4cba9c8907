"""DPA-1 specifics: training derivatives, type-map changes, empty slots, the input spellings.

(DeePMD-kit equality: test_model_dpa1_reference.py; invariances, finite differences and
smoothness for both descriptors: tests/physics.)
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from support.frames import load_frames_torch
from support.models import random_rotation

from deepft.config import normalize
from deepft.errors import InputError
from deepft.model import build_model, change_type_map

F64 = torch.float64


def dpa1_section(type_map, **desc) -> dict:
    base = {"type": "dpa1", "sel": [40], "rcut": 4.0, "rcut_smth": 0.5, "neuron": [4, 8],
            "axis_neuron": 4, "tebd_dim": 4, "attn": 8, "attn_layer": 2, "seed": 5,
            "set_davg_zero": False}
    base.update(desc)
    return {"type_map": list(type_map), "descriptor": base,
            "fitting_net": {"type": "ener", "neuron": [8, 8], "seed": 6}}


def with_stats(model, seed=0):
    rng = np.random.default_rng(seed)
    n = model.descriptor.get_ntypes()
    davg = np.zeros((n, 4))
    davg[:, 0] = rng.uniform(0.05, 0.2, n)
    dstd = np.concatenate([rng.uniform(0.1, 0.2, (n, 1)),
                           rng.uniform(0.05, 0.1, (n, 1)).repeat(3, 1)], 1)
    model.descriptor.set_stats(davg, dstd)
    with torch.no_grad():
        model.fitting.bias_atom_e.copy_(torch.as_tensor(rng.normal(-3, 1, n)))
    return model


@pytest.fixture(scope="module")
def water(water_dir):
    return load_frames_torch(water_dir / "data_0", [0, 3], ("O", "H"))


@pytest.mark.parametrize("mode", ["concat", "strip"])
def test_force_loss_gradient_is_exact(water, mode):
    """Training differentiates the forces w.r.t. the parameters (double backward through the
    attention and the environment-matrix kernel): d(Σ F·w)/dθ equals its finite difference."""
    coord, box, atype = water
    model = with_stats(build_model(dpa1_section(["O", "H"], tebd_input_mode=mode))).train()
    weights = torch.randn(coord[:1].shape, dtype=F64, generator=torch.Generator().manual_seed(2))
    theta = model.descriptor.attention[0].in_proj.matrix

    def loss():
        return (model(coord[:1], box[:1], atype)["force"] * weights).sum()

    (grad,) = torch.autograd.grad(loss(), theta)
    h = 1e-6
    for idx in [(0, 0), (3, 5), (7, 20)]:
        with torch.no_grad():
            theta[idx] += h
        up = loss().item()
        with torch.no_grad():
            theta[idx] -= 2 * h
        down = loss().item()
        with torch.no_grad():
            theta[idx] += h
        fd = (up - down) / (2 * h)
        assert abs(fd - grad[idx].item()) < 1e-7 * max(1.0, abs(fd)), (mode, idx, fd, grad[idx])


@pytest.mark.parametrize("tebd_dim", [4, 2])  # 2 = ntypes: the type embedding's resnet skip
@pytest.mark.parametrize("new_map", [["O", "H", "C"], ["H", "O"], ["C", "H", "O", "N"]])
def test_type_map_change_keeps_known_elements_exactly(water, tebd_dim, new_map):
    coord, box, atype = water
    model = with_stats(build_model(dpa1_section(["O", "H"], tebd_dim=tebd_dim))).eval()
    before = model(coord, box, atype, do_atomic_virial=True)
    changed = copy.deepcopy(model)
    fresh = change_type_map(changed, new_map, seed=11)
    assert fresh["descriptor"] == [t for t, e in enumerate(new_map) if e not in ("O", "H")]
    assert changed.descriptor.types_without_stats == fresh["descriptor"]
    remap = torch.as_tensor([new_map.index(e) for e in ("O", "H")])
    after = changed(coord, box, remap[atype], do_atomic_virial=True)
    for key in ("energy", "atom_energy", "force", "virial", "atom_virial"):
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=1e-12, msg=key)
    assert changed.descriptor.type_embedding.layers[0].matrix.shape[0] == len(new_map)
    # every type gets its own row: a new element's embedding differs from the known ones
    table = changed.descriptor.type_embedding_table()[:-1]
    assert len({tuple(row.tolist()) for row in table}) == len(new_map)


def test_new_element_rows_are_trainable_under_any_freezing(water):
    """parameters_of_types names the type-embedding matrix, the only per-type parameter of the
    descriptor (the mixed-types fitting has one net for all elements)."""
    model = build_model(dpa1_section(["O", "H"]))
    change_type_map(model, ["O", "H", "C"], seed=1)
    params = model.descriptor.parameters_of_types([2])
    assert [p is model.descriptor.type_embedding.layers[0].matrix for p in params] == [True]
    assert model.descriptor.parameters_of_types([]) == []
    assert model.fitting.parameters_of_types([2]) == [] and len(model.fitting.nets) == 1


def test_empty_slots_do_not_depend_on_atom_order(organic_dir):
    """concat mode, davg != 0 and empty slots: deepft gives an empty slot the padding type (zero
    type embedding), so the energy is permutation invariant (DeePMD-kit 3.2.0 uses the type of
    atom 0 there, see dpa1.py)."""
    coord, _, atype = load_frames_torch(organic_dir / "C3H3O4", [0], ("C", "H", "O"))
    model = with_stats(build_model(dpa1_section(["C", "H", "O"], sel=[20], rcut=6.0))).eval()
    ref = model(coord, None, atype)
    for seed in range(3):
        perm = torch.randperm(coord.shape[1], generator=torch.Generator().manual_seed(seed))
        out = model(coord[:, perm], None, atype[perm])
        torch.testing.assert_close(out["energy"], ref["energy"], rtol=1e-13, atol=0)
        torch.testing.assert_close(out["force"], ref["force"][:, perm], rtol=0, atol=1e-12)
    rot = random_rotation(3)
    out = model(coord @ rot.T, None, atype)
    torch.testing.assert_close(out["energy"], ref["energy"], rtol=1e-13, atol=0)


def test_concat_is_smooth_at_rcut_with_zero_davg():
    """DPA-1's default (set_davg_zero) keeps the concat form continuous when a neighbor leaves."""
    model = build_model(dpa1_section(["O", "H", "C"], set_davg_zero=True,
                                     smooth_type_embedding=True)).eval()
    rcut = model.descriptor.rcut

    def frame(r):
        return torch.tensor([[[0.0, 0.0, 0.0], [-0.96, 0.0, 0.0], [r, 0.0, 0.0]]], dtype=F64)

    inside = model(frame(rcut - 1e-7), None, torch.tensor([0, 1, 2]))
    outside = model(frame(rcut + 1e-7), None, torch.tensor([0, 1, 2]))
    assert abs((inside["energy"] - outside["energy"]).item()) < 1e-10
    torch.testing.assert_close(inside["force"], outside["force"], rtol=0, atol=1e-8)


def minimal(desc: dict) -> dict:
    return {"model": {"type_map": ["O", "H"], "descriptor": desc,
                      "fitting_net": {"neuron": [8]}},
            "learning_rate": {"type": "exp", "start_lr": 1e-3, "stop_lr": 1e-5},
            "loss": {"type": "ener"},
            "training": {"training_data": {"systems": ["x"]}, "numb_steps": 1}}


@pytest.mark.parametrize("desc, want", [
    ({"type": "se_atten", "sel": 30}, {"type": "dpa1", "sel": [30], "tebd_input_mode": "concat"}),
    ({"type": "dpa1", "sel": [10, 20]}, {"sel": [30]}),
    ({"type": "dpa1", "stripped_type_embedding": True}, {"tebd_input_mode": "strip"}),
    ({"type": "dpa1", "ln_eps": None}, {"ln_eps": 1e-5, "set_davg_zero": True}),
    ({"type": "se_atten_v2", "sel": 30}, {"type": "se_atten_v2", "set_davg_zero": False}),
])
def test_input_spellings_normalize_to_one_form(desc, want):
    out = normalize(minimal(desc))["model"]["descriptor"]
    assert {k: out[k] for k in want} == want
    assert "stripped_type_embedding" not in out
    assert normalize(normalize(minimal(desc)))["model"]["descriptor"] == out


def test_se_atten_v2_is_strip_with_smooth_type_embedding():
    model = build_model(normalize(minimal({"type": "se_atten_v2", "sel": 30}))["model"])
    assert model.descriptor.tebd_input_mode == "strip" and model.descriptor.smooth


@pytest.mark.parametrize("key, value, words", [
    ("attn_mask", True, "attn_mask"),
    ("use_econf_tebd", True, "use_econf_tebd"),
    ("env_protection", 0.1, "env_protection"),
    ("lmax", 2, "lmax"),
    ("tebd_input_mode", "both", "tebd_input_mode"),
    ("post_ln", True, "DeePMD-kit 3.2.0 no longer accepts"),
    ("head_num", 2, "one head"),
    ("sel", 0, "sel"),
])
def test_unsupported_values_are_refused_by_name(key, value, words):
    with pytest.raises(InputError, match=words):
        normalize(minimal({"type": "dpa1", key: value}))
