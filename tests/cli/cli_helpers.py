"""End-to-end CLI test helpers: a deepft runner and small but real water inputs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_deepft(*args: str, cwd: Path, check: bool = True, env_extra: dict | None = None
               ) -> subprocess.CompletedProcess:
    """Run ``python -m deepft ARGS`` in ``cwd`` on one thread; return the completed process."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO) + os.pathsep
               + os.environ.get("PYTHONPATH", ""), **(env_extra or {}))
    proc = subprocess.run([sys.executable, "-m", "deepft", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"deepft {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def small_water_input(water_dir: Path, *, numb_steps: int = 20, **training) -> dict:
    """DeePMD-kit's water se_e2_a input with small nets (fast) and the given training keys."""
    cfg = {
        "model": {
            "type_map": ["O", "H"],
            "descriptor": {"type": "se_e2_a", "sel": [46, 92], "rcut_smth": 0.5, "rcut": 6.0,
                           "neuron": [4, 8], "axis_neuron": 4, "resnet_dt": False,
                           "type_one_side": True, "seed": 1},
            "fitting_net": {"neuron": [16, 16], "resnet_dt": True, "seed": 1},
            "data_stat_nbatch": 2,
        },
        "learning_rate": {"type": "exp", "decay_steps": 5, "start_lr": 1e-3, "stop_lr": 1e-4},
        "loss": {"type": "ener", "start_pref_e": 0.02, "limit_pref_e": 1, "start_pref_f": 1000,
                 "limit_pref_f": 1, "start_pref_v": 0, "limit_pref_v": 0},
        "training": {
            "training_data": {"systems": [str(water_dir / "data_0"), str(water_dir / "data_1")],
                              "batch_size": 1},
            "validation_data": {"systems": [str(water_dir / "data_3")], "batch_size": 1,
                                "numb_btch": 1},
            "numb_steps": numb_steps, "seed": 10, "disp_freq": 5, "save_freq": 10,
            **training,
        },
    }
    return cfg


