"""C++ inference core = torch EnergyModel (deepft.model), frozen through the freeze serializer.

Real data (water with PBC, organic molecules without), random weights with statistics from the
data and non-zero energy biases, both embedding layouts (type_one_side true/false), every
activation, multitask branches sharing a descriptor, and a float32 model.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.frames import load_frames
from support.models import (
    ELEMENTS,
    build_energy_model,
    freeze_to,
    model_section,
    randomize_stats,
    torch_predict,
)
from support.tolerances import STRICT  # float64: energy, forces, virials, atomic ones

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
