"""Training throughput of 1 vs 2 CPU processes (torchrun, gloo) on the water example.

    python tests/benchmarks/bench_scaling.py [--steps 30] [--data examples/data/water]

Runs examples/water/input.json (full-size nets, 192-atom frames, batch_size "auto" = 1 frame)
for a few steps in each setting and prints the trainer's own average time per step (first step
excluded; one validation pass at the last step), as steps/s and frames/s:

    1 process,  1 thread,  batch 1
    1 process,  2 threads, batch 1
    1 process,  2 threads, batch 2     (the same work per step as 2 ranks x batch 1)
    2 processes x 1 thread, batch 1 each (global batch 2)

With N ranks each step trains on N frames (deepft.train.distributed), so compare frames/s.
The machine's load average is printed before and after: the numbers mean little on a busy host.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SETTINGS = [  # (label, processes, threads per process, batch size per process)
    ("1 process  x 1 thread,  batch 1", 1, 1, 1),
    ("1 process  x 2 threads, batch 1", 1, 2, 1),
    ("1 process  x 2 threads, batch 2", 1, 2, 2),
    ("2 processes x 1 thread, batch 1", 2, 1, 1),
]


def water_input(data: Path, steps: int, batch: int) -> dict:
    cfg = json.loads((REPO / "examples" / "water" / "input.json").read_text())
    tr = cfg["training"]
    tr["training_data"]["systems"] = [str(data / f"data_{i}") for i in range(3)]
    tr["training_data"]["batch_size"] = batch
    tr["validation_data"]["systems"] = [str(data / "data_3")]
    tr["validation_data"]["numb_btch"] = 1
    tr.update(numb_steps=steps, disp_freq=steps, save_freq=steps, stat_file=None)
    return cfg


def run(label: str, nproc: int, threads: int, batch: int, steps: int, data: Path) -> float:
    """Seconds per step reported by the trainer (average after the first step)."""
    with tempfile.TemporaryDirectory(prefix="deepft_bench_") as tmp:
        (Path(tmp) / "input.json").write_text(json.dumps(water_input(data, steps, batch)))
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), DEEPFT_DEVICE="cpu",
                   PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone",
                     f"--nproc_per_node={nproc}"] if nproc > 1 else [sys.executable])
        proc = subprocess.run([*launcher, "-m", "deepft", "train", "input.json"], cwd=tmp,
                              env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{label} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        found = re.search(r"average ([0-9.]+) s/step", proc.stdout)
        if not found:
            raise SystemExit(f"{label}: no timing line in the log:\n{proc.stdout[-3000:]}")
        return float(found.group(1))


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--data", type=Path, default=REPO / "examples" / "data" / "water")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}   load average before: {load()}   steps: {args.steps}")
    print(f"{'setting':34s} {'s/step':>8s} {'steps/s':>8s} {'frames/s':>9s}")
    for label, nproc, threads, batch in SETTINGS:
        sec = run(label, nproc, threads, batch, args.steps, args.data)
        frames = nproc * batch
        print(f"{label:34s} {sec:8.3f} {1 / sec:8.2f} {frames / sec:9.2f}", flush=True)
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
