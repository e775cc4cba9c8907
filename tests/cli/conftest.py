"""Fixtures of the CLI tests: an input writer and the trained models shared by several files.

A trained model used by more than one test file is trained once per session here; the tests
read it (or copy it with ``support.cli.copy_run``) and never write into its folder. Tests that
need their own fresh run (crash, error paths, a run with other settings) train it themselves.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import run_deepft, small_water_input, write_json
from support.examples import shrunk


@pytest.fixture
def write_input(tmp_path):
    def write(cfg: dict, name: str = "input.json") -> Path:
        return write_json(cfg, tmp_path / name)

    return write


def water_20_steps_input(water_dir: Path) -> dict:
    """The small water model, 20 steps, lcurve every 5, checkpoints at 10 and 20 (float64)."""
    return small_water_input(water_dir, numb_steps=20, disp_freq=5, save_freq=10)


@pytest.fixture(scope="session")
def water_20_steps_run(tmp_path_factory, water_dir) -> Path:
    """``deepft train`` of :func:`water_20_steps_input` on the CPU (deterministic, one
    thread): input.json, lcurve.out, model.ckpt-10.pt, model.ckpt-20.pt, model.ckpt.pt,
    out.json and console.txt (stdout + stderr). Read-only for the tests."""
    folder = tmp_path_factory.mktemp("water_20_steps")
    write_json(water_20_steps_input(water_dir), folder / "input.json")
    proc = run_deepft("train", "input.json", cwd=folder, env_extra={"DEEPFT_DEVICE": "cpu"})
    (folder / "console.txt").write_text(proc.stdout + proc.stderr)
    return folder


@pytest.fixture(scope="session")
def multitask_example_run(tmp_path_factory, data_root) -> Path:
    """The multitask example (water + organic over a shared descriptor), shrunk, trained 20
    steps (lcurve at 1, 10, 20) and frozen: input.json, lcurve.out, model.ckpt.pt, out.json,
    multi.dft. Read-only for the tests."""
    folder = tmp_path_factory.mktemp("multitask_example")
    write_json(shrunk("multitask/input.json", data_root, numb_steps=20), folder / "input.json")
    run_deepft("train", "input.json", cwd=folder)
    run_deepft("freeze", "-o", "multi.dft", cwd=folder)
    return folder
