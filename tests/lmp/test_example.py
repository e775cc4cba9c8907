"""examples/lammps/water: the data file is frame 0 of the water data, and in.lammps runs (NVT,
a few steps, with a random model standing in for ../../water/model.dft)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
from support.lammps_run import run_lmp, thermo_table
from support.model_files import write_random_model
from support.paths import REPO

EXAMPLE = REPO / "examples" / "lammps" / "water"


def test_make_data_reproduces_the_committed_file(water_dir, tmp_path):
    out = tmp_path / "water.data"
    subprocess.run([sys.executable, str(EXAMPLE / "make_data.py"), str(water_dir / "data_0"),
                    "-o", str(out)], check=True, capture_output=True)
    assert out.read_text() == (EXAMPLE / "water.data").read_text()
    coord = np.load(water_dir / "data_0" / "set.000" / "coord.npy")[0].reshape(-1, 3)
    lines = out.read_text().splitlines()
    atoms = lines[lines.index("Atoms  # atomic") + 2:]
    xyz = np.array([[float(v) for v in line.split()[2:5]] for line in atoms])
    np.testing.assert_allclose(xyz, coord, atol=1e-9)


def test_in_lammps_runs(lmp_env, tmp_path):
    work = tmp_path / "examples" / "lammps" / "water"
    work.mkdir(parents=True)
    shutil.copy(EXAMPLE / "water.data", work)
    (tmp_path / "examples" / "water").mkdir()
    write_random_model(tmp_path / "examples" / "water" / "model.dft", seed=7)
    script = (EXAMPLE / "in.lammps").read_text()
    assert "pair_style      deepft ../../water/model.dft" in script
    assert "run             1000" in script
    script = script.replace("run             1000", "run             20")
    script = script.replace("thermo          100", "thermo          10")
    log = run_lmp(lmp_env, script, work)
    table = thermo_table(log)
    assert list(table["Step"]) == [0, 10, 20]
    assert np.all(np.isfinite(table["PotEng"])) and table["Temp"][0] > 300
    assert (work / "water.dump").exists()
