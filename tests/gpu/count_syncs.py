"""Counts the host-device synchronizations of deepft training steps (issue #16: a CUDA step
keeps its work on the device; one sync per step, the finiteness check, is allowed).

    python tests/gpu/count_syncs.py [--device cuda] [--steps 5] [--warmup 2]

For each example (water se_e2_a, water DPA-1; model unchanged, float64, batch 1) it builds the
trainer in process, runs ``--warmup`` steps, then ``--steps`` steps under
``torch.cuda.set_sync_debug_mode("warn")``, which makes every synchronizing CUDA call (``.item()``,
``.cpu()``, a blocking copy, ``nonzero``...) emit a warning attributed to the Python line that
made it. Prints one JSON line: per example the syncs of each step and the lines that caused
them. On the CPU (``--device cpu``, the dry run) nothing synchronizes; the steps still run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests"))
sys.path.insert(0, str(HERE))


def count_syncs(example: str, device: str, steps: int, warmup: int) -> dict:
    """``{"per_step": [syncs of each step], "max_per_step", "where": {file:line: count}}``."""
    import torch
    from device_runs import shrunk_example
    from support.training import build_trainer

    trainer = build_trainer(shrunk_example(example, warmup + steps), device=torch.device(device))
    for _ in range(warmup):
        trainer.train_step()
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("warn")
    per_step, where = [], Counter()
    try:
        for _ in range(steps):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                trainer.train_step()
            syncs = [w for w in caught if "synchroniz" in str(w.message)]
            per_step.append(len(syncs))
            where.update(f"{Path(w.filename).name}:{w.lineno}" for w in syncs)
    finally:
        if cuda:
            torch.cuda.set_sync_debug_mode(0)
    return {"per_step": per_step, "max_per_step": max(per_step, default=0),
            "where": dict(where)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--examples", default="se_e2_a,dpa1")
    a = p.parse_args(argv)
    result = {"device": a.device}
    with tempfile.TemporaryDirectory(prefix="count_syncs_") as work:
        os.chdir(work)  # anything a trainer writes stays out of the checkout
        for example in a.examples.split(","):
            result[example] = count_syncs(example, a.device, a.steps, a.warmup)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
