"""Fixtures of the kernel tests (their helpers are in support.neighbors)."""

from __future__ import annotations

import pytest
from support.frames import load_frame


@pytest.fixture(scope="session")
def water_frame(water_dir):
    """Frame 0 of water/data_0: (coord [192, 3], box [3, 3], atype [192])."""
    return load_frame(water_dir / "data_0")
