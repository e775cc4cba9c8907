"""Shared fixtures: paths to the real DFT data shipped in examples/data (never edited in place)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = REPO / "examples" / "data"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """examples/data: water/data_0..3 and organic_nopbc/* (see its README)."""
    return DATA_ROOT


@pytest.fixture(scope="session")
def water_dir(data_root) -> Path:
    return data_root / "water"


@pytest.fixture(scope="session")
def organic_dir(data_root) -> Path:
    return data_root / "organic_nopbc"
