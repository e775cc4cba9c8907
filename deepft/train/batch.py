"""Numpy batches from deepft.data turned into torch tensors on the training device."""

from __future__ import annotations

import numpy as np
import torch

LABEL_KEYS = ("energy", "force", "virial", "atom_ener", "atom_pref")


def to_tensors(batch: dict, dtype: torch.dtype, device: torch.device) -> dict:
    """coord ``nf x N x 3``, box ``nf x 9`` or None, atype ``N`` (int64), labels, find_* floats."""
    out = {
        "coord": torch.as_tensor(batch["coord"], dtype=dtype, device=device),
        "box": None if batch.get("box") is None
        else torch.as_tensor(batch["box"], dtype=dtype, device=device),
        "atype": torch.as_tensor(np.asarray(batch["atype"]), dtype=torch.int64, device=device),
    }
    for key in LABEL_KEYS:
        if batch.get(key) is not None:
            out[key] = torch.as_tensor(batch[key], dtype=dtype, device=device)
    for key, value in batch.items():
        if key.startswith("find_"):
            out[key] = float(value)
    return out
