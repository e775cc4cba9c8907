"""Helpers of device_checks.py: the shrunk example inputs, the lcurve.out comparison and the
DeePMD-kit installation (an existing venv, or one made offline from a folder of wheels)."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from support.cli import read_lcurve
from support.paths import EXAMPLES

EXAMPLE_INPUTS = {"se_e2_a": EXAMPLES / "water" / "input.json",
                  "dpa1": EXAMPLES / "water_dpa1" / "input.json"}


def shrunk_example(name: str, steps: int) -> dict:
    """The example's input (model unchanged, float64) for ``steps`` steps with an lcurve line
    per step: absolute data paths, batch 1, 1 validation batch, no stat file, one checkpoint."""
    path = EXAMPLE_INPUTS[name]
    cfg = json.loads(path.read_text())
    tr = cfg["training"]
    for key in ("training_data", "validation_data"):
        tr[key]["systems"] = [str((path.parent / s).resolve()) for s in tr[key]["systems"]]
        tr[key]["batch_size"] = 1
    tr["validation_data"]["numb_btch"] = 1
    tr.pop("stat_file", None)
    tr.update(numb_steps=steps, disp_freq=1, save_freq=steps)
    for part in ("descriptor", "fitting_net"):
        cfg["model"][part]["precision"] = "float64"
    return cfg


def lcurve_agreement(a: Path, b: Path, rtol: float) -> dict:
    """Every column of two lcurve.out files equal to ``rtol`` (relative, 1e-300 floor)."""
    names_a, rows_a = read_lcurve(a)
    names_b, rows_b = read_lcurve(b)
    if names_a != names_b or rows_a.shape != rows_b.shape:
        return {"status": "fail", "detail": f"lcurve.out differ in shape: {names_a} "
                                            f"{rows_a.shape} vs {names_b} {rows_b.shape}"}
    scale = np.maximum(np.maximum(np.abs(rows_a), np.abs(rows_b)), 1e-300)
    rel = np.abs(rows_a - rows_b) / scale
    per_col = {n: float(rel[:, i].max()) for i, n in enumerate(names_a)}
    worst = max(per_col, key=per_col.get)
    ok = per_col[worst] <= rtol and np.isfinite(rows_a).all()
    return {"status": "pass" if ok else "fail", "rows": int(rows_a.shape[0]),
            "max_rel_diff": per_col[worst], "max_rel_diff_per_column": per_col,
            "first_loss": [float(rows_a[0, 1]), float(rows_b[0, 1])],
            "last_loss": [float(rows_a[-1, 1]), float(rows_b[-1, 1])],
            "detail": f"{rows_a.shape[0]} lcurve rows, max rel diff {per_col[worst]:.2e} "
                      f"({worst}; tolerance {rtol:g})"}


@dataclass
class DeepmdSetup:
    """Where DeePMD-kit's ``dp`` comes from: ``venv`` (a venv holding it), else a venv made at
    ``target`` from the wheels in ``wheels`` (pip --no-index; the venv sees this Python's own
    packages, so the machine's CUDA torch is used), else not available (``reason``)."""

    venv: Path | None
    wheels: Path | None
    target: Path
    available: bool = False
    reason: str = "no --deepmd-venv, $DEEPFT_DEEPMD_VENV or --wheels given"
    version: str | None = None

    @property
    def dp(self) -> Path:
        return self.venv / "bin" / "dp"

    def resolve(self) -> DeepmdSetup:
        if self.venv is None and self.wheels is not None:
            self._install()
        if self.venv is None:
            return self
        if not self.dp.exists():
            self.reason = f"{self.dp} not found"
            return self
        probe = subprocess.run([str(self.venv / "bin" / "python"), "-c",
                                "import deepmd; print(deepmd.__version__)"],
                               capture_output=True, text=True, env=self.env({}, gpu=False))
        if probe.returncode != 0:
            self.reason = f"import deepmd failed: {probe.stderr.strip()[-500:]}"
            return self
        self.version = probe.stdout.strip()
        self.available = True
        return self

    def _install(self) -> None:
        """A venv without pip whose .pth file adds this Python's site folders (torch, CUDA),
        filled by this Python's pip from the wheels alone."""
        if not self.wheels.is_dir():
            self.reason = f"--wheels {self.wheels} is not a folder"
            return
        made = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(self.target)],
                              capture_output=True, text=True)
        if made.returncode != 0:
            self.reason = f"python -m venv failed: {made.stderr.strip()[-500:]}"
            return
        py = self.target / "bin" / "python"
        purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                  "['purelib'])"], capture_output=True, text=True).stdout.strip()
        outer = [*site.getsitepackages(), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
        outer = [p for p in outer if p and Path(p).is_dir()
                 and Path(p).resolve() != EXAMPLES.parent.resolve()]
        Path(purelib, "device_checks_outer.pth").write_text("\n".join(outer) + "\n")
        proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q",
                               "--no-index", "--find-links", str(self.wheels),
                               "deepmd-kit==3.2.0"], capture_output=True, text=True)
        if proc.returncode != 0:
            self.reason = (f"pip install --no-index --find-links {self.wheels} deepmd-kit==3.2.0 "
                           f"failed: {(proc.stdout + proc.stderr).strip()[-800:]}")
            return
        self.venv = self.target

    def env(self, threads: dict, gpu: bool) -> dict:
        """The environment of a `dp` run: its venv first on PATH, none of deepft's PYTHONPATH
        besides the wheels' target folder the wrapper exports, ``threads`` variables."""
        env = dict(os.environ, **threads, PYTHONUNBUFFERED="1", VIRTUAL_ENV=str(self.venv))
        env["PATH"] = str(self.venv / "bin") + os.pathsep + env["PATH"]
        keep = [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                if p and Path(p).resolve() != EXAMPLES.parent.resolve()]
        env["PYTHONPATH"] = os.pathsep.join(keep)
        if not gpu:
            env["CUDA_VISIBLE_DEVICES"] = ""
        return env
