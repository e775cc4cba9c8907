"""C++ inference core = torch EnergyModel (deepft.model), frozen through the freeze serializer.

Real data (water with PBC, organic molecules without), random weights with statistics from the
data and non-zero energy biases, both embedding layouts (type_one_side true/false), every
activation, multitask branches sharing a descriptor, and a float32 model.

DPA-1 (the second half): concat and strip type embedding, 0 to 2 attention layers, both
type_one_side, smooth or not, the attention variants (no dotr, no normalize, a temperature,
a type-embedding bias, no concat_output_tebd) on water and the three-element organic
molecules, nonzero davg; an isolated atom (no neighbor: every slot empty), neighbors beyond
sel (the nearest kept), and a float32 model.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.frames import load_frames
from support.models import (
    ELEMENTS,
    build_energy_model,
    dpa1_model_section,
    freeze_to,
    model_section,
    randomize_stats,
    torch_predict,
)
from support.tolerances import (  # float64: energy, forces, virials, atomic ones: STRICT
    COARSE,
    FLOAT32_KERNEL,
    STRICT,
)

from deepft.infer import DeepPot

KEYS = ["energy", "force", "virial", "atom_energy", "atom_virial"]


@pytest.fixture(scope="module")
def systems(water_dir, organic_dir):
    return {
        "water": load_frames(water_dir / "data_0", 2, ELEMENTS),
        "C1H4O2": load_frames(organic_dir / "C1H4O2", 2, ELEMENTS),
        "C3H3O4": load_frames(organic_dir / "C3H3O4", 2, ELEMENTS),
    }


@pytest.fixture(scope="module")
def samples(systems):
    return [{"coord": c, "box": b, "atype": a} for c, b, a in systems.values()]


def core_predict(path, coord, box, atype, branch=None) -> dict:
    out = DeepPot(path, branch=branch).eval(coord, box, atype, atomic=True)
    return dict(zip(KEYS, out, strict=True))


def assert_agree(got: dict, want: dict, atol: float, case: str) -> None:
    for key in KEYS:
        g, w = got[key], want[key].reshape(got[key].shape)
        err = np.abs(g - w).max()
        assert err <= atol, f"{case}: {key} differs by {err:.3g} (max |value| " \
                            f"{np.abs(w).max():.3g}, tolerance {atol:g})"


@pytest.mark.parametrize("type_one_side", [True, False])
def test_float64_matches_torch(tmp_path, systems, samples, type_one_side):
    model = build_energy_model(model_section(type_one_side), samples, seed=3)
    path = freeze_to(model, tmp_path / "model.dft")
    for name, (coord, box, atype) in systems.items():
        want = torch_predict(model, coord, box, atype)
        assert np.abs(want["force"]).max() > 1e-3, "trivial forces make a weak test"
        got = core_predict(path, coord, box, atype)
        assert_agree(got, want, STRICT, f"{name}, type_one_side={type_one_side}")


@pytest.mark.parametrize("activation", ["gelu", "silu", "relu", "linear"])
def test_activations_match_torch(tmp_path, systems, samples, activation):
    section = model_section(True, activation=activation)
    model = build_energy_model(section, samples, seed=4)
    path = freeze_to(model, tmp_path / "model.dft")
    for name in ("water", "C3H3O4"):
        coord, box, atype = systems[name]
        assert_agree(core_predict(path, coord, box, atype),
                     torch_predict(model, coord, box, atype), STRICT, f"{name}, {activation}")


def test_multitask_branches_match_torch(tmp_path, systems, samples):
    from deepft.model import build_multitask_model

    section = model_section(False)
    fitting_b = dict(section["fitting_net"], neuron=[24, 24], seed=11)
    model_section_mt = {
        "model_dict": {
            "water": dict(section),
            "organic": dict(section, fitting_net=fitting_b),
        },
        "shared_links": {"shared_descriptor": ["water/descriptor", "organic/descriptor"]},
    }
    mt = build_multitask_model(model_section_mt).eval()
    assert mt.branches["water"].descriptor is mt.branches["organic"].descriptor
    randomize_stats(mt.branches["water"], samples, seed=5)
    randomize_stats(mt.branches["organic"], samples, seed=6)
    path = freeze_to(mt, tmp_path / "multi.dft")

    from deepft.io import read_model_file

    frozen = read_model_file(path)
    assert frozen.branches == ["water", "organic"]
    prefixes = {b: frozen.branch(b)["descriptor_prefix"] for b in frozen.branches}
    assert prefixes["water"] == prefixes["organic"] == "branches.water.descriptor."
    assert not any(k.startswith("branches.organic.descriptor.") for k in frozen.tensors)
    for branch in ("water", "organic"):
        for name in ("water", "C1H4O2"):
            coord, box, atype = systems[name]
            want = torch_predict(mt.branches[branch], coord, box, atype)
            got = core_predict(path, coord, box, atype, branch=branch)
            assert_agree(got, want, STRICT, f"branch {branch}, {name}")


def test_float32_model_matches_torch_float32(tmp_path, systems, samples):
    model = build_energy_model(model_section(True, precision="float32"), samples, seed=7)
    path = freeze_to(model, tmp_path / "model32.dft")
    assert DeepPot(path).precision == "float32"
    for name, (coord, box, atype) in systems.items():
        want = torch_predict(model, coord, box, atype)
        got = core_predict(path, coord, box, atype)
        # float32 nets: ~1e-7 relative per operation; energies carry float64 biases
        scale_f = np.abs(want["force"]).max()
        np.testing.assert_allclose(got["atom_energy"], want["atom_energy"], rtol=0, atol=2e-5,
                                   err_msg=name)
        np.testing.assert_allclose(got["energy"], want["energy"], rtol=0, atol=2e-4, err_msg=name)
        np.testing.assert_allclose(got["force"], want["force"], rtol=0, atol=2e-5 * scale_f + 1e-6,
                                   err_msg=name)
        np.testing.assert_allclose(got["virial"], want["virial"], rtol=0,
                                   atol=2e-5 * np.abs(want["virial"]).max() + 1e-6, err_msg=name)


def test_elements_cover_the_data(systems):
    used = set()
    for _, _, atype in systems.values():
        used |= {ELEMENTS[t] for t in atype}
    assert used == {"O", "H", "C"}
    assert torch.get_default_dtype() == torch.float32  # the model does not rely on a global


def test_sel_overflow_matches_torch(tmp_path, systems, samples):
    """sel smaller than the neighbor counts: both drop the same farthest neighbors."""
    section = model_section(True, sel=(12, 24, 2))
    model = build_energy_model(section, samples, seed=8)
    path = freeze_to(model, tmp_path / "small_sel.dft")
    coord, box, atype = systems["water"]
    assert_agree(core_predict(path, coord, box, atype), torch_predict(model, coord, box, atype),
                 STRICT, "water, sel overflow")


# ---- DPA-1 -----------------------------------------------------------------------------------

#: DPA-1 settings (dpa1_model_section overrides), covering every switch of the evaluator
DPA1_CASES = {
    "strip, smooth, 2 layers, two-sided": {},
    "strip, sharp, 2 layers, one-sided": {"smooth_type_embedding": False,
                                          "type_one_side": True},
    "strip, smooth, no attention, one-sided": {"attn_layer": 0, "type_one_side": True},
    "concat, smooth, 2 layers, one-sided": {"tebd_input_mode": "concat", "type_one_side": True},
    "concat, sharp, 2 layers, two-sided": {"tebd_input_mode": "concat",
                                           "smooth_type_embedding": False},
    "concat, no attention, two-sided": {"tebd_input_mode": "concat", "attn_layer": 0},
    "concat, attention variants": {"tebd_input_mode": "concat", "attn_layer": 1,
                                   "attn_dotr": False, "normalize": False, "temperature": 0.7,
                                   "use_tebd_bias": True, "concat_output_tebd": False,
                                   "activation_function": "gelu", "set_davg_zero": True},
}


def dpa1_model(samples, seed=11, precision="float64", **case):
    return build_energy_model(dpa1_model_section(precision, seed=seed, **case), samples, seed)


@pytest.mark.parametrize("case", list(DPA1_CASES))
def test_dpa1_float64_matches_torch(tmp_path, systems, samples, case):
    model = dpa1_model(samples, **DPA1_CASES[case])
    davg = model.descriptor.davg
    assert bool((davg != 0).any()) == (not DPA1_CASES[case].get("set_davg_zero", False))
    path = freeze_to(model, tmp_path / "dpa1.dft")
    for name, (coord, box, atype) in systems.items():
        want = torch_predict(model, coord, box, atype)
        assert np.abs(want["force"]).max() > 1e-3, "trivial forces make a weak test"
        assert_agree(core_predict(path, coord, box, atype), want, STRICT, f"{name}, {case}")


def with_isolated_atom(coord, atype):
    """The frames plus one C atom 30 Å from the molecule: a center whose slots are all empty,
    and nobody's neighbor."""
    far = coord.max(axis=1, keepdims=True) + 30.0
    return np.concatenate([coord, far], axis=1), np.append(atype, ELEMENTS.index("C"))


@pytest.mark.parametrize("smooth", [True, False])
def test_dpa1_atom_without_neighbors_matches_torch(tmp_path, systems, samples, smooth):
    model = dpa1_model(samples, smooth_type_embedding=smooth)
    path = freeze_to(model, tmp_path / "dpa1.dft")
    coord, box, atype = systems["C3H3O4"]
    coord, atype = with_isolated_atom(coord, atype)
    want = torch_predict(model, coord, box, atype)
    got = core_predict(path, coord, box, atype)
    assert_agree(got, want, STRICT, f"isolated atom, smooth={smooth}")
    assert np.abs(got["force"][:, -1]).max() == 0.0  # no neighbor: no force


def max_neighbors(coord, box, rcut):
    """Most neighbors any atom has within rcut in the orthorhombic periodic frames
    (minimum image: rcut below half the box)."""
    lengths = np.diagonal(box.reshape(-1, 3, 3), axis1=1, axis2=2)
    assert np.allclose(box.reshape(-1, 3, 3), [np.diag(x) for x in lengths])
    assert rcut < lengths.min() / 2
    d = coord[:, :, None, :] - coord[:, None, :, :]
    d -= lengths[:, None, None, :] * np.round(d / lengths[:, None, None, :])
    r = np.linalg.norm(d, axis=-1)
    return int(((r < rcut) & (r > 0)).sum(-1).max())


def test_dpa1_neighbors_beyond_sel_keep_the_nearest(tmp_path, systems, samples):
    """sel = 40 over water's ~90 neighbors: both keep the same nearest 40."""
    model = dpa1_model(samples, sel=40)
    path = freeze_to(model, tmp_path / "dpa1_small_sel.dft")
    coord, box, atype = systems["water"]
    assert max_neighbors(coord, box, 6.0) > 2 * 40
    assert_agree(core_predict(path, coord, box, atype), torch_predict(model, coord, box, atype),
                 STRICT, "water, DPA-1 sel overflow")


def float64_twin(model):
    """The float64 model with the float32 model's weights (cast up exactly): the reference
    that float32 evaluations are measured against."""
    from deepft.model import build_model

    section = dpa1_model_section("float64", seed=11)
    twin = build_model(section)
    twin.load_state_dict({k: v.double() if v.is_floating_point() else v
                          for k, v in model.state_dict().items()})
    return twin.eval()


def test_dpa1_float32_matches_float64(tmp_path, systems, samples):
    """The float32 core against the float64 evaluation of the same weights, to float32
    accuracy. (The torch float32 model is further off on water, ~1e-4 eV/Å in the forces, so
    against it only COARSE holds.)"""
    model = dpa1_model(samples, precision="float32")
    path = freeze_to(model, tmp_path / "dpa1_32.dft")
    assert DeepPot(path).precision == "float32"
    twin = float64_twin(model)
    for name, (coord, box, atype) in systems.items():
        want = torch_predict(twin, coord, box, atype)
        got = core_predict(path, coord, box, atype)
        for key in KEYS:
            scale = np.abs(want[key]).max()
            err = np.abs(got[key] - want[key].reshape(got[key].shape)).max()
            assert err <= FLOAT32_KERNEL * scale + 1e-6, \
                f"{name}: float32 {key} off by {err:.3g} (scale {scale:.3g})"
        assert_agree(got, torch_predict(model, coord, box, atype), COARSE,
                     f"{name}, float32 core vs float32 torch")
