"""Shared fixtures: paths to the real DFT data shipped in examples/data (never edited in place).

This file also puts ``tests/`` on ``sys.path`` so that every test imports the shared helpers
as ``support.<module>`` (see tests/support/__init__.py), whatever the working directory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from support.paths import DATA_ROOT  # noqa: E402


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


REQUIRE_CUDA_ENV = "DEEPFT_REQUIRE_CUDA"


def skip_unless_cuda(available: bool, reason: str) -> None:
    """Skip the calling test when the CUDA requirement is not met, or fail it when the runner
    sets DEEPFT_REQUIRE_CUDA=1 (a GPU runner must not pass the CUDA tests by skipping them)."""
    if available:
        return
    if os.environ.get(REQUIRE_CUDA_ENV) == "1":
        pytest.fail(f"{REQUIRE_CUDA_ENV}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture()
def require_cuda():
    """``require_cuda(available, reason)``: see skip_unless_cuda."""
    return skip_unless_cuda
