"""Paths inside the repository that tests read (never written to)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
DATA_ROOT = EXAMPLES / "data"  # water/data_0..3 and organic_nopbc/* (see its README)
WATER_LAMMPS_DATA = EXAMPLES / "lammps" / "water" / "water.data"
CONFIG_INPUTS = REPO / "tests" / "unit" / "config" / "inputs"  # DeePMD-kit's example inputs
