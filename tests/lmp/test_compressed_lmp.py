"""pair_style deepft with a compressed model (``deepft compress``): no new syntax; the single
point equals DeepPot on the same file and the uncompressed model; with a check frequency the
plugin reports the neighbor inputs outside the table every N steps and at the end of a run."""

from __future__ import annotations

import re

import numpy as np
import pytest
from support.lammps_run import run_lmp, single_point
from support.model_files import write_random_model
from support.paths import DATA_ROOT, WATER_LAMMPS_DATA
from support.tolerances import COMPRESSED, STRICT

from deepft.commands.compress import compress
from deepft.infer import DeepPot


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("lmp_compressed")
    plain = write_random_model(d / "m.dft", seed=31)
    water = [str(DATA_ROOT / "water" / "data_0")]
    return {"plain": plain,
            "small": compress(plain, d / "c.dft", systems=water),
            "checked": compress(plain, d / "c5.dft", systems=water, check_frequency=5)}


def test_single_point_matches_deeppot_and_uncompressed(lmp_env, models):
    sp = single_point(lmp_env, WATER_LAMMPS_DATA, str(models["small"]))
    for name, tol in (("small", STRICT), ("plain", COMPRESSED)):
        e, f, v = DeepPot(models[name]).eval(sp.coord[None], sp.box[None], sp.types - 1)
        assert abs(sp.energy - e[0]) <= tol * max(1.0, abs(e[0])), (name, sp.energy, e[0])
        err = np.abs(sp.force - f[0]).max()
        assert err <= tol, f"{name}: forces differ by {err:.3e}"
        assert np.abs(sp.virial - 0.5 * (v[0] + v[0].reshape(3, 3).T.reshape(9))).max() \
            <= tol * 192, name


def test_dpa1_single_point_matches_deeppot_and_uncompressed(lmp_env, tmp_path):
    """A compressed DPA-1 model (strip, attn_layer 0) in pair_style deepft."""
    from support.models import write_dpa1_model

    plain = write_dpa1_model(tmp_path / "d.dft", attn_layer=0, seed=4)
    small = compress(plain, tmp_path / "dc.dft", systems=[str(DATA_ROOT / "water" / "data_0")])
    sp = single_point(lmp_env, WATER_LAMMPS_DATA, str(small))
    for path, tol in ((small, STRICT), (plain, COMPRESSED)):
        e, f, _ = DeepPot(path).eval(sp.coord[None], sp.box[None], sp.types - 1)
        assert abs(sp.energy - e[0]) <= tol * max(1.0, abs(e[0])), (path, sp.energy, e[0])
        err = np.abs(sp.force - f[0]).max()
        assert err <= tol, f"{path}: forces differ by {err:.3e}"
    assert DeepPot(small).compressed


MD = """units metal
boundary p p p
atom_style atomic
read_data {data}
pair_style deepft {model}
pair_coeff * * O H
velocity all create 330.0 4928459
fix 1 all nve
timestep 0.0005
thermo 5
run 12
"""


def test_check_frequency_reports(lmp_env, models, tmp_path):
    log = run_lmp(lmp_env, MD.format(data=WATER_LAMMPS_DATA, model=models["checked"]), tmp_path)
    assert "is compressed (tabulated embedding nets); neighbors outside its table reported " \
           "every 5 steps" in log, log[-2000:]
    steps = re.findall(r"deepft: step (\d+) \(model .*?\): (\d+) of (\d+) tabulated neighbor "
                       r"inputs above the training range .*?, (\d+) beyond the table", log)
    assert [int(s[0]) for s in steps] == [0, 5, 10], steps
    per_step = np.array([[int(v) for v in s[1:]] for s in steps])  # beyond_data, all, beyond
    assert np.all(per_step[:, 1] > 0) and np.all(per_step[:, 2] == 0), steps
    # reports cover the steps since the last one: step 5 counts 5 evaluations, step 0 one
    assert per_step[1, 1] > 4 * per_step[0, 1], steps
    total = re.findall(r"deepft: run total \(model .*?\): (\d+) of (\d+) tabulated", log)
    assert len(total) == 1, log[-2000:]
    assert int(total[0][1]) > per_step[:, 1].sum() and \
        int(total[0][0]) >= per_step[:, 0].sum(), (total, steps)
    quiet = tmp_path / "quiet"
    quiet.mkdir()
    log = run_lmp(lmp_env, MD.format(data=WATER_LAMMPS_DATA, model=models["small"]), quiet)
    assert "tabulated neighbor inputs" not in log and "is compressed" in log
