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
