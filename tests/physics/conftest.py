"""Fixtures of the physics tests: a water frame (periodic) and an organic frame (no PBC)."""

from __future__ import annotations

import pytest
from support.frames import load_frames_torch
from support.models import PHYSICS_TYPE_MAP
from support.threads import one_intra_op_thread  # noqa: F401  (autouse)


@pytest.fixture(scope="module")
def water_frame(water_dir):
    return load_frames_torch(water_dir / "data_0", [0], PHYSICS_TYPE_MAP)


@pytest.fixture(scope="module")
def water_frames(water_dir):
    return load_frames_torch(water_dir / "data_0", [0, 7, 33], PHYSICS_TYPE_MAP)


@pytest.fixture(scope="module")
def organic_frame(organic_dir):
    return load_frames_torch(organic_dir / "C3H3O4", [0], PHYSICS_TYPE_MAP)
