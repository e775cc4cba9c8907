"""Fixtures of the config tests (the inputs are described in support.config_inputs)."""

from __future__ import annotations

import pytest
from support.config_inputs import read


@pytest.fixture
def water() -> dict:
    return read("water_se_e2_a.json")


@pytest.fixture
def multi() -> dict:
    return read("water_multi_task_se_e2_a.json")


@pytest.fixture
def sharefit() -> dict:
    return read("water_multi_task_sharefit_se_e2_a.json")
