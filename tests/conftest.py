"""Shared fixtures: paths to the real DFT data in ../shared/data (never edited in place)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DEEPFT_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA}; set DEEPFT_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def water_dir(shared_data) -> Path:
    return shared_data / "water"


@pytest.fixture(scope="session")
def organic_dir(shared_data) -> Path:
    return shared_data / "organic_nopbc"
