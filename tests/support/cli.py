"""End-to-end CLI helpers: a ``python -m deepft`` runner and small but real water inputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from support.paths import REPO


def deepft_env(**extra: str) -> dict:
    """os.environ for a deepft subprocess: one OpenMP thread, this checkout first on PYTHONPATH."""
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO) + os.pathsep
                + os.environ.get("PYTHONPATH", ""), **extra)


def run_deepft(*args: str, cwd: Path, check: bool = True, env_extra: dict | None = None
               ) -> subprocess.CompletedProcess:
    """Run ``python -m deepft ARGS`` in ``cwd`` on one thread; return the completed process."""
    proc = subprocess.run([sys.executable, "-m", "deepft", *args], cwd=cwd,
                          env=deepft_env(**(env_extra or {})), capture_output=True, text=True,
                          timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"deepft {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def run_torchrun(*args: str, cwd, nproc: int = 2, check: bool = True
                 ) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --standalone --nproc_per_node=N -m deepft ARGS``."""
    env = deepft_env(DEEPFT_DEVICE="cpu")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", "-m", "deepft", *args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"torchrun deepft {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
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


def write_json(obj, path: Path) -> Path:
    """``obj`` as indented JSON at ``path``; returns ``path``."""
    path.write_text(json.dumps(obj, indent=1))
    return path


def read_lcurve(path: Path):
    """(column names, rows nrows x ncolumns) of an lcurve.out."""
    import numpy as np

    names = path.read_text().splitlines()[0].lstrip("#").split()
    return names, np.loadtxt(path, ndmin=2)


def copy_run(run: Path, dst: Path, names=None) -> Path:
    """A writable copy of the run folder ``run`` (only ``names`` if given) at ``dst``."""
    if names is None:
        shutil.copytree(run, dst, symlinks=True)
        return dst
    dst.mkdir(parents=True)
    for name in names:
        (dst / name).write_bytes((run / name).read_bytes())
    return dst
