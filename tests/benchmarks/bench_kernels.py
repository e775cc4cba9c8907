"""Kernel benchmarks (not part of the test run): prints tables.

1. Neighbor list (full list, rcut 6 Å, one thread) on periodic water-density boxes made by
   replicating frame 0 of water/data_0 (192 atoms) to 1,536, 12,288 and 98,304 atoms:
   deepft vs vesin (``pip install vesin``, optional) vs ase.neighborlist; same pair count
   asserted.
2. se_e2_a environment matrix, forward + backward (energy-like scalar, then forces by
   autograd), sel [46, 92], two threads: deepft kernel vs the pure-torch reference, on 192 and
   1,536 water atoms, with peak memory (each case in a fresh process: peak RSS growth during
   the timed loop).

Usage: python tests/benchmarks/bench_kernels.py [--skip-nlist] [--skip-envmat] [--repeat N]

OMP_WAIT_POLICY defaults to PASSIVE here (for both implementations): on a shared 2-core machine
torch's spinning OpenMP workers otherwise steal the core the measured thread runs on, and small
2-thread torch ops take ~10 ms instead of ~0.1 ms. Export OMP_WAIT_POLICY=ACTIVE to compare.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
WATER = REPO / "examples" / "data" / "water"
RCUT = 6.0


def water_box(replicas: int):
    """Frame 0 of water/data_0 replicated replicas^3 times: (coord [n, 3], box [3, 3], types)."""
    d = WATER / "data_0"
    coord = np.load(d / "set.000" / "coord.npy")[0].reshape(-1, 3).astype(np.float64)
    box = np.load(d / "set.000" / "box.npy")[0].reshape(3, 3).astype(np.float64)
    atype = np.loadtxt(d / "type.raw", dtype=np.int64)
    shifts = np.stack(np.meshgrid(*[np.arange(replicas)] * 3, indexing="ij"), -1).reshape(-1, 3)
    coord = (coord[None] + (shifts @ box)[:, None]).reshape(-1, 3)
    return coord, box * replicas, np.tile(atype, len(shifts))


def best_time(fn, repeat: int) -> tuple[float, object]:
    result = fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


# ---- neighbor list ------------------------------------------------------------------------


def interleaved_best(fns: dict, rounds: int) -> dict:
    """Best time of each callable, timing them in alternation so that load from other processes
    on the machine affects all of them alike. Returns {name: (seconds, last result)}."""
    out = {name: (float("inf"), fn()) for name, fn in fns.items()}  # warm-up
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            result = fn()
            dt = time.perf_counter() - t0
            out[name] = (min(out[name][0], dt), result)
    return out


def bench_nlist(repeat: int, ase_max_atoms: int) -> None:
    import deepft._core as core
    from ase import Atoms
    from ase.neighborlist import neighbor_list as ase_nl

    import deepft

    core.set_num_threads(1)
    try:
        from vesin import NeighborList as VesinNL
    except ImportError:
        VesinNL = None

    print(f"\nNeighbor list, full list, rcut {RCUT} Å, 1 thread (best of {repeat}; ms per build)")
    header = f"{'atoms':>7} {'pairs':>10} {'deepft':>9} {'vesin':>9} {'ase':>9} " \
             f"{'deepft Mpairs/s':>15} {'vs vesin':>9} {'vs ase':>8}"
    print(header)
    print("-" * len(header))
    for replicas in (1, 2, 4, 8):
        coord, box, _ = water_box(replicas)
        n = len(coord)
        fns = {"deepft": lambda c=coord, b=box: deepft.neighbor_list(c, b, True, RCUT)}
        if VesinNL is not None:
            vnl = VesinNL(cutoff=RCUT, full_list=True)
            fns["vesin"] = lambda v=vnl, c=coord, b=box: v.compute(c, b, periodic=True,
                                                                   quantities="ijS")
        res = interleaved_best(fns, max(2, repeat // 3) if n > 50000 else repeat)
        t_d, npairs = res["deepft"][0], len(res["deepft"][1][0])
        t_v = t_a = float("nan")
        if "vesin" in res:
            t_v = res["vesin"][0]
            assert len(res["vesin"][1][0]) == npairs, "vesin and deepft pair counts differ"
        if n <= ase_max_atoms:
            atoms = Atoms(numbers=np.ones(n, dtype=int), positions=coord, cell=box, pbc=True)
            t_a, (ai, _, _) = best_time(lambda a=atoms: ase_nl("ijS", a, RCUT),
                                        1 if n > 5000 else repeat)
            assert len(ai) == npairs, f"ase found {len(ai)} pairs, deepft {npairs}"
        print(f"{n:>7} {npairs:>10} {t_d * 1e3:>9.2f} {t_v * 1e3:>9.2f} {t_a * 1e3:>9.1f} "
              f"{npairs / t_d / 1e6:>15.1f} {t_v / t_d:>8.2f}x {t_a / t_d:>7.0f}x")


# ---- env matrix ---------------------------------------------------------------------------

SEL = [46, 92]


def envmat_setup(replicas: int, threads: int = 2):
    """Callables {(impl, kind): fn} on water x replicas^3, kind "envmat" or "step":

    - envmat: rij (leaf) -> em -> E = sum(em * w) -> dE/drij: the env matrix alone;
    - step: coord -> rij -> em -> E = sum tanh(em W) -> F = -dE/dcoord, each implementation
      with its own rij gather (torch indexing for the reference, pair_displacements for deepft).
    """
    import deepft._core as core
    import torch

    from deepft.ops import build_nlist, env_mat_se_a, pair_displacements, reference

    torch.set_num_threads(threads)
    core.set_num_threads(threads)
    coord, box, atype = water_box(replicas)
    nl = build_nlist(coord[None], box.reshape(1, 9), atype, RCUT, SEL)
    idx = torch.from_numpy(nl.nlist[0])
    mask = (idx >= 0)[None]
    shift = torch.from_numpy(nl.image[0]).double() @ torch.from_numpy(box)
    ctype = torch.from_numpy(atype)[None]
    davg = torch.tensor([[0.1, 0, 0, 0], [0.05, 0, 0, 0]], dtype=torch.float64)
    dstd = torch.tensor([[0.5, 0.3, 0.3, 0.3], [0.4, 0.2, 0.2, 0.2]], dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    weights = torch.randn(4, 8, dtype=torch.float64, generator=gen)
    w4 = torch.randn(4, dtype=torch.float64, generator=gen)
    base = torch.from_numpy(coord)
    box_t = torch.from_numpy(box.reshape(1, 9))
    rij0 = (base[idx.clamp(min=0)] + shift - base[:, None])[None]
    kernels = {"reference": reference.env_mat_se_a, "deepft": env_mat_se_a}

    def rij_of(impl, x):
        if impl == "deepft":
            return pair_displacements(x[None], box_t, nl.nlist, nl.image)[0]
        return (x[idx.clamp(min=0)] + shift - x[:, None])[None]  # 1 x nloc x nnei x 3

    def envmat_only(impl):
        r = rij0.clone().requires_grad_()
        em = kernels[impl](r, mask, ctype, davg, dstd, RCUT, 0.5)
        return torch.autograd.grad((em * w4).sum(), r)[0]

    def step(impl):
        x = base.clone().requires_grad_()
        em = kernels[impl](rij_of(impl, x), mask, ctype, davg, dstd, RCUT, 0.5)
        (grad,) = torch.autograd.grad(torch.tanh(em @ weights).sum(), x)
        return -grad

    fns = {}
    for impl in kernels:
        fns[(impl, "envmat")] = lambda i=impl: envmat_only(i)
        fns[(impl, "step")] = lambda i=impl: step(i)
    return fns


def envmat_peak_memory(impl: str, kind: str, replicas: int, threads: int) -> float:
    """Worker process: peak RSS during five calls minus the RSS before them (MB)."""
    step = envmat_setup(replicas, threads)[(impl, kind)]
    # VmHWM (peak RSS of this process image) rather than ru_maxrss, which Linux carries over
    # from the parent process across fork + exec
    rss_before = _proc_status_kib("VmRSS")
    for _ in range(5):
        step()
    return (_proc_status_kib("VmHWM") - rss_before) / 1024.0


def _proc_status_kib(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return float(line.split()[1])
    raise RuntimeError(f"{key} not found in /proc/self/status")


def bench_envmat(repeat: int, threads: int) -> None:
    import torch

    print(f"\nse_e2_a env matrix, sel {SEL}, {threads} threads, fp64 (best of {repeat}, "
          "interleaved; ms)"
          "\n  env-mat: rij -> em -> sum(em * w) -> dE/drij"
          "\n  step:    coord -> rij -> em -> sum tanh(em W) -> forces (includes the rij gather "
          "and the tanh energy)"
          "\n  peak MB: peak RSS of 5 calls minus the RSS before them, fresh process")
    header = (f"{'atoms':>7} {'impl':>10} {'env-mat':>9} {'speedup':>8} {'peak MB':>8} "
              f"{'step':>9} {'speedup':>8} {'peak MB':>8}")
    print(header)
    print("-" * len(header))
    for replicas in (1, 2):
        res = interleaved_best(envmat_setup(replicas, threads), repeat)
        for kind in ("envmat", "step"):
            a, b = res[("deepft", kind)][1], res[("reference", kind)][1]
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
        n = 192 * replicas**3
        for impl in ("reference", "deepft"):
            peak = {}
            for kind in ("envmat", "step"):
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", f"{impl}:{kind}:{replicas}:{threads}"],
                    check=True, capture_output=True, text=True, cwd=REPO,
                    env={**os.environ, "PYTHONPATH": str(REPO)},
                )
                peak[kind] = float(out.stdout.strip().splitlines()[-1])
            t_env, t_step = res[(impl, "envmat")][0], res[(impl, "step")][0]
            r_env, r_step = res[("reference", "envmat")][0], res[("reference", "step")][0]
            print(f"{n:>7} {impl:>10} {t_env * 1e3:>9.2f} {r_env / t_env:>7.1f}x "
                  f"{peak['envmat']:>8.1f} {t_step * 1e3:>9.2f} {r_step / t_step:>7.1f}x "
                  f"{peak['step']:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-nlist", action="store_true")
    parser.add_argument("--skip-envmat", action="store_true")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2, help="threads of the env-matrix part")
    parser.add_argument("--ase-max-atoms", type=int, default=20_000,
                        help="skip ASE above this size (98,304 atoms: ~85 s and ~11 GB)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        impl, kind, replicas, threads = args.worker.split(":")
        print(envmat_peak_memory(impl, kind, int(replicas), int(threads)))
        return
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}")
    if not args.skip_nlist:
        bench_nlist(args.repeat, args.ase_max_atoms)
    if not args.skip_envmat:
        bench_envmat(args.repeat, args.threads)


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch / libgomp start
    sys.path.insert(0, str(REPO))
    main()
