"""The plumbing of the one-shot GPU checks (tests/gpu/device_checks.py), tested on the CPU."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def run(args: list[str], tmp_path: Path, script: list[str]) -> tuple[subprocess.CompletedProcess,
                                                                      dict]:
    out = tmp_path / "checks.json"
    env = {**os.environ, "PYTHON": sys.executable}
    env.pop("OUT", None)
    proc = subprocess.run([*script, "--workdir", str(tmp_path / "work"), "--out", str(out),
                           *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, json.loads(out.read_text())


@pytest.mark.skipif(torch.cuda.is_available() and shutil.which("nvcc") is not None,
                    reason="a GPU machine runs the real checks instead")
def test_without_a_gpu_the_wrapper_fails_loudly(tmp_path):
    proc, data = run([], tmp_path, [str(HERE / "run_device_checks.sh")])
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert "ERROR: GPU checks cannot run" in proc.stderr
    assert "a visible CUDA GPU" in data["steps"]["preflight"]["detail"]
    assert data["mode"] == "gpu" and data["ok"] is False
    assert list(data["steps"]) == ["preflight"]


@pytest.mark.slow
def test_cpu_dry_run_fills_every_field(tmp_path):
    proc, data = run(["--cpu-dry-run", "--equality-steps", "2"], tmp_path,
                     [sys.executable, str(HERE / "device_checks.py")])
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    assert data["mode"] == "cpu-dry-run" and data["ok"] is True
    assert {"python", "torch", "torch_cuda", "cuda_available"} <= set(data["environment"])
    steps = data["steps"]
    assert list(steps) == ["preflight", "build", "cuda_consistency", "train_equality",
                           "host_syncs", "timing", "inference"]
    for name in ("preflight", "build", "cuda_consistency"):
        assert steps[name]["status"] == "skipped" and "by design" in steps[name]["detail"], name
    assert steps["build"]["cuda_compiled"] in (True, False)
    for name, case in steps["train_equality"]["cases"].items():
        assert case["status"] == "pass" and case["rows"] == 2, (name, case)
        assert case["max_rel_diff"] <= 1e-9, (name, case)
    syncs = steps["host_syncs"]
    assert syncs["status"] == "info" and set(syncs["cases"]) == {"se_e2_a", "dpa1"}
    assert all(case["per_step"] == [0] for case in syncs["cases"].values()), syncs
    engines = steps["timing"]["engines"]
    assert engines["deepft"]["status"] == "pass" and engines["deepft"]["s_step"] > 0
    assert engines["deepft"]["rss"] > 0
    assert engines["DeePMD-kit"]["status"] == "skipped"
    assert "DeePMD-kit not available" in engines["DeePMD-kit"]["detail"]
    inf = steps["inference"]
    assert inf["device"] == "cpu" and "CPU-only" in inf["note"]
    assert [c["natoms"] for c in inf["cases"]] == [192, 1536]
    assert all(c["ms_per_frame_median"] > 0 for c in inf["cases"])
    assert Path(data["logs"]).exists()
    for line in ("train_equality/dpa1", "timing/DeePMD-kit", "overall: PASS"):
        assert line in proc.stdout, line
