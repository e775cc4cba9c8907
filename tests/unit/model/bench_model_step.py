"""Time one training-like step: energy + force loss, backward (double backward through forces).

Water, 192 atoms, batch 1, DeePMD-kit's se_e2_a water example sizes (sel [46, 92], neuron
[25, 50, 100], axis_neuron 16, fitting [240, 240, 240], float64). Not a test: run it directly,

    PYTHONPATH=. python tests/unit/model/bench_model_step.py [--threads 2] [--repeat 30] [--profile]

and read the min/median wall time per step (the neighbor list is built once, outside the step,
as the trainer's data pipeline would).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from deepft.model import build_model

DATA = Path(__file__).resolve().parents[3] / "examples" / "data" / "water" / "data_0"


def water_model(type_one_side: bool = True):
    cfg = {"type_map": ["O", "H"],
           "descriptor": {"type": "se_e2_a", "sel": [46, 92], "rcut": 6.0, "rcut_smth": 0.5,
                          "neuron": [25, 50, 100], "axis_neuron": 16, "resnet_dt": False,
                          "type_one_side": type_one_side, "seed": 1},
           "fitting_net": {"type": "ener", "neuron": [240, 240, 240], "resnet_dt": True,
                           "seed": 1}}
    return build_model(cfg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--type-one-side", type=int, default=1)
    parser.add_argument("--mallopt", action="store_true",
                        help="keep freed memory in the heap (glibc mallopt): fewer page faults")
    args = parser.parse_args()
    if args.mallopt:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: tensors up to 32 MiB from the heap
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: do not hand freed memory back
    torch.set_num_threads(args.threads)
    model = water_model(bool(args.type_one_side))
    coord = torch.as_tensor(np.load(DATA / "set.000" / "coord.npy")[:1].reshape(1, -1, 3),
                            dtype=torch.float64)
    box = torch.as_tensor(np.load(DATA / "set.000" / "box.npy")[:1], dtype=torch.float64)
    atype = torch.as_tensor(np.loadtxt(DATA / "type.raw", dtype=np.int64))
    stats = model.descriptor.compute_input_stats(
        [{"coord": coord.numpy(), "box": box.numpy(), "atype": atype.numpy()}])
    model.descriptor.set_stats(stats["davg"], stats["dstd"])
    label_e = torch.tensor([-1e4], dtype=torch.float64)
    label_f = torch.zeros(1, 192, 3, dtype=torch.float64)
    nlist = model.build_nlist(coord, box, atype)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-6)

    def step():
        out = model(coord, box, atype, nlist=nlist)
        loss = ((out["energy"] - label_e) ** 2).sum() / 192 + ((out["force"] - label_f) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    times, cpu = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(f"threads={args.threads} type_one_side={bool(args.type_one_side)}: step wall min "
          f"{min(times) * 1e3:.1f} ms, median {np.median(times) * 1e3:.1f} ms; CPU time min "
          f"{min(cpu) * 1e3:.1f} ms (a load-independent proxy with --threads 1)")
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(5):
                step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30))


if __name__ == "__main__":
    main()
