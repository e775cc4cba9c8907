"""Fixtures of the model unit tests: small models and real frames (water, organic)."""

from __future__ import annotations

import pytest
from model_helpers import load_frames, set_random_stats, small_model_cfg

from deepft.model import build_model


@pytest.fixture()
def make_model():
    def make(type_map=("O", "H"), **kw):
        return set_random_stats(build_model(small_model_cfg(type_map, **kw)))
    return make


@pytest.fixture()
def water(water_dir):
    return load_frames(water_dir / "data_0", 2, ("O", "H"))


@pytest.fixture()
def organic(organic_dir):
    return load_frames(organic_dir / "C3H3O4", 2, ("O", "H", "C"))


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: one intra-op thread avoids OpenMP barrier stalls on a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
