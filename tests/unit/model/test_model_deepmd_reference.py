"""deepft's EnergyModel reproduces DeePMD-kit 3.2.0 (pt backend) for the same weights.

The reference (data/deepmd_se_e2_a_reference.npz, written by data/make_deepmd_reference.py with
DeePMD-kit) holds a random se_e2_a model with nonzero davg, so the empty-slot convention, the
resnet/idt rules, the pair-net index and the virial conventions are all exercised.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from support.tolerances import TIGHT

from deepft.model import build_model

REF = Path(__file__).with_name("data") / "deepmd_se_e2_a_reference.npz"


@pytest.mark.parametrize("type_one_side", [True, False])
def test_matches_deepmd_kit(type_one_side):
    ref = np.load(REF)
    tag = f"tos{int(type_one_side)}/"
    cfg = {"type_map": ["O", "H"],
           "descriptor": {"type": "se_e2_a", "sel": [46, 92], "rcut": 6.0, "rcut_smth": 0.5,
                          "neuron": [8, 16, 16], "axis_neuron": 2, "resnet_dt": True,
                          "type_one_side": type_one_side},
           "fitting_net": {"type": "ener", "neuron": [16, 16], "resnet_dt": True}}
    model = build_model(cfg).eval()
    state = {k[len(tag) + 3:]: torch.as_tensor(ref[k]) for k in ref.files
             if k.startswith(tag + "sd/")}
    model.load_state_dict(state)  # strict: same tensors, same shapes
    out = model(torch.as_tensor(ref["coord"]), torch.as_tensor(ref["box"]),
                torch.as_tensor(ref["atype"]), do_atomic_virial=True)
    for key in ("energy", "atom_energy", "force", "virial", "atom_virial"):
        want = ref[tag + key].reshape(out[key].shape)
        np.testing.assert_allclose(out[key].numpy(), want, rtol=0,
                                   atol=TIGHT * max(1.0, np.abs(want).max()),
                                   err_msg=f"{key} type_one_side={type_one_side}")


def test_input_stats_match_deepmd_kit(water_dir):
    ref = np.load(REF)
    folder = water_dir / "data_0"
    sample = {"coord": np.load(folder / "set.000" / "coord.npy")[:5].reshape(5, -1, 3),
              "box": np.load(folder / "set.000" / "box.npy")[:5],
              "atype": np.loadtxt(folder / "type.raw", dtype=np.int64)}
    cfg = {"type_map": ["O", "H"],
           "descriptor": {"type": "se_e2_a", "sel": [46, 92], "rcut": 6.0, "rcut_smth": 0.5,
                          "neuron": [8], "axis_neuron": 4},
           "fitting_net": {"type": "ener", "neuron": [8]}}
    stats = build_model(cfg).descriptor.compute_input_stats([sample])
    np.testing.assert_allclose(stats["davg"], ref["stats/davg"], rtol=TIGHT, atol=0)
    np.testing.assert_allclose(stats["dstd"], ref["stats/dstd"], rtol=TIGHT, atol=0)
