"""Real deepft.model EnergyModels for the C++-core consistency tests.

Random weights (seeded), descriptor statistics computed from the real data (non-trivial davg,
dstd), random energy biases of water-like magnitude; frozen through deepft.io.export's
serializer so the tensor names are exactly the ones `deepft freeze` writes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from deepft.io.export import model_to_file_contents
from deepft.io.model_file import write_model_file

ELEMENTS = ["O", "H", "C"]  # one type map for water and organic frames


def load_frames(system: Path, nframes: int, type_map=ELEMENTS):
    """(coord [nf, natoms, 3], box [nf, 9] or None, atype [natoms] indexing type_map)."""
    names = (system / "type_map.raw").read_text().split()
    atype = np.array([type_map.index(names[t]) for t in np.loadtxt(system / "type.raw",
                                                                    dtype=int, ndmin=1)])
    coord = np.load(system / "set.000" / "coord.npy")[:nframes].reshape(nframes, -1, 3)
    box = None
    if not (system / "nopbc").exists():
        box = np.load(system / "set.000" / "box.npy")[:nframes].reshape(nframes, 9)
    return coord.astype(np.float64), box, atype.astype(np.int64)


def model_section(type_one_side: bool, precision: str = "float64", *, type_map=ELEMENTS,
                  sel=(48, 96, 8), neuron=(8, 16, 32), axis_neuron=4, fitting=(32, 32, 32),
                  rcut=6.0, rcut_smth=1.0, seed=1, activation="tanh") -> dict:
    """A normalized single-task model section (skip connections of both kinds: 8->16->32
    doubles, 32->32 keeps the width; resnet_dt on the fitting net)."""
    return {
        "type_map": list(type_map),
        "descriptor": {"type": "se_e2_a", "sel": list(sel), "rcut": rcut,
                       "rcut_smth": rcut_smth, "neuron": list(neuron),
                       "axis_neuron": axis_neuron, "resnet_dt": True,
                       "type_one_side": type_one_side, "activation_function": activation,
                       "precision": precision, "seed": seed},
        "fitting_net": {"type": "ener", "neuron": list(fitting), "resnet_dt": True,
                        "activation_function": activation, "precision": precision,
                        "seed": seed + 1},
    }


def randomize_stats(model, samples: list[dict], seed: int) -> None:
    """Statistics from real frames, then energy biases ~ -93 / -187 / -40 eV per type."""
    descriptor = model.descriptor
    stats = descriptor.compute_input_stats(samples)
    descriptor.set_stats(stats["davg"], stats["dstd"])
    rng = np.random.default_rng(seed)
    bias = np.array([-93.5, -187.2, -40.0, -10.0][:model.fitting.ntypes])
    with torch.no_grad():
        model.fitting.bias_atom_e.copy_(torch.as_tensor(bias + rng.normal(0, 0.5, bias.shape)))


def build_energy_model(section: dict, samples: list[dict], seed: int = 0):
    from deepft.model import build_model

    model = build_model(section)
    randomize_stats(model, samples, seed)
    return model.eval()


def freeze_to(model, path: Path, branches: dict | None = None, config: dict | None = None):
    """Write ``model`` (EnergyModel or MultiTaskModel) with the freeze serializer."""
    if branches is None:
        branches = dict(model.branches.items()) if hasattr(model, "branches") \
            else {"Default": model}
    header, tensors = model_to_file_contents(model, branches, config or {})
    return write_model_file(path, header, tensors)


def torch_predict(model, coord, box, atype) -> dict:
    """The torch model's predictions as float64 numpy arrays (atomic virial included)."""
    dtype = torch.float64
    c = torch.as_tensor(coord, dtype=dtype)
    b = None if box is None else torch.as_tensor(box, dtype=dtype)
    out = model(c, b, torch.as_tensor(atype), do_atomic_virial=True)
    return {k: v.detach().double().numpy() for k, v in out.items()}
