"""Compressed models: deepft vs DeePMD-kit 3.2.0 (issue #12), same water weights, fp64.

    python tests/benchmarks/bench_compress.py --deepmd-dir DIR [--threads 1 2]
        [--deepmd-python /path/dpvenv/bin/python] [--deepmd-lmp /path/dpvenv/bin/lmp]
        [--skip-eval] [--skip-lammps]

DIR holds a DeePMD-kit 3 PyTorch water training (DeePMD-kit's se_e2_a example input, or its DPA-1
input with ``attn_layer: 0`` and ``tebd_input_mode: "strip"``, the DPA-1 form both tools compress;
any number of steps: speed does not depend on the weights): ``model.ckpt.pt``, ``input.json`` (its
training systems give the shortest neighbor distance), ``frozen.pth`` (``dp --pt freeze``) and
``compressed.pth`` (``dp --pt compress -i frozen.pth -o compressed.pth -t input.json``, defaults:
step 0.01, extrapolate 5). The checkpoint is converted to a deepft model.dft with the same weights
(bench_lammps.deepmd_to_dft) and compressed with ``deepft compress`` (same defaults, same training
systems); the energies of all four models on the 192-atom frame are printed first (same weights:
they agree to ~1e-11 eV).

1. ``DeepPot.eval`` (energy, forces, virial) of frame 0 of water/data_3 (192 atoms) and its
   2x2x2 replica (1,536 atoms): deepft compressed, DeePMD-kit compressed, deepft uncompressed,
   interleaved in ONE process of the DeePMD-kit venv (deepft imported from this checkout, so
   load changes hit all engines alike), one process per thread count (OMP_NUM_THREADS, torch
   threads = deepft threads). Median ms/frame over --repeat calls after 2 warm-up calls.
2. LAMMPS NVE (bench_lammps.py's input: 0.5 fs, from 330 K) at 192, 1,536 and 12,288 atoms:
   ``pair_style deepft`` compressed, ``pair_style deepmd`` compressed and ``pair_style deepft``
   uncompressed; µs/atom/step from LAMMPS' Loop time of the timed run after a warm-up run, and
   the peak RSS of the LAMMPS process (GNU time; MB, and KB per atom). Steps per size: 200 / 40
   / 8 timed after 20 / 5 / 2 warm-up (DeePMD-kit takes ~1.5 ms/atom/step: 200 steps of 12,288
   atoms would take an hour); --lmp-steps W T uses W and T at every size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DATA = REPO / "examples" / "data" / "water" / "data_3"
LMP_STEPS = {192: (20, 200), 1536: (5, 40), 12288: (2, 8)}  # (warm-up, timed)
TIME = "/usr/bin/time"  # GNU time: peak RSS of the LAMMPS process


# ---- worker: runs in the DeePMD-kit venv ------------------------------------------------------

def worker(models: dict[str, str], sizes: list[int], repeat: int) -> None:
    """Prints one JSON line: {engine: {natoms: [ms per call]}} (engines interleaved)."""
    import numpy as np
    import torch
    from deepmd.infer import DeepPot as DeepmdPot

    from deepft.infer import DeepPot

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    coord = np.load(next(DATA.glob("set.*")) / "coord.npy")[:1].reshape(1, -1, 3)
    box = np.load(next(DATA.glob("set.*")) / "box.npy")[:1]
    atype = np.loadtxt(DATA / "type.raw", dtype=int)
    frames = {192: (coord, box, atype), 1536: replicate(coord, box, atype, 2)}
    pots = {name: (DeepmdPot(path) if path.endswith(".pth") else DeepPot(path))
            for name, path in models.items()}
    out = {name: {} for name in pots}
    for natoms in sizes:
        c, b, t = frames[natoms]
        for pot in pots.values():
            for _ in range(2):
                pot.eval(c, b, t)
        n = repeat if natoms <= 192 else max(3, repeat // 4)
        times = {name: [] for name in pots}
        for _ in range(n):
            for name, pot in pots.items():
                t0 = time.perf_counter()
                pot.eval(c, b, t)
                times[name].append((time.perf_counter() - t0) * 1e3)
        for name in pots:
            out[name][natoms] = times[name]
    print("RESULT " + json.dumps(out), flush=True)


def replicate(coord, box, atype, k: int):
    """The frame repeated k x k x k times along its (orthorhombic or not) cell vectors."""
    import numpy as np

    cell = box.reshape(3, 3)
    shifts = np.array([[i, j, m] for i in range(k) for j in range(k) for m in range(k)]) @ cell
    big = (coord.reshape(-1, 3)[None] + shifts[:, None]).reshape(1, -1, 3)
    return big, (cell * k).reshape(1, 9), np.tile(atype, k ** 3)


# ---- driver -----------------------------------------------------------------------------------

def machine() -> str:
    cpu = platform.processor() or "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{cpu}, {os.cpu_count()} logical CPUs"


def prepare(dpdir: Path, work: Path) -> dict[str, str]:
    """The four models: deepft (converted checkpoint) and its compression, DeePMD-kit's."""
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(REPO))
    import bench_lammps

    from deepft.commands.compress import compress

    plain = bench_lammps.deepmd_to_dft(dpdir / "model.ckpt.pt", work / "converted.dft")
    small = compress(plain, work / "converted-compressed.dft",
                     training_script=dpdir / "input.json")
    return {"deepft-compressed": str(small), "deepmd-compressed": str(dpdir / "compressed.pth"),
            "deepft": str(plain), "deepmd": str(dpdir / "frozen.pth")}


def run_eval(models: dict[str, str], dp_python: str, threads: list[int], repeat: int) -> None:
    print("\n1. DeepPot.eval (energy + forces + virial), fp64, ms/frame (median), "
          "interleaved in one process")
    names = ["deepft-compressed", "deepmd-compressed", "deepft"]
    print(f"{'atoms':>6} {'threads':>7} " + " ".join(f"{n:>18}" for n in names)
          + f" {'dp-c/ft-c':>10} {'ft/ft-c':>8} {'load':>5}")
    for nt in threads:
        env = dict(os.environ, OMP_NUM_THREADS=str(nt), CUDA_VISIBLE_DEVICES="",
                   DP_INTRA_OP_PARALLELISM_THREADS=str(nt), DP_INTER_OP_PARALLELISM_THREADS="1",
                   PYTHONPATH=str(REPO))
        sub = {n: models[n] for n in names}
        proc = subprocess.run([dp_python, __file__, "--worker", json.dumps(sub),
                               "--repeat", str(repeat)], env=env, capture_output=True, text=True)
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode != 0 or not line:
            sys.exit(f"eval worker failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
        res = json.loads(line[0][7:])
        for natoms in ("192", "1536"):
            ms = {n: statistics.median(res[n][natoms]) for n in names}
            print(f"{natoms:>6} {nt:>7} " + " ".join(f"{ms[n]:18.2f}" for n in names)
                  + f" {ms['deepmd-compressed'] / ms['deepft-compressed']:10.2f}"
                  + f" {ms['deepft'] / ms['deepft-compressed']:8.2f}"
                  + f" {os.getloadavg()[0]:5.2f}", flush=True)


def run_lammps_case(exe, libs, pair, plugin, natoms, threads, work, steps):
    """(µs/atom/step, peak RSS MB) of one LAMMPS run."""
    sys.path.insert(0, str(HERE))
    import bench_lammps

    warm, timed = steps
    text = bench_lammps.SCRIPT.format(plugin=plugin, data=bench_lammps.DATA,
                                      replicate=bench_lammps.SIZES[natoms], pair=pair,
                                      steps=timed, warmup=warm)  # newer SCRIPT: {warmup}
    text = text.replace("run             5\n", f"run             {warm}\n")  # older: run 5
    inp = work / f"in.{natoms}"
    inp.write_text(text)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), CUDA_VISIBLE_DEVICES="",
               DP_INTRA_OP_PARALLELISM_THREADS=str(threads), DP_INTER_OP_PARALLELISM_THREADS="1")
    env["LD_LIBRARY_PATH"] = os.pathsep.join(libs + [env.get("LD_LIBRARY_PATH", "")])
    env.pop("LAMMPS_PLUGIN_PATH", None)
    # GNU time forks LAMMPS from its own small image: the rusage of a child forked straight
    # from this (large) Python process would include the pre-exec copy of it
    cmd = [TIME, "-f", "maxrss-kb %M", str(exe), "-in", str(inp), "-log", "none", "-nocite"]
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    loops = re.findall(r"Loop time of ([0-9.eE+-]+) on \d+ procs for (\d+) steps", out)
    rss = re.findall(r"maxrss-kb (\d+)", out)
    if proc.returncode != 0 or len(loops) < 2 or not rss:
        raise RuntimeError(f"{exe} failed on {natoms} atoms:\n{out[-3000:]}")
    sec = float(loops[-1][0])
    return sec / timed / natoms * 1e6, int(rss[-1]) / 1024


def run_lammps(models, dp_lmp: Path, threads, sizes, work: Path) -> None:
    sys.path.insert(0, str(HERE))
    import bench_lammps

    lmp, libs, plugin = bench_lammps.deepft_lmp()
    engines = [("deepft-compressed", lmp, libs, f"deepft {models['deepft-compressed']}", plugin),
               ("deepmd-compressed", dp_lmp, bench_lammps.venv_lib_dirs(dp_lmp),
                f"deepmd {models['deepmd-compressed']}", ""),
               ("deepft", lmp, libs, f"deepft {models['deepft']}", plugin)]
    print("\n2. LAMMPS NVE 0.5 fs, µs/atom/step (steps/s), peak RSS MB (KB/atom)")
    print(f"{'atoms':>6} {'threads':>7} {'steps':>6} " + " ".join(f"{e[0]:>30}" for e in engines)
          + f" {'dp-c/ft-c':>10} {'ft/ft-c':>8} {'load':>5}")
    for natoms in sizes:
        for nt in threads:
            row = {}
            for name, exe, lib, pair, plug in engines:
                us, mb = run_lammps_case(exe, lib, pair, plug, natoms, nt, work,
                                         LMP_STEPS[natoms])
                row[name] = (us, mb)
            cells = [f"{us:9.1f} ({1e6 / us / natoms:8.2f}) {mb:6.0f} ({mb * 1024 / natoms:5.1f})"
                     for us, mb in row.values()]
            print(f"{natoms:>6} {nt:>7} {LMP_STEPS[natoms][1]:>6} " + " ".join(cells)
                  + f" {row['deepmd-compressed'][0] / row['deepft-compressed'][0]:10.2f}"
                  + f" {row['deepft'][0] / row['deepft-compressed'][0]:8.2f}"
                  + f" {os.getloadavg()[0]:5.2f}", flush=True)


def same_weights(models, dp_python: str) -> None:
    code = ("import json,sys,numpy as np\n"
            "from deepft.infer import DeepPot\nfrom deepmd.infer import DeepPot as D\n"
            f"d='{DATA}'\nimport glob\n"
            "c=np.load(glob.glob(d+'/set.*/coord.npy')[0])[:1]\n"
            "b=np.load(glob.glob(d+'/set.*/box.npy')[0])[:1]\n"
            "t=np.loadtxt(d+'/type.raw',dtype=int)\n"
            f"m=json.loads('{json.dumps(models)}')\n"
            "r={k: (D(p) if p.endswith('.pth') else DeepPot(p)).eval(c, b, t)[:2]\n"
            "   for k, p in m.items()}\n"
            "e0,f0=r['deepmd']\n"
            "for k, (e, f) in r.items():\n"
            "    df = np.abs(np.reshape(f, (-1, 3)) - np.reshape(f0, (-1, 3))).max()\n"
            "    print(f'  {k:18} E {float(np.ravel(e)[0]):.9f} eV, max |F - F(deepmd)| "
            "{float(df):.2e}')\n")
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(REPO))
    proc = subprocess.run([dp_python, "-c", code], env=env, capture_output=True, text=True)
    print("same weights (192 atoms):")
    print("\n".join(x for x in proc.stdout.splitlines() if x.startswith("  ")) or proc.stderr)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--deepmd-dir", type=Path)
    venv = os.environ.get("DEEPFT_DEEPMD_VENV")  # tests/benchmarks/deepmd_env.sh VENV
    # required unless the venv variable gives them, or this process is the eval worker
    needed = venv is None and "--worker" not in sys.argv
    p.add_argument("--deepmd-python", default=f"{venv}/bin/python" if venv else None,
                   required=needed,
                   help="python of the DeePMD-kit venv (default: $DEEPFT_DEEPMD_VENV/bin/python)")
    p.add_argument("--deepmd-lmp", type=Path, default=Path(f"{venv}/bin/lmp") if venv else None,
                   required=needed,
                   help="lmp of the DeePMD-kit venv (default: $DEEPFT_DEEPMD_VENV/bin/lmp)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--sizes", type=int, nargs="+", default=list(LMP_STEPS))
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--skip-eval", action="store_true")
    p.add_argument("--skip-lammps", action="store_true")
    p.add_argument("--lmp-steps", type=int, nargs=2, metavar=("WARMUP", "TIMED"),
                   help="the same warm-up and timed steps at every size (e.g. 1 2 for a "
                        "quick peak-memory run)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(json.loads(args.worker), [192, 1536], args.repeat)
        return
    if args.deepmd_dir is None:
        sys.exit("--deepmd-dir is required (see the docstring)")
    print(f"machine: {machine()}; load before: {os.getloadavg()[0]:.2f}; "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    with tempfile.TemporaryDirectory(prefix="bench_compress_") as tmp:
        work = Path(tmp)
        models = prepare(args.deepmd_dir, work)
        same_weights(models, args.deepmd_python)
        if not args.skip_eval:
            run_eval(models, args.deepmd_python, args.threads, args.repeat)
        if args.lmp_steps:
            LMP_STEPS.update({n: tuple(args.lmp_steps) for n in LMP_STEPS})
        if not args.skip_lammps:
            run_lammps(models, args.deepmd_lmp, args.threads, args.sizes, work)


if __name__ == "__main__":
    main()
