"""Training benchmark: deepft vs DeePMD-kit 3.2.0 on DeePMD-kit's water se_e2_a or DPA-1 example.

    python tests/benchmarks/bench_training.py [--example se_e2_a|dpa1] [--steps 1000]
        [--threads 2] [--seeds N] [--skip-deepmd] [--deepmd-venv VENV] [--workdir DIR]
        [--deepmd-inference-json FILE]

Both engines get the SAME input JSON in separate folders. --example se_e2_a (default): DeePMD-kit's
examples/water/se_e2_a/input.json (sel [46, 92], rcut 6 Å, embedding 25-50-100, axis 16, fitting
240-240-240). --example dpa1: the model and loss of examples/water/se_atten/input_torch.json in
the form DeePMD-kit 3.2.0 accepts (DPA-1: sel 120 over both types, rcut 6 Å, embedding 25-50-100,
type embedding 8, axis 16, type_one_side, 2 attention layers of 128 with dotr, no mask,
normalize; fitting 240-240-240). Training settings are the same for both examples: batch 1,
float64, lr 1e-3 -> 1e-5 with decay_steps 100, disp_freq 100; data_0..2 train, data_3
validation (numb_btch 3). Runs:
`dp --pt train input.json` (from the venv made by tests/benchmarks/deepmd_env.sh) and
`python -m deepft train input.json`, each with OMP_NUM_THREADS = torch intra-op threads =
--threads (DeePMD-kit: DP_INTRA_OP_PARALLELISM_THREADS, inter-op 1), CPU only.

Measured the same way for both (no engine code is touched):
- s/step: every log line is time-stamped by this script as it arrives on the pipe; s/step =
  (t(line of step --warmup) - ... t(line of the last step)) / (steps - warmup). The window holds
  the same per-disp_freq validation (3 frames), lcurve writes and checkpoint save for both.
  Each tool's own average is shown next to it (deepft's: all steps, validation and checkpoints
  included; DeePMD-kit's: its validation included, the first batches excluded, as it logs).
- CPU s/step: user+system time of the process tree over the same window (less sensitive to
  other load on the machine than wall time).
- peak RSS: the process tree (main process + e.g. DeePMD-kit's data-loader workers) polled every
  0.2 s from /proc: max of the summed RSS, max of the summed PSS (shared pages counted once),
  and the main process's own high-water mark (VmHWM).
- validation RMSE: the final model on all 80 frames of data_3 with each tool's `test` command
  (DeePMD-kit: `dp --pt freeze` + `dp --pt test`; deepft: `deepft freeze` + `deepft test`, or
  the checkpoint `deepft test -m model.ckpt.pt` when freezing fails).
- --seeds N: each engine is trained N times, with descriptor, fitting and training seeds
  1..N (folders ENGINE/seedK); the table shows s/step and memory of the first run (seed 1) and
  the MEAN test RMSE over the seeds, with the per-seed values below it. Without --seeds: one run
  with --seed (default: the example's seeds 1/1/10), as before.
The 1-minute load average is sampled during each run: wall times taken with a load well above
the thread count (other programs running) are not trustworthy; the table says so.

--deepmd-inference-json FILE also times the frozen DeePMD-kit model's `DeepPot.eval` (energy,
forces, virial; fp64, --threads) on a data_3 frame (192 atoms) and its 2x2x2 replica (1,536
atoms) and writes the numbers to FILE for tests/benchmarks/bench_inference.py.
--skip-deepmd uses the DeePMD-kit figures recorded in docs/deepmd-compatibility.md instead
(se_e2_a only).
DeePMD-kit is never a dependency of deepft.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from process_monitor import RunRecord, checked, run_monitored  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
WATER = REPO / "examples" / "data" / "water"
DEFAULT_VENV = Path(os.environ["DEEPFT_DEEPMD_VENV"]) if os.environ.get("DEEPFT_DEEPMD_VENV") \
    else None
# DeePMD-kit 3.2.0, 2 cores, fp64, the se_e2_a example (docs/deepmd-compatibility.md)
REFERENCE_DEEPMD = {"s_step": 0.275, "peak_rss_mb": 2000.0}
# per example: (where the targets come from, step speed-up target); both: memory <= half,
# force RMSE no worse
TARGETS = {"se_e2_a": ("issue #4", 3.0), "dpa1": ("DPA-1 benchmark issue", 2.0)}
STEP_LINE = {  # the line each engine prints after the validation of step N
    "deepft": re.compile(r"\bstep (\d+)/\d+\s"),
    "deepmd": re.compile(r"batch\s+(\d+): total wall time", re.IGNORECASE),
}
SELF_AVERAGE = {
    "deepft": re.compile(r"([0-9.eE+-]+) s/step on average"),  # all steps, validation incl.
    "deepmd": re.compile(r"average training time: ([0-9.eE+-]+) s/batch", re.IGNORECASE),
}


def water_input(steps: int, data: Path, seed: int | None = None) -> dict:
    """DeePMD-kit's examples/water/se_e2_a/input.json with absolute data paths and ``steps``;
    ``seed`` (None: the example's 1, 1, 10) replaces the descriptor, fitting and training seeds."""
    cfg = {
        "model": {
            "type_map": ["O", "H"],
            "descriptor": {"type": "se_e2_a", "sel": [46, 92], "rcut_smth": 0.5, "rcut": 6.0,
                           "neuron": [25, 50, 100], "resnet_dt": False, "axis_neuron": 16,
                           "type_one_side": True, "precision": "float64", "seed": 1},
            "fitting_net": {"neuron": [240, 240, 240], "resnet_dt": True,
                            "precision": "float64", "seed": 1},
            "data_stat_nbatch": 10,
        },
        "learning_rate": {"type": "exp", "decay_steps": 100, "start_lr": 1e-3, "stop_lr": 1e-5},
        "loss": {"type": "ener", "start_pref_e": 0.02, "limit_pref_e": 1, "start_pref_f": 1000,
                 "limit_pref_f": 1, "start_pref_v": 0, "limit_pref_v": 0},
        "training": {
            "training_data": {"systems": [str(data / f"data_{i}") for i in range(3)],
                              "batch_size": 1},
            "validation_data": {"systems": [str(data / "data_3")], "batch_size": 1,
                                "numb_btch": 3},
            "numb_steps": steps, "seed": 10, "disp_file": "lcurve.out", "disp_freq": 100,
            "save_freq": 500,
        },
    }
    if seed is not None:
        cfg["model"]["descriptor"]["seed"] = cfg["model"]["fitting_net"]["seed"] = seed
        cfg["training"]["seed"] = seed
    return cfg


def dpa1_input(steps: int, data: Path, seed: int | None = None) -> dict:
    """water_input with the model and loss of DeePMD-kit's examples/water/se_atten/
    input_torch.json as DeePMD-kit 3.2.0 accepts them (its retired keys post_ln, ffn,
    ffn_embed_dim and head_num dropped), float64; ``seed`` as for water_input."""
    cfg = water_input(steps, data, seed)
    seed_model = 1 if seed is None else seed
    cfg["model"] = {
        "type_map": ["O", "H"],
        "descriptor": {"type": "dpa1", "sel": 120, "rcut_smth": 0.5, "rcut": 6.0,
                       "neuron": [25, 50, 100], "tebd_dim": 8, "axis_neuron": 16,
                       "type_one_side": True, "attn": 128, "attn_layer": 2, "attn_dotr": True,
                       "attn_mask": False, "activation_function": "tanh",
                       "scaling_factor": 1.0, "normalize": True, "temperature": 1.0,
                       "precision": "float64", "seed": seed_model},
        "fitting_net": {"neuron": [240, 240, 240], "resnet_dt": True, "precision": "float64",
                        "seed": seed_model},
    }
    cfg["loss"] = {"type": "ener", "start_pref_e": 0.02, "limit_pref_e": 1, "start_pref_f": 1000,
                   "limit_pref_f": 1, "start_pref_v": 0, "limit_pref_v": 0}
    return cfg


EXAMPLES = {"se_e2_a": water_input, "dpa1": dpa1_input}


# ---- the two engines ----------------------------------------------------------------------


def thread_env(threads: int, extra_path: str | None = None) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads), DP_INTRA_OP_PARALLELISM_THREADS=str(threads),
               DP_INTER_OP_PARALLELISM_THREADS="1", CUDA_VISIBLE_DEVICES="",
               PYTHONUNBUFFERED="1")
    if extra_path:
        env["PATH"] = extra_path + os.pathsep + env["PATH"]
    return env


def rmse_from_test_log(text: str) -> tuple[float, float]:
    """(energy RMSE per atom eV, force RMSE eV/Å) from `dp test` / `deepft test` output."""
    e = re.findall(r"Energy RMSE/Natoms\s*:\s*([0-9.eE+-]+)", text)
    f = re.findall(r"Force\s+RMSE\s*:\s*([0-9.eE+-]+)", text)
    if not e or not f:
        raise SystemExit(f"no RMSE lines found in the test output:\n{text[-2000:]}")
    return float(e[-1]), float(f[-1])


def train_deepft(folder: Path, cfg: dict, threads: int) -> tuple[RunRecord, tuple | None]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "input.json").write_text(json.dumps(cfg, indent=2))
    env = thread_env(threads)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    py = [sys.executable, "-m", "deepft"]
    rec = checked(run_monitored("deepft", [*py, "train", "input.json"], folder, env,
                                STEP_LINE["deepft"], SELF_AVERAGE["deepft"],
                                folder / "train.log"), "train")
    frozen = run_monitored("deepft", [*py, "freeze", "-c", "model.ckpt.pt", "-o", "model.dft"],
                           folder, env, None, None, folder / "freeze.log")
    test_cmd = [*py, "test"]
    model = "model.dft" if frozen.returncode == 0 else "model.ckpt.pt"
    if frozen.returncode != 0:  # e.g. DPA-1: model.dft cannot hold it yet
        print(f"deepft freeze failed (exit {frozen.returncode}; {folder / 'freeze.log'}); "
              "testing the checkpoint")
    test = run_monitored("deepft", [*test_cmd, "-m", model, "-s", cfg["training"][
        "validation_data"]["systems"][0]], folder, env, None, None, folder / "test.log")
    if test.returncode != 0:
        print(f"deepft test failed (exit {test.returncode}; {folder / 'test.log'})")
    return rec, (rmse_from_test_log(test.log) if test.returncode == 0 else None)


def train_deepmd(folder: Path, cfg: dict, threads: int, venv: Path | None
                 ) -> tuple[RunRecord, tuple | None]:
    if venv is None:
        raise SystemExit("no DeePMD-kit venv: pass --deepmd-venv (made by "
                         "tests/benchmarks/deepmd_env.sh) or --skip-deepmd")
    dp = venv / "bin" / "dp"
    if not dp.exists():
        raise SystemExit(f"{dp} not found: create the venv with tests/benchmarks/deepmd_env.sh "
                         "or pass --skip-deepmd")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "input.json").write_text(json.dumps(cfg, indent=2))
    env = thread_env(threads, str(venv / "bin"))
    env.pop("PYTHONPATH", None)
    env["VIRTUAL_ENV"] = str(venv)
    env["LD_LIBRARY_PATH"] = str(venv / "lib") + os.pathsep + env.get("LD_LIBRARY_PATH", "")
    rec = checked(run_monitored("DeePMD-kit", [str(dp), "--pt", "train", "input.json"], folder,
                                env, STEP_LINE["deepmd"], SELF_AVERAGE["deepmd"],
                                folder / "train.log"), "train")
    checked(run_monitored("DeePMD-kit", [str(dp), "--pt", "freeze", "-o", "frozen_model.pth"],
                          folder, env, None, None, folder / "freeze.log"), "freeze")
    test = checked(run_monitored(
        "DeePMD-kit", [str(dp), "--pt", "test", "-m", "frozen_model.pth", "-s",
                       cfg["training"]["validation_data"]["systems"][0]],
        folder, env, None, None, folder / "test.log"), "test")
    return rec, rmse_from_test_log(test.log)


# ---- DeePMD-kit inference (run inside its venv) -------------------------------------------

INFER_SNIPPET = r"""
import json, resource, sys, time
import numpy as np
import torch
from deepmd.infer import DeepPot
a = json.loads(sys.argv[1])
d = a["data"]
coord = np.load(d + "/set.000/coord.npy")[0].reshape(-1, 3)
box = np.load(d + "/set.000/box.npy")[0].reshape(3, 3)
atype = np.loadtxt(d + "/type.raw", dtype=int)
dp = DeepPot(a["model"])
cases = []
for rep, repeat in ((1, a["repeat_small"]), (2, a["repeat_large"])):
    shifts = np.stack(np.meshgrid(*[np.arange(rep)] * 3, indexing="ij"), -1).reshape(-1, 3)
    c = (coord[None] + (shifts @ box)[:, None]).reshape(1, -1)
    b = (box * rep).reshape(1, 9)
    t = np.tile(atype, len(shifts)).tolist()
    for _ in range(2):
        e, f, v = dp.eval(c, b, t)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        e, f, v = dp.eval(c, b, t)
        times.append(time.perf_counter() - t0)
    times.sort()
    cases.append({"natoms": len(t), "replicate": [rep] * 3, "repeats": repeat,
                  "ms_per_frame_median": 1e3 * times[len(times) // 2],
                  "ms_per_frame_min": 1e3 * times[0],
                  "ms_per_frame_mean": 1e3 * sum(times) / len(times),
                  "energy_eV": float(np.asarray(e).ravel()[0]),
                  "max_abs_force_eV_A": float(np.abs(f).max()),
                  "peak_rss_mb_after": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
import deepmd
print("RESULT " + json.dumps({"deepmd_version": deepmd.__version__,
      "torch_version": torch.__version__, "torch_threads": torch.get_num_threads(),
      "cases": cases}))
"""


def deepmd_inference(venv: Path, model: Path, threads: int, out: Path, repeat: int) -> dict:
    """Time DeePMD-kit's DeepPot.eval (e, f, v) on 192 and 1,536 water atoms; write ``out``."""
    env = thread_env(threads, str(venv / "bin"))
    env.pop("PYTHONPATH", None)
    args = {"data": str(WATER / "data_3"), "model": str(model), "repeat_small": repeat,
            "repeat_large": max(3, repeat // 4)}
    load0 = os.getloadavg()[0]
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", INFER_SNIPPET, json.dumps(args)],
                          env=env, capture_output=True, text=True)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not line:
        raise SystemExit(f"DeePMD-kit inference failed:\n{proc.stdout[-2000:]}\n"
                         f"{proc.stderr[-3000:]}")
    res = json.loads(line[0][len("RESULT "):])
    res.update({"engine": "DeePMD-kit", "backend": "pt (frozen .pth, TorchScript)",
                "api": "deepmd.infer.DeepPot.eval(coord, box, atype) -> energy, force, virial",
                "model": str(model), "system": "water data_3 frame 0, replicated",
                "precision": "float64", "threads": threads, "machine": machine(),
                "load_avg_1min_before_after": [load0, os.getloadavg()[0]],
                "date": time.strftime("%Y-%m-%d %H:%M:%S")})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    return res


# ---- report -------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}"


def wait_for_quiet(max_load: float, max_wait: float) -> float:
    """Sleep until the 1-minute load average is below ``max_load`` (at most ``max_wait`` s)."""
    t0 = time.time()
    while os.getloadavg()[0] > max_load and time.time() - t0 < max_wait:
        print(f"  load {os.getloadavg()[0]:.2f} > {max_load}: waiting", flush=True)
        time.sleep(30)
    return os.getloadavg()[0]


def mean_rmse(per_seed: list) -> tuple[float, float] | None:
    """(E, F) RMSE averaged over the seeds whose test ran (None if none did)."""
    ok = [r for r in per_seed if r]
    if not ok:
        return None
    return sum(e for e, _ in ok) / len(ok), sum(f for _, f in ok) / len(ok)


def summary(rec: RunRecord | None, rmses: list, warmup: int, steps: int,
            seeds: list | None = None) -> dict:
    """Timing and memory of ``rec`` (the first run); RMSE: mean over ``rmses`` (one per seed;
    None where a test failed)."""
    if rec is None:  # --skip-deepmd
        r = REFERENCE_DEEPMD
        return {"s_step": r["s_step"], "median": None, "intervals": [], "self": None,
                "cpu": None, "rss": r["peak_rss_mb"], "pss": None,
                "hwm": None, "rmse": None, "rmse_seeds": [], "seeds": [], "load": None,
                "source": "docs"}
    win = rec.window(warmup, steps) or (None, None)
    ivals = rec.intervals(warmup, steps)
    med = sorted(v for _, v, _ in ivals)[len(ivals) // 2] if ivals else None
    return {"s_step": win[0], "median": med, "intervals": ivals, "self": rec.self_average,
            "cpu": win[1],
            "rss": rec.peak_rss_kb / 1024, "pss": rec.peak_pss_kb / 1024,
            "hwm": rec.main_hwm_kb / 1024, "rmse": mean_rmse(rmses), "rmse_seeds": rmses,
            "seeds": seeds or [None] * len(rmses), "load": rec.load_in(warmup, steps),
            "span": rec.span(warmup, steps), "source": "measured"}


def fmt(x, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def _ratio(a, b) -> float | None:
    return a / b if a is not None and b else None


def print_table(rows: dict[str, dict], warmup: int, steps: int, threads: int,
                example: str = "se_e2_a") -> None:
    print(f"\nexample: water {example}; machine: {machine()}; {threads} threads per engine; "
          f"fp64; batch 1; s/step over steps {warmup}..{steps} from time-stamped log lines")
    for name, r in rows.items():
        if r.get("span") and tuple(r["span"]) != (warmup, steps):
            print(f"{name}: steps {warmup} and {steps} are not both logged; its window is steps "
                  f"{r['span'][0]}..{r['span'][1]} (disp_freq 100)")
    nseeds = max((len(r["rmse_seeds"]) for r in rows.values()), default=0)
    if nseeds > 1:
        print(f"s/step and memory: first run (seed 1); RMSE: mean over {nseeds} seeds "
              "(per seed below)")
    print("s/step: wall, log-line stamps; (self): the tool's own average; CPU: user+sys of the "
          "process tree;\nRSS/PSS: peak of the process tree's sum (PSS counts pages shared with "
          "forked workers once);\nHWM: main process high-water mark; RMSE: `test` on data_3 "
          "(80 frames), E per atom (eV), F (eV/Å); load: 1-min load average during the window;\n"
          "median: median over the disp_freq intervals of the window (robust to bursts of "
          "outside load)")
    head = (f"{'engine':<12}{'s/step':>9}{'median':>9}{'(self)':>9}{'CPU s/st':>10}{'RSS MB':>9}"
            f"{'PSS MB':>9}{'HWM MB':>9}{'E rmse/at':>11}{'F rmse':>10}{'load avg/max':>14}")
    print(head)
    print("-" * len(head))
    for name, r in rows.items():
        e, f = r["rmse"] or (None, None)
        load = f"{r['load'][0]:.1f}/{r['load'][1]:.1f}" if r["load"] else "n/a"
        label = name if r["source"] == "measured" else f"{name}*"
        print(f"{label:<12}{fmt(r['s_step'], '.4f'):>9}{fmt(r['median'], '.4f'):>9}"
              f"{fmt(r['self'], '.4f'):>9}"
              f"{fmt(r['cpu'], '.4f'):>10}{fmt(r['rss'], '.0f'):>9}{fmt(r['pss'], '.0f'):>9}"
              f"{fmt(r['hwm'], '.0f'):>9}{fmt(e, '.2e'):>11}{fmt(f, '.2e'):>10}{load:>14}")
    ft, dp = rows.get("deepft"), rows.get("DeePMD-kit")
    if ft and dp:  # deepft / DeePMD-kit of each column (times: < 1 is faster)
        (fe, ff), (de, df) = ft["rmse"] or (None, None), dp["rmse"] or (None, None)
        cols = [(_ratio(ft[k], dp[k]), w, ".3f") for k, w in (
            ("s_step", 9), ("median", 9), ("self", 9), ("cpu", 10), ("rss", 9), ("pss", 9),
            ("hwm", 9))] + [(_ratio(fe, de), 11, ".3f"), (_ratio(ff, df), 10, ".3f")]
        print(f"{'ratio ft/dp':<12}" + "".join(f"{fmt(v, spec):>{w}}" for v, w, spec in cols))
    for name, r in rows.items():
        if len(r["rmse_seeds"]) > 1 or (r["seeds"] and r["seeds"][0] is not None):
            print(f"{name} test RMSE per seed (E per atom / F): " + ", ".join(
                f"seed {s}: " + (f"{v[0]:.2e} / {v[1]:.3e}" if v else "test failed")
                for s, v in zip(r["seeds"], r["rmse_seeds"], strict=True)))
    for name, r in rows.items():
        if r["intervals"]:
            print(f"{name} intervals (end step: s/step @ max load): " + ", ".join(
                f"{b}: {v:.3f}@{ld:.1f}" for b, v, ld in r["intervals"]))
    if any(r["source"] != "measured" for r in rows.values()):
        print("* figures recorded in docs/deepmd-compatibility.md, not measured in this run")
    print_targets(rows, example)


def print_targets(rows: dict[str, dict], example: str = "se_e2_a") -> None:
    ft, dp = rows.get("deepft"), rows.get("DeePMD-kit")
    if not ft or not dp:
        return
    source, target = TARGETS[example]
    print(f"\ntargets ({source}):")
    for key, what in (("s_step", "window"), ("median", "median interval")):
        if ft[key] and dp[key]:
            speed = dp[key] / ft[key]
            print(f"  step speed-up   {speed:6.2f}x  (target >= {target:g}x)    "
                  f"{'PASS' if speed >= target else 'FAIL'}  ({what})")
    if ft["cpu"] and dp["cpu"]:
        print(f"  CPU-time ratio  {dp['cpu'] / ft['cpu']:6.2f}x  (information)")
    key = "pss" if ft["pss"] and dp["pss"] else "rss"  # PSS: forked workers' shared pages once
    if ft[key] and dp[key]:
        ratio = ft[key] / dp[key]
        print(f"  peak {key.upper()} ratio  {ratio:6.2f}   (target <= 0.5)   "
              f"{'PASS' if ratio <= 0.5 else 'FAIL'}")
    if ft["rmse"] and dp["rmse"]:
        ratio = ft["rmse"][1] / dp["rmse"][1]
        n = len([r for r in ft["rmse_seeds"] if r])
        what = f"  (mean over {n} seeds)" if n > 1 else ""
        print(f"  force RMSE      {ratio:6.2f}x  (target <= 1.00)  "
              f"{'PASS' if ratio <= 1.0 else 'FAIL'}{what}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--example", choices=sorted(EXAMPLES), default="se_e2_a",
                   help="DeePMD-kit's water example: se_e2_a (examples/water/se_e2_a) or dpa1 "
                        "(examples/water/se_atten/input_torch.json)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=100, help="steps excluded from s/step")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=None,
                   help="descriptor/fitting/training seed for both engines (default: the "
                        "example's 1/1/10); RMSE differences between engines within the spread "
                        "over seeds are noise")
    p.add_argument("--seeds", type=int, default=None, metavar="N",
                   help="train each engine N times with seeds 1..N (descriptor, fitting and "
                        "training); table: s/step and memory of the first run, mean test RMSE "
                        "(default 1 run with --seed)")
    p.add_argument("--data", type=Path, default=WATER, help="folder with data_0..data_3")
    p.add_argument("--workdir", type=Path, default=None, help="keep the runs here")
    p.add_argument("--deepmd-venv", type=Path, default=DEFAULT_VENV,
                   help="venv made by tests/benchmarks/deepmd_env.sh "
                        "(default: $DEEPFT_DEEPMD_VENV)")
    p.add_argument("--skip-deepmd", action="store_true",
                   help="use docs/deepmd-compatibility.md's DeePMD-kit figures instead of "
                        "running it")
    p.add_argument("--skip-deepft", action="store_true")
    p.add_argument("--deepmd-inference-json", type=Path, default=None,
                   help="also time DeePMD-kit's DeepPot.eval and write the numbers here")
    p.add_argument("--inference-repeat", type=int, default=20)
    p.add_argument("--max-load", type=float, default=1.5,
                   help="wait (up to --max-wait s) for a 1-min load below this before each run")
    p.add_argument("--max-wait", type=float, default=900.0)
    a = p.parse_args(argv)
    if a.seeds is not None and (a.seeds < 1 or a.seed is not None):
        p.error("--seeds N needs N >= 1 and no --seed (it uses seeds 1..N)")
    if a.example != "se_e2_a" and (a.skip_deepmd or a.deepmd_inference_json):
        p.error("--skip-deepmd and --deepmd-inference-json are for --example se_e2_a only "
                "(the recorded DeePMD-kit figures and bench_inference.py are se_e2_a's)")
    if not 1 <= a.warmup < a.steps:  # both engines log step 1 and every disp_freq-th step
        a.warmup = 1
    workdir = a.workdir or Path(tempfile.mkdtemp(prefix="bench_training_"))
    seeds = [a.seed] if a.seeds is None else list(range(1, a.seeds + 1))

    def folder(engine: str, seed: int | None) -> Path:
        return workdir / engine if a.seeds is None else workdir / engine / f"seed{seed}"

    def run_all(label: str, engine: str, train) -> dict:
        recs, rmses = [], []
        for seed in seeds:
            what = "" if seed is None else f" (seed {seed})"
            print(f"load before {label}{what}: {wait_for_quiet(a.max_load, a.max_wait):.2f}",
                  flush=True)
            rec, rmse = train(folder(engine, seed), EXAMPLES[a.example](a.steps, a.data, seed))
            recs.append(rec)
            rmses.append(rmse)
            win = rec.window(a.warmup, a.steps)
            print(f"  {label}{what}: " + (f"{win[0]:.4f} s/step, " if win else "")
                  + (f"test RMSE E/atom {rmse[0]:.2e}, F {rmse[1]:.3e}" if rmse
                     else "test failed"), flush=True)
        return summary(recs[0], rmses, a.warmup, a.steps, seeds)

    rows: dict[str, dict] = {}
    print(f"example {a.example}; runs in {workdir}")
    if not a.skip_deepmd:
        rows["DeePMD-kit"] = run_all("DeePMD-kit", "deepmd", lambda d, cfg: train_deepmd(
            d, cfg, a.threads, a.deepmd_venv))
        if a.deepmd_inference_json:
            print(f"load before inference: {wait_for_quiet(a.max_load, a.max_wait):.2f}")
            res = deepmd_inference(a.deepmd_venv, folder("deepmd", seeds[0]) / "frozen_model.pth",
                                   a.threads, a.deepmd_inference_json, a.inference_repeat)
            for c in res["cases"]:
                print(f"DeePMD-kit DeepPot.eval {c['natoms']:>5} atoms: "
                      f"{c['ms_per_frame_median']:.1f} ms/frame (median of {c['repeats']})")
            print(f"wrote {a.deepmd_inference_json}")
    else:
        rows["DeePMD-kit"] = summary(None, [], a.warmup, a.steps)
    if not a.skip_deepft:
        rows["deepft"] = run_all("deepft", "deepft", lambda d, cfg: train_deepft(
            d, cfg, a.threads))
    print_table(rows, a.warmup, a.steps, a.threads, a.example)
    (workdir / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
