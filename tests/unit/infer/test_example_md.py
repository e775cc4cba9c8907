"""examples/ase/md_water.py runs Langevin MD with a frozen model (as a user would call it)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from support.model_files import write_model

REPO = Path(__file__).resolve().parents[3]


def test_md_water_example_runs(tmp_path, water_dir):
    model = write_model(tmp_path / "model.dft", sel=(46, 92), rcut=6.0, neuron=(8, 16, 32),
                        fitting=(32, 32))
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "ase" / "md_water.py"), "--model", str(model),
         "--data", str(water_dir / "data_0"), "--steps", "30"],
        capture_output=True, text=True, cwd=REPO, timeout=600,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    steps = re.findall(r"step\s+(\d+)\s+Epot\s+(\S+) eV .*T\s+(\S+) K", proc.stdout)
    assert [int(s[0]) for s in steps] == [0, 10, 20, 30]
    temps = [float(s[2]) for s in steps]
    assert all(50 < t < 1000 for t in temps), temps


def test_md_water_example_with_its_default_model_holds_the_temperature(tmp_path):
    """The default model (the shipped MD model of examples/water/input_md.json) keeps 300 K
    Langevin dynamics near 300 K over 100 steps (the quick-start model went to ~500 K)."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "ase" / "md_water.py"), "--steps", "100"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    temps = [float(t) for t in re.findall(r"T\s+(\S+) K", proc.stdout)]
    assert len(temps) == 11 and all(220 < t < 380 for t in temps), temps
