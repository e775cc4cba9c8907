"""``training.tensorboard``: events with the loss, RMSEs and lr; a clear error without TensorBoard.

The events test needs the ``tensorboard`` package (test extra); without it only the error test
runs, for real.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
from support.cli import run_deepft, small_water_input
from support.paths import REPO

pytestmark = pytest.mark.slow  # every test trains

HAVE_TB = importlib.util.find_spec("tensorboard") is not None


def read_scalars(folder) -> dict[str, dict[int, float]]:
    """tag -> {step: value} from the event files under ``folder``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: {e.step: e.value for e in acc.Scalars(tag)} for tag in acc.Tags()["scalars"]}


@pytest.mark.skipif(not HAVE_TB, reason="tensorboard is not installed (pip install tensorboard)")
def test_tensorboard_events_match_the_learning_curve(tmp_path, water_dir, write_input):
    write_input(small_water_input(water_dir, numb_steps=6, disp_freq=2, save_freq=6,
                                  tensorboard=True, tensorboard_log_dir="tb",
                                  tensorboard_freq=2))
    run_deepft("train", "input.json", cwd=tmp_path)
    scalars = read_scalars(tmp_path / "tb")
    assert set(scalars) == {"lr", "rmse", "rmse_e", "rmse_f"}, sorted(scalars)
    assert all(sorted(v) == [2, 4, 6] for v in scalars.values()), scalars
    names = open(tmp_path / "lcurve.out").readline().lstrip("#").split()
    curve = np.loadtxt(tmp_path / "lcurve.out", ndmin=2)
    rows = {int(r[0]): dict(zip(names, r, strict=True)) for r in curve}
    for step in (2, 4, 6):
        # lcurve prints the same training-batch metrics with 3 significant digits
        for tag, col in (("rmse", "rmse_trn"), ("rmse_e", "rmse_e_trn"),
                         ("rmse_f", "rmse_f_trn")):
            assert scalars[tag][step] == pytest.approx(rows[step][col], rel=6e-3), (tag, step)
    # the lr of the step just taken (index step-1): exp decay every 5 of 6 steps, 1e-3 -> 1e-4
    expected = {2: 1e-3, 4: 1e-3, 6: 1e-3 * 0.1 ** (5 / 6)}
    for step, lr in expected.items():
        assert scalars["lr"][step] == pytest.approx(lr, rel=1e-6), step


def test_missing_tensorboard_is_a_clear_error(tmp_path, water_dir, write_input):
    """A ``tensorboard`` package that fails to import (shadowed on PYTHONPATH)."""
    shadow = tmp_path / "shadow" / "tensorboard"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named tensorboard')\n")
    write_input(small_water_input(water_dir, numb_steps=2, tensorboard=True))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
        [str(tmp_path / "shadow"), str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "deepft", "train", "input.json"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    err = proc.stderr.strip()
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert "training.tensorboard is true but TensorBoard is missing" in err
    assert "pip install tensorboard" in err
    assert not (tmp_path / "model.ckpt.pt").exists() and not (tmp_path / "log").exists()


@pytest.mark.skipif(not HAVE_TB, reason="tensorboard is not installed (pip install tensorboard)")
def test_restart_purges_the_events_after_the_checkpoint(tmp_path, water_dir, write_input):
    """Restarting from step 3 of a 6-step run rewrites steps 4..6 once, as lcurve.out."""
    write_input(small_water_input(water_dir, numb_steps=6, disp_freq=1, save_freq=3,
                                  tensorboard=True, tensorboard_freq=1))
    run_deepft("train", "input.json", cwd=tmp_path)
    first = read_scalars(tmp_path / "log")
    run_deepft("train", "input.json", "--restart", "model.ckpt-3.pt", cwd=tmp_path)
    second = read_scalars(tmp_path / "log")
    assert sorted(second["rmse"]) == [1, 2, 3, 4, 5, 6]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path / "log"))
    acc.Reload()
    assert [e.step for e in acc.Scalars("rmse")] == [1, 2, 3, 4, 5, 6]
    for step in range(1, 7):  # the restarted run repeats the same steps bit for bit
        assert second["rmse"][step] == pytest.approx(first["rmse"][step], rel=1e-6)
