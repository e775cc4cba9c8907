"""Helpers of the model unit tests: small model configs, statistics, real frames."""

from __future__ import annotations

import numpy as np
import torch

#: named tolerances (float64 unless stated)
STRICT = 1e-12  # same math, different evaluation order
EXACT = 0.0  # bit-identical


def small_model_cfg(type_map, *, type_one_side=True, seed=7, resnet_dt=False,
                    activation="tanh", precision="float64", sel=None):
    """A normalized single-task model section with small nets (every resnet path present)."""
    return {
        "type_map": list(type_map),
        "descriptor": {"type": "se_e2_a", "sel": sel or [20, 40, 12][:len(type_map)],
                       "rcut": 4.0, "rcut_smth": 0.5, "neuron": [4, 8, 8],
                       "axis_neuron": 3, "activation_function": activation,
                       "resnet_dt": resnet_dt, "type_one_side": type_one_side,
                       "precision": precision, "trainable": True, "seed": seed,
                       "set_davg_zero": False},
        "fitting_net": {"type": "ener", "neuron": [10, 10], "activation_function": activation,
                        "precision": precision, "resnet_dt": True, "trainable": True,
                        "seed": seed + 1},
    }


def set_random_stats(model, seed=0, angular=False):
    """Non-trivial davg/dstd (and bias) so that normalization and empty slots matter."""
    rng = np.random.default_rng(seed)
    n = model.descriptor.get_ntypes()
    davg = np.zeros((n, 4))
    davg[:, 0] = rng.uniform(0.05, 0.3, n)
    if angular:
        davg[:, 1:] = rng.uniform(-0.05, 0.05, (n, 3))
    dstd = rng.uniform(0.08, 0.3, (n, 4))
    model.descriptor.set_stats(davg, dstd)
    with torch.no_grad():
        model.fitting.bias_atom_e.copy_(torch.as_tensor(rng.normal(-5, 2, n)))
    return model


def load_frames(folder, n, type_map):
    """First n frames of a deepmd/npy system as float64 torch tensors (coord, box|None, atype)."""
    names = (folder / "type_map.raw").read_text().split()
    atype = np.loadtxt(folder / "type.raw", dtype=np.int64, ndmin=1)
    atype = np.array([list(type_map).index(names[t]) for t in atype])
    coord = np.load(folder / "set.000" / "coord.npy")[:n].reshape(n, -1, 3)
    box = None
    if not (folder / "nopbc").exists():
        box = torch.as_tensor(np.load(folder / "set.000" / "box.npy")[:n], dtype=torch.float64)
    return torch.as_tensor(coord, dtype=torch.float64), box, torch.as_tensor(atype)

