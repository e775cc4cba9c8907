"""deepft's DPA-1 reproduces DeePMD-kit 3.2.0 (pt backend) for the same weights.

The reference (data/deepmd_dpa1_reference.npz, written by data/make_deepmd_dpa1_reference.py
with DeePMD-kit) holds seven random DPA-1 energy models, cases A-G: concat and strip, 0, 1 and 2
attention layers, type_one_side true/false, smooth or not, nonzero davg, use_tebd_bias,
concat_output_tebd false, temperature, normalize false, gelu, on periodic water (O, H) and on a
three-element molecule (C, H, O). Each case's model section is DeePMD-kit's own normalized one,
read here through deepft's schema. Also DeePMD-kit's input statistics.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from support.tolerances import TIGHT

from deepft.config import normalize
from deepft.model import build_model
from deepft.model.descriptor.stats import env_mat_stats

REF = Path(__file__).with_name("data") / "deepmd_dpa1_reference.npz"
CASES = "ABCDEFG"
#: DeePMD-kit state-dict prefixes -> deepft's (module docstrings of dpa1.py / energy.py)
PREFIXES = (
    ("atomic_model.descriptor.type_embedding.embedding.embedding_net.",
     "descriptor.type_embedding."),
    ("atomic_model.descriptor.se_atten.filter_layers.networks.0.", "descriptor.embedding."),
    ("atomic_model.descriptor.se_atten.filter_layers_strip.networks.0.",
     "descriptor.embedding_strip."),
    ("atomic_model.descriptor.se_atten.dpa1_attention.attention_layers.", "descriptor.attention."),
    ("atomic_model.fitting_net.filter_layers.networks.", "fitting.nets."),
)
RENAMES = ((".attention_layer.", "."), (".attn_layer_norm.matrix", ".layer_norm.weight"),
           (".attn_layer_norm.bias", ".layer_norm.bias"))


def deepft_state(ref, case: str) -> dict[str, torch.Tensor]:
    """The case's DeePMD-kit weights under deepft's names."""
    tag = f"{case}/sd/"
    sd = {k[len(tag):]: ref[k] for k in ref.files if k.startswith(tag)}
    out = {}
    for key, value in sd.items():
        for src, dst in PREFIXES:
            if key.startswith(src):
                name = dst + key[len(src):]
                for a, b in RENAMES:
                    name = name.replace(a, b)
                out[name] = torch.as_tensor(value)
    mean = sd["atomic_model.descriptor.se_atten.mean"]
    std = sd["atomic_model.descriptor.se_atten.stddev"]
    assert np.all(mean == mean[:, :1]) and np.all(std == std[:, :1])  # per center type
    out["descriptor.davg"] = torch.as_tensor(mean[:, 0])
    out["descriptor.dstd"] = torch.as_tensor(std[:, 0])
    out["fitting.bias_atom_e"] = torch.as_tensor(
        sd["atomic_model.out_bias"].reshape(-1)
        + sd["atomic_model.fitting_net.bias_atom_e"].reshape(-1))
    return out


def deepft_model(ref, case: str):
    """deepft's model from the case's DeePMD-kit model section (through deepft's schema)."""
    section = json.loads(str(ref[f"{case}/config"]))
    raw = {"model": {"type_map": section["type_map"], "descriptor": section["descriptor"],
                     "fitting_net": section["fitting_net"]},
           "learning_rate": {"type": "exp", "start_lr": 1e-3, "stop_lr": 1e-5},
           "loss": {"type": "ener"},
           "training": {"training_data": {"systems": ["unused"]}, "numb_steps": 1}}
    return build_model(normalize(raw)["model"]).eval()


@pytest.mark.parametrize("case", list(CASES))
def test_matches_deepmd_kit(case):
    ref = np.load(REF)
    model = deepft_model(ref, case)
    model.load_state_dict(deepft_state(ref, case))  # strict: same tensors, same shapes
    system = str(ref[f"{case}/system"])
    coord = torch.as_tensor(ref[f"{system}/coord"])
    box = torch.as_tensor(ref[f"{system}/box"]) if f"{system}/box" in ref.files else None
    out = model(coord, box, torch.as_tensor(ref[f"{system}/atype"]), do_atomic_virial=True)
    for key in ("energy", "atom_energy", "force", "virial", "atom_virial"):
        want = ref[f"{case}/{key}"].reshape(out[key].shape)
        np.testing.assert_allclose(out[key].numpy(), want, rtol=0,
                                   atol=TIGHT * max(1.0, np.abs(want).max()),
                                   err_msg=f"case {case}: {key}")


@pytest.mark.parametrize("name, folder, sel, nframes", [
    ("water_sel120", "water/data_0", 120, 5),
    ("water_sel40", "water/data_0", 40, 5),
    ("organic_sel12", "organic_nopbc/C3H3O4", 12, 20),
])
def test_input_stats_match_deepmd_kit(data_root, name, folder, sel, nframes):
    ref = np.load(REF)
    path = data_root / folder
    coord = np.load(path / "set.000" / "coord.npy")[:nframes].reshape(nframes, -1, 3)
    box_file = path / "set.000" / "box.npy"
    sample = {"coord": coord, "box": np.load(box_file)[:nframes] if box_file.exists() else None,
              "atype": np.loadtxt(path / "type.raw", dtype=np.int64)}
    ntypes = ref[f"stats/{name}/mean"].shape[0]
    davg, dstd = env_mat_stats([sample], ntypes, [sel], 6.0, 0.5, mixed_types=True)
    np.testing.assert_allclose(davg, ref[f"stats/{name}/mean"], rtol=TIGHT, atol=1e-15)
    np.testing.assert_allclose(dstd, ref[f"stats/{name}/stddev"], rtol=TIGHT, atol=0)
