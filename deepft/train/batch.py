"""Numpy batches from deepft.data turned into torch tensors on the training device."""

from __future__ import annotations

import numpy as np
import torch

from deepft._device import upload

LABEL_KEYS = ("energy", "force", "virial", "atom_ener", "atom_pref")


def to_tensors(batch: dict, dtype: torch.dtype, device: torch.device) -> dict:
    """coord ``nf x N x 3``, box ``nf x 9`` or None, atype ``N`` (int64), labels, find_* floats
    (host floats: the loss reads them without touching the device)."""
    out = {
        "coord": upload(batch["coord"], device, dtype),
        "box": None if batch.get("box") is None else upload(batch["box"], device, dtype),
        "atype": upload(np.asarray(batch["atype"]), device, torch.int64),
    }
    for key in LABEL_KEYS:
        if batch.get(key) is not None:
            out[key] = upload(batch[key], device, dtype)
    for key, value in batch.items():
        if key.startswith("find_"):
            out[key] = float(value)
    return out
