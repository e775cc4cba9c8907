"""Speed of the native inference core (deepft.infer.DeepPot) on water, float64.

    python tests/benchmarks/bench_inference.py [--model model.dft] [--threads 2] [--repeat 20]

Without --model, a model with the architecture of DeePMD-kit's water se_e2_a example (sel 46/92,
rcut 6 Å, rcut_smth 0.5, embedding 25-50-100, axis 16, fitting 240-240-240, type_one_side,
float64) is built with deepft.model (random weights, statistics from the data: speed does not
depend on the weights) and frozen, in a subprocess so torch never shares this process.

Frames: frame 0 of water/data_0 (192 atoms) and its 2x2x2 replica (1,536 atoms). For each size
the table gives ms/frame (median and best of --repeat calls, after warm-up), µs/atom, the
FLOP count per atom (embedding + fitting, forward + backward; "executed" counts the real
neighbors the core computes, "nominal" all sum(sel) slots as DeePMD-kit computes them), the
achieved GFLOP/s (executed and nominal FLOPs per second), the ratio of the time to what the
nominal FLOP count would take at this CPU's float64 peak (measured: the layer kernel on a
cache-resident product, times the threads), and the speed-up over DeePMD-kit
3.2.0's DeepPot (--deepmd-json, measured by bench_training.py on this machine; else the figures
of docs/deepmd-compatibility.md: 81.5 ms / 2.15 s per frame).
Rows: the default build (packed-weight layer kernel) and, for comparison, every network layer
through OpenBLAS (cblas_dgemm), and one thread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))
DATA = REPO / "examples" / "data" / "water"
# DeePMD-kit 3.2.0 DeepPot, 2 cores (docs/deepmd-compatibility.md); --deepmd-json replaces them
REFERENCE_DEEPMD_MS = {192: 81.5, 1536: 2150.0}


def deepmd_ms(path: Path | None) -> tuple[dict[int, float], str]:
    """DeePMD-kit ms/frame by atom count: from bench_training.py --deepmd-inference-json's file
    when it exists (measured on this machine), else docs/deepmd-compatibility.md's figures; and
    the source."""
    if path is not None and path.exists():
        import json

        cases = json.loads(path.read_text())["cases"]
        return {int(c["natoms"]): float(c["ms_per_frame_median"]) for c in cases}, str(path)
    return dict(REFERENCE_DEEPMD_MS), "docs/deepmd-compatibility.md"
SEL, RCUT = (46, 92), 6.0
EMBED, AXIS, FIT = (25, 50, 100), 16, (240, 240, 240)

BUILD = r"""
import sys, numpy as np, torch
from pathlib import Path
from deepft.model import build_model
from deepft.io.export import model_to_file_contents
from deepft.io.model_file import write_model_file
data = Path(sys.argv[2])
sec = {"type_map": ["O", "H"],
       "descriptor": {"type": "se_e2_a", "sel": [46, 92], "rcut": 6.0, "rcut_smth": 0.5,
                      "neuron": [25, 50, 100], "axis_neuron": 16, "resnet_dt": False,
                      "type_one_side": True, "precision": "float64", "seed": 1},
       "fitting_net": {"type": "ener", "neuron": [240, 240, 240], "resnet_dt": True,
                       "precision": "float64", "seed": 1}}
model = build_model(sec)
coord = np.load(data / "set.000" / "coord.npy")[:4].reshape(4, -1, 3)
box = np.load(data / "set.000" / "box.npy")[:4]
atype = np.loadtxt(data / "type.raw", dtype=int)
st = model.descriptor.compute_input_stats([{"coord": coord, "box": box, "atype": atype}])
model.descriptor.set_stats(st["davg"], st["dstd"])
with torch.no_grad():
    model.fitting.bias_atom_e.copy_(torch.tensor([-93.5, -187.2], dtype=torch.float64))
header, tensors = model_to_file_contents(model, {"Default": model}, {"model": sec})
write_model_file(sys.argv[1], header, tensors)
"""


def build_model(path: Path) -> Path:
    subprocess.run([sys.executable, "-c", BUILD, str(path), str(DATA / "data_0")], check=True,
                   cwd=REPO)
    return path


def water_frames(reps=(1, 2)):
    """{natoms: (coord [1, n, 3], box [1, 9], atype [n])}: frame 0 of data_0 (192 atoms)
    replicated r x r x r for each r in ``reps`` (default: 192 and 1,536 atoms)."""
    coord = np.load(DATA / "data_0" / "set.000" / "coord.npy")[0].reshape(-1, 3)
    box = np.load(DATA / "data_0" / "set.000" / "box.npy")[0].reshape(3, 3)
    atype = np.loadtxt(DATA / "data_0" / "type.raw", dtype=np.int32)
    frames = {}
    for r in reps:
        shifts = np.array([[i, j, k] for i in range(r) for j in range(r) for k in range(r)]) @ box
        big = (coord[None] + shifts[:, None]).reshape(-1, 3)
        frames[len(big)] = (big[None], (r * box).reshape(1, 9), np.tile(atype, r**3))
    return frames


def real_neighbors(coord, box, atype) -> float:
    """Mean number of real neighbors per atom in the sel-formatted table."""
    from deepft.ops import build_nlist

    nl = build_nlist(coord, box, atype, RCUT, list(SEL))
    return float((np.asarray(nl.nlist) >= 0).sum()) / len(atype)


def flops_per_atom(neighbors: float) -> float:
    """Multiply-adds x 2 of one atom's energy and its gradient (input gradients only)."""
    widths = [1, *EMBED]
    # one neighbor, forward
    embed = sum(2 * a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    m = EMBED[-1]
    pair = 2 * embed + 3 * 8 * m  # embedding fwd + bwd, T = R^T G and its two gradients
    fit_w = [m * AXIS, *FIT, 1]
    fit = sum(2 * a * b for a, b in zip(fit_w[:-1], fit_w[1:], strict=True))
    atom = 2 * fit + 3 * 8 * m * AXIS  # fitting fwd + bwd, D = T^T T< and its gradient
    return neighbors * pair + atom


def peak_rate(threads: int) -> float:
    """Machine reference in GFLOP/s: `threads` x the single-thread speed of the core's layer
    kernel on a cache-resident 256 x 256 x 256 product (best of 200), i.e. the practical
    float64 FMA peak of this CPU."""
    from deepft import _core

    return threads * _core.infer.packed_peak_gflops(256, 256, 256, 200)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def time_eval(dp, frame, repeat: int) -> tuple[float, float]:
    """(median, best) seconds per DeepPot.eval of one frame."""
    coord, box, atype = frame
    for _ in range(2):
        dp.eval(coord, box, atype)
    times = [_timed(lambda: dp.eval(coord, box, atype)) for _ in range(repeat)]
    return statistics.median(times), min(times)


def raise_priority() -> None:
    try:
        Path("/proc/self/autogroup").write_text("-20")
        os.nice(-20)
    except OSError as exc:
        print(f"(could not raise the priority: {exc})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model.dft (default: build the water model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--deepmd-json", type=Path, default=None,
                        help="DeePMD-kit DeepPot timings written by bench_training.py "
                             "--deepmd-inference-json (default: the figures in "
                             "docs/deepmd-compatibility.md)")
    parser.add_argument("--priority", action="store_true",
                        help="raise this session's CPU share (Linux autogroup nice -20, needs "
                             "root): on a machine shared with other jobs the timings then "
                             "reflect the code rather than the scheduler")
    args = parser.parse_args(argv)
    if args.priority:
        raise_priority()

    from deepft import _core
    from deepft.infer import DeepPot

    tmp = tempfile.TemporaryDirectory()
    model = args.model or build_model(Path(tmp.name) / "water.dft")
    dp = DeepPot(model)
    frames = water_frames()
    rate = peak_rate(args.threads)
    print(f"model {model}  (precision {dp.precision}, sel {dp.sel}, rcut {dp.rcut})")
    print(f"BLAS: {_core.infer.blas_backend()}")
    print(f"machine float64 peak reference ({args.threads} x one thread of the layer kernel): "
          f"{rate:.1f} GFLOP/s\n")

    reference, source = deepmd_ms(args.deepmd_json)
    print(f"DeePMD-kit DeepPot ms/frame from {source}: {reference}")
    rows = []
    variants = [("packed layers", args.threads, True), ("OpenBLAS layers", args.threads, False),
                ("packed layers", 1, True)]
    for label, threads, packed in variants:
        _core.infer.set_num_threads(threads)
        _core.infer.set_packed_layers(packed)
        for natoms, frame in frames.items():
            repeat = args.repeat if natoms < 1000 else max(3, args.repeat // 4)
            median, best = time_eval(dp, frame, repeat)
            nei = real_neighbors(*frame)
            fl_exec = flops_per_atom(nei)
            fl_nom = flops_per_atom(sum(SEL))
            rows.append((label, threads, natoms, median * 1e3, best * 1e3,
                         median / natoms * 1e6, fl_exec / 1e6, fl_nom / 1e6,
                         fl_exec * natoms / median / 1e9, fl_nom * natoms / median / 1e9,
                         median / (fl_nom * natoms / (rate * threads / args.threads * 1e9)),
                         reference[natoms] / (median * 1e3)))
    _core.infer.set_packed_layers(True)
    print("| layers | threads | atoms | ms/frame (median) | best | µs/atom | MFLOP/atom "
          "executed | nominal | GFLOP/s executed | nominal | time / (nominal FLOP at peak) "
          "| speed-up vs DeePMD-kit |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.2f} | {r[4]:.2f} | {r[5]:.1f} | {r[6]:.2f} "
              f"| {r[7]:.2f} | {r[8]:.1f} | {r[9]:.1f} | {r[10]:.2f} | {r[11]:.1f}x |")
    load = os.getloadavg()[0]
    print(f"\nload average during the run: {load:.1f} on {os.cpu_count()} cores "
          "(other processes inflate the timings)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
