"""Fixtures of the physics tests: a water frame (periodic) and an organic frame (no PBC)."""

from __future__ import annotations

import pytest
from physics_helpers import load_frames


@pytest.fixture(scope="module")
def water_frame(water_dir):
    return load_frames(water_dir / "data_0", [0])


@pytest.fixture(scope="module")
def water_frames(water_dir):
    return load_frames(water_dir / "data_0", [0, 7, 33])


@pytest.fixture(scope="module")
def organic_frame(organic_dir):
    return load_frames(organic_dir / "C3H3O4", [0])


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: one intra-op thread avoids OpenMP barrier stalls on a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
