"""examples/lammps/water: the data file is frame 0 of the water data; in.lammps runs with the
shipped water_md.dft (trained by examples/water/input_md.json) and holds 330 K for 5 ps."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
from support.lammps_run import run_lmp, thermo_table
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


def example_folder(tmp_path):
    """A copy of examples/lammps/water (data file and shipped model) to run in."""
    work = tmp_path / "examples" / "lammps" / "water"
    work.mkdir(parents=True)
    for name in ("water.data", "water_md.dft"):
        shutil.copy(EXAMPLE / name, work)
    return work


def test_in_lammps_runs(lmp_env, tmp_path):
    work = example_folder(tmp_path)
    script = (EXAMPLE / "in.lammps").read_text()
    assert "pair_style      deepft water_md.dft" in script
    assert "run             1000" in script
    script = script.replace("run             1000", "run             20")
    script = script.replace("thermo          100", "thermo          10")
    log = run_lmp(lmp_env, script, work)
    table = thermo_table(log)
    assert list(table["Step"]) == [0, 10, 20]
    assert np.all(np.isfinite(table["PotEng"])) and table["Temp"][0] > 300
    assert (work / "water.dump").exists()


def test_shipped_md_model_is_the_one_input_md_json_trains():
    """water_md.dft records the normalized input it was trained from: the model, loss,
    learning rate and schedule of examples/water/input_md.json (data paths aside)."""
    import json

    from deepft.config import normalize
    from deepft.io.model_file import read_model_file

    recorded = read_model_file(EXAMPLE / "water_md.dft").header["config"]
    wanted = normalize(json.loads((REPO / "examples" / "water" / "input_md.json").read_text()))
    for section in ("learning_rate", "loss"):
        assert recorded[section] == wanted[section], section
    model = dict(recorded["model"])
    model["descriptor"] = {k: v for k, v in model["descriptor"].items() if k != "sel"}
    want = dict(wanted["model"])
    want["descriptor"] = {k: v for k, v in want["descriptor"].items() if k != "sel"}
    assert model == want
    for key in ("numb_steps", "seed"):
        assert recorded["training"][key] == wanted["training"][key], key


@pytest.mark.slow
def test_example_md_holds_330_kelvin_for_5_ps(lmp_env, tmp_path):
    """NVT at 330 K, 10,000 steps of 0.5 fs with the shipped model: every 0.5 ps block average
    of the temperature stays within 330 +- 40 K and no sample runs away (the 1000-step
    quick-start model reached 5,536 K here)."""
    work = example_folder(tmp_path)
    script = (EXAMPLE / "in.lammps").read_text()
    script = script.replace("run             1000", "run             10000")
    script = "\n".join(line for line in script.splitlines() if not line.startswith("dump"))
    table = thermo_table(run_lmp(lmp_env, script, work, timeout=1800))
    temp = np.asarray(table["Temp"])
    assert list(table["Step"])[-1] == 10000 and len(temp) == 101
    blocks = temp[1:].reshape(10, 10).mean(axis=1)
    assert np.all(np.abs(blocks - 330.0) < 40.0), blocks
    assert temp.max() < 450.0, temp.max()
    assert np.all(np.isfinite(table["PotEng"]))
