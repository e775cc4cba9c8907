"""Fixtures of the model unit tests: small models and real frames (water, organic)."""

from __future__ import annotations

import pytest
from support.frames import load_frames_torch
from support.models import set_random_stats, small_model_cfg
from support.threads import one_intra_op_thread  # noqa: F401  (autouse)

from deepft.model import build_model


@pytest.fixture()
def make_model():
    def make(type_map=("O", "H"), **kw):
        return set_random_stats(build_model(small_model_cfg(type_map, **kw)))
    return make


@pytest.fixture()
def water(water_dir):
    return load_frames_torch(water_dir / "data_0", 2, ("O", "H"))


@pytest.fixture()
def organic(organic_dir):
    return load_frames_torch(organic_dir / "C3H3O4", 2, ("O", "H", "C"))
