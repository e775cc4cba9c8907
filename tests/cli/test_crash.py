"""Crash safety: SIGKILL at random steps, ``--restart auto``, torn checkpoints, NaN losses.

Every run is float64 on one thread (OMP_NUM_THREADS=1), which makes CPU training deterministic,
so a run killed and restarted any number of times must end with the weights, and the very
lcurve.out, of an uninterrupted run. A run is killed on an event (its stdout reports the chosen
step), never after a timer, so the test behaves the same on a fast and on a loaded machine.
"""

from __future__ import annotations

import json
import queue
import random
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from support.cli import deepft_env, run_deepft, small_water_input
from support.systems import first_frames_copy
from support.tolerances import STRICT

from deepft.checkpoint import list_checkpoints, load_checkpoint

pytestmark = pytest.mark.slow  # every test trains (kill/restart, torn checkpoints, NaN losses)

STEPS = 40
KILLS = 4  # killed runs before the last, uninterrupted --restart auto
#: a progress line of ``deepft train``: "step N/M ..." (every disp_freq) or "saved checkpoint
#: model.ckpt-N.pt" (every save_freq)
PROGRESS = re.compile(r"\bstep (\d+)/\d+|saved checkpoint model\.ckpt-(\d+)\.pt")
EVENT_TIMEOUT = 300.0  # s without the awaited progress line before the test fails


def crash_input(water_dir: Path) -> dict:
    return small_water_input(water_dir, numb_steps=STEPS, disp_freq=2, save_freq=3,
                             max_ckpt_keep=3)


def start_training(cwd: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "deepft", "train", "input.json", *args],
                            cwd=cwd, env=deepft_env(DEEPFT_DEVICE="cpu"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _pump(stream, lines: queue.Queue) -> None:
    """Put every line of ``stream`` into ``lines``, then None at its end."""
    for line in stream:
        lines.put(line)
    lines.put(None)


def kill_at_step(proc: subprocess.Popen, target: int, timeout: float = EVENT_TIMEOUT) -> bool:
    """SIGKILL ``proc`` as soon as its output reports progress at step >= ``target``; False
    if the run ended first. Fails when no output line comes for ``timeout`` s."""
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            proc.kill()
            proc.wait()
            raise AssertionError(f"no output for {timeout} s while waiting for step {target}:\n"
                                 + "".join(seen[-20:])) from None
        if line is None:  # end of output: the run ended before reaching the target
            proc.wait(timeout=timeout)
            return False
        seen.append(line)
        match = PROGRESS.search(line)
        if match and int(match.group(1) or match.group(2)) >= target:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=timeout)
            reader.join(timeout=timeout)
            return proc.returncode == -signal.SIGKILL


def assert_checkpoints_load(folder: Path, what: str) -> list[int]:
    """Every model.ckpt-STEP.pt loads and is finite; model.ckpt.pt (if any) points at one."""
    steps = []
    for path in list_checkpoints(str(folder / "model.ckpt")):
        state = load_checkpoint(path)
        assert all(torch.isfinite(v).all() for v in state["model"].values()), f"{what}: {path}"
        steps.append(state["step"])
    latest = folder / "model.ckpt.pt"
    if latest.is_symlink():
        assert load_checkpoint(latest)["step"] in steps, what
    return steps


def test_sigkill_at_random_steps_then_restart_auto(tmp_path, water_dir):
    ref, work = tmp_path / "ref", tmp_path / "work"
    for folder in (ref, work):
        folder.mkdir()
        (folder / "input.json").write_text(json.dumps(crash_input(water_dir)))
    run_deepft("train", "input.json", cwd=ref, env_extra={"DEEPFT_DEVICE": "cpu"})

    rng = random.Random(20240607)
    kills = 0
    window = (STEPS - 1) // KILLS  # attempt k kills at a step of the k-th window, all < STEPS
    for attempt in range(KILLS):
        target = rng.randint(attempt * window + 1, (attempt + 1) * window)
        proc = start_training(work, "--restart", "auto")
        killed = kill_at_step(proc, target)
        kills += killed
        steps = assert_checkpoints_load(work, f"after kill {attempt} at step {target}")
        if not killed:
            break
        assert steps == sorted(steps) and len(steps) <= 3
    assert kills >= 2, "the runs finished before they could be killed: raise STEPS"
    if not (work / f"model.ckpt-{STEPS}.pt").exists():
        proc = run_deepft("train", "input.json", "--restart", "auto", cwd=work,
                          env_extra={"DEEPFT_DEVICE": "cpu"})
        assert "restart auto: " in proc.stdout

    final_ref = load_checkpoint(ref / f"model.ckpt-{STEPS}.pt")
    final = load_checkpoint(work / f"model.ckpt-{STEPS}.pt")
    for key, value in final_ref["model"].items():
        torch.testing.assert_close(final["model"][key], value, rtol=0, atol=STRICT,
                                   msg=f"{key} differs after {kills} kills and restarts")
    # restarts cut lcurve.out back to their step: the same curve as the uninterrupted run
    assert (work / "lcurve.out").read_text() == (ref / "lcurve.out").read_text()


def test_restart_auto_skips_a_torn_checkpoint(tmp_path, water_dir):
    """A truncated newest checkpoint is passed over for the previous complete one, and the
    temp file of a cut-off save is removed (``training.restart: "auto"`` in the input, the same
    as ``--restart auto``)."""
    cfg = small_water_input(water_dir, numb_steps=6, disp_freq=2, save_freq=2, restart="auto")
    (tmp_path / "input.json").write_text(json.dumps(cfg))
    proc = run_deepft("train", "input.json", cwd=tmp_path)
    assert "restart auto: no checkpoint yet, starting fresh" in proc.stdout
    newest = tmp_path / "model.ckpt-6.pt"
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])
    before = (tmp_path / "lcurve.out").read_text()
    partial = tmp_path / ".model.ckpt-8.pt.k3x9q1.tmp"  # what a kill during a save leaves
    partial.write_bytes(data[:100])
    proc = run_deepft("train", "input.json", cwd=tmp_path)
    assert not partial.exists() and f"removed {partial.name}" in proc.stdout, proc.stdout
    assert "restart auto: model.ckpt-4.pt" in proc.stdout, proc.stdout
    assert "restarted from step 4" in proc.stdout
    assert load_checkpoint(newest)["step"] == 6
    assert (tmp_path / "lcurve.out").read_text() == before


def one_bad_frame_system(src: Path, dst: Path, bad_frame: int, nframes: int = 4) -> Path:
    """The first ``nframes`` frames of ``src`` with energy 1e200 eV on ``bad_frame``: finite
    (the data layer accepts it) but its squared error overflows to inf in float64."""
    first_frames_copy(src, dst, nframes)
    energy = np.load(dst / "set.000" / "energy.npy")
    energy[bad_frame] = 1e200
    np.save(dst / "set.000" / "energy.npy", energy)
    return dst


def nan_input(tmp_path: Path, water_dir: Path, policy: str) -> tuple[dict, int]:
    """Training on one 4-frame system whose one frame (not a statistics frame) overflows."""
    from deepft.data import System, sample_stat_frames

    cfg = small_water_input(water_dir, numb_steps=8, disp_freq=4, save_freq=1, nan_policy=policy,
                            max_ckpt_keep=20)
    cfg["model"]["data_stat_nbatch"] = 1
    probe = System(water_dir / "data_0", ["O", "H"])
    stat_frame = int(sample_stat_frames([probe], 1, 1, seed=10)[0]["frame_index"][0] % 4)
    bad = (stat_frame + 1) % 4
    system = one_bad_frame_system(water_dir / "data_0", tmp_path / "bad_sys", bad)
    cfg["training"]["training_data"]["systems"] = [str(system)]
    return cfg, bad


def test_nan_policy_stop_names_step_and_system_and_writes_no_bad_checkpoint(tmp_path,
                                                                             water_dir):
    cfg, bad = nan_input(tmp_path, water_dir, "stop")
    (tmp_path / "input.json").write_text(json.dumps(cfg))
    proc = run_deepft("train", "input.json", cwd=tmp_path, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    err = proc.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert "loss is inf" in err and "branch Default" in err and "bad_sys" in err, err
    assert f"frames [{bad}]" in err and "nan_policy" in err, err
    failed_step = int(err.split("at step ")[1].split(",")[0])
    steps = assert_checkpoints_load(tmp_path, "nan stop")
    assert steps and max(steps) == failed_step - 1, (steps, failed_step)


def test_nan_policy_skip_skips_the_batch_and_finishes(tmp_path, water_dir):
    cfg, bad = nan_input(tmp_path, water_dir, "skip")
    (tmp_path / "input.json").write_text(json.dumps(cfg))
    proc = run_deepft("train", "input.json", cwd=tmp_path)
    skipped = [line for line in proc.stdout.splitlines() if "batch skipped" in line]
    assert len(skipped) == 2, proc.stdout  # 8 steps over a 4-frame system: 2 epochs
    assert all(f"frames [{bad}]" in line for line in skipped), skipped
    assert_checkpoints_load(tmp_path, "nan skip")
    # a skipped step leaves the weights as they were
    step = int(skipped[0].split("at step ")[1].split(",")[0])
    before = load_checkpoint(tmp_path / f"model.ckpt-{step - 1}.pt")
    after = load_checkpoint(tmp_path / f"model.ckpt-{step}.pt")
    for key, value in before["model"].items():
        assert torch.equal(after["model"][key], value), f"{key} changed on a skipped step"
    assert load_checkpoint(tmp_path / "model.ckpt-8.pt")["step"] == 8
