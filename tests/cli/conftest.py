"""Fixtures of the CLI tests (helpers live in cli_helpers.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def write_input(tmp_path):
    def write(cfg: dict, name: str = "input.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(cfg, indent=1))
        return path

    return write
