"""Helpers of the physics tests: named tolerances, a small random model, real frames."""

from __future__ import annotations

import numpy as np
import torch

from deepft.model import build_model

#: named tolerances per dtype: "same" = same numbers up to summation order, "fd" = central
#: finite differences (step FD_STEP) against autograd, "smooth" = jump across rcut/rcut_smth
TOL = {
    torch.float64: {"same": 1e-10, "fd": 1e-6, "smooth": 1e-9},
    torch.float32: {"same": 1e-4, "fd": 1e-2, "smooth": 1e-4},
}
FD_STEP = {torch.float64: 1e-4, torch.float32: 1e-2}

TYPE_MAP = ("O", "H", "C")


def physics_model(type_one_side: bool = True, precision: str = "float64", seed: int = 3):
    """A randomly initialized model over O/H/C with data-like davg/dstd and a random bias."""
    cfg = {
        "type_map": list(TYPE_MAP),
        "descriptor": {"type": "se_e2_a", "sel": [24, 48, 8], "rcut": 4.5, "rcut_smth": 1.0,
                       "neuron": [6, 12, 12], "axis_neuron": 4, "resnet_dt": True,
                       "type_one_side": type_one_side, "precision": precision, "seed": seed},
        "fitting_net": {"type": "ener", "neuron": [16, 16], "precision": precision,
                        "seed": seed + 1},
    }
    model = build_model(cfg)
    rng = np.random.default_rng(seed)
    davg = np.zeros((3, 4))
    davg[:, 0] = rng.uniform(0.05, 0.2, 3)
    dstd = np.concatenate([rng.uniform(0.1, 0.2, (3, 1)), rng.uniform(0.05, 0.1, (3, 1)).repeat(
        3, axis=1)], axis=1)
    model.descriptor.set_stats(davg, dstd)
    with torch.no_grad():
        model.fitting.bias_atom_e.copy_(torch.as_tensor(rng.normal(-3.0, 1.0, 3)))
    return model.eval()


def load_frames(folder, frames):
    """Frames of a deepmd/npy system: (coord ``nf x n x 3``, box ``nf x 9`` or None, atype)."""
    names = (folder / "type_map.raw").read_text().split()
    atype = np.loadtxt(folder / "type.raw", dtype=np.int64, ndmin=1)
    atype = torch.as_tensor([TYPE_MAP.index(names[t]) for t in atype])
    idx = list(frames)
    coord = np.load(folder / "set.000" / "coord.npy")[idx].reshape(len(idx), -1, 3)
    box = None
    if not (folder / "nopbc").exists():
        box = torch.as_tensor(np.load(folder / "set.000" / "box.npy")[idx], dtype=torch.float64)
    return torch.as_tensor(coord, dtype=torch.float64), box, atype


def random_rotation(seed: int) -> torch.Tensor:
    """A proper rotation matrix (det +1), float64."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return torch.as_tensor(q)
