"""One-shot GPU checks of issue #16: build with CUDA, CUDA = CPU, GPU training = CPU training,
GPU training speed (vs DeePMD-kit 3.2.0 when available), native inference. One JSON, one table.

    tests/gpu/run_device_checks.sh [--out FILE] [--deepmd-venv VENV | --wheels DIR]
        [--cpu-dry-run] [--workdir DIR] [--budget-s 480]

Steps, each recorded in the JSON as ``{"status": "pass"|"fail"|"skipped"|"info", "seconds",
"detail", ...}``; a failed step does not stop the next ones (except the preflight: without nvcc
or a visible GPU nothing else means anything):

1. ``preflight``: nvcc and a visible GPU (torch, nvidia-smi); torch, CUDA, driver versions.
2. ``build``: ``tools/dev_build.sh -DDEEPFT_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=<the GPU's>``
   (all cores), then ``deepft._core.cuda_compiled()`` and ``has_cuda()``.
3. ``cuda_consistency``: the CUDA consistency and build tests with ``DEEPFT_REQUIRE_CUDA=1``
   (a skip fails).
4. ``train_equality``: ``python -m deepft train`` with ``DEEPFT_DEVICE=cuda`` and ``=cpu`` on
   examples/water (se_e2_a) and examples/water_dpa1 (DPA-1), shrunk to ``--equality-steps``
   steps with a line per step (fp64); every lcurve.out column agrees to ``--equality-rtol``.
5. ``host_syncs``: count_syncs.py, host-device synchronizations of ``--sync-steps`` CUDA training
   steps of both examples (``torch.cuda.set_sync_debug_mode``); at most one per step (the
   finiteness check), else the Python lines that synchronized are listed.
6. ``timing``: bench_training.py's water se_e2_a input (fp64, batch 1) for ``--timing-steps``
   steps through process_monitor.py (s/step from time-stamped log lines over steps
   ``--timing-warmup``..end, peak RSS/PSS), plus GPU memory: ``torch.cuda.max_memory_allocated``
   of the deepft process, and the peak ``nvidia-smi`` memory of the training process tree
   (both engines). DeePMD-kit (``dp --pt train``) from ``--deepmd-venv`` /
   ``$DEEPFT_DEEPMD_VENV``, or a venv made from ``--wheels DIR``; otherwise "DeePMD-kit not
   available" (not a failure).
7. ``inference``: ``deepft.infer.DeepPot`` (the native core is CPU-only) on the water frame
   replicated 2x2x2 (1,536 atoms) and 4x4x4 (12,288 atoms), all cores.

``--cpu-dry-run`` runs the same pipeline on the CPU with tiny step counts and the existing build
(build and consistency steps reported as skipped by design), to test the plumbing without a GPU.
Exit status: 0 when no step failed, 1 when one did, 2 when the preflight failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "benchmarks"))
sys.path.insert(0, str(REPO / "tests"))
import bench_training as bench  # noqa: E402
from device_runs import DeepmdSetup, lcurve_agreement, shrunk_example  # noqa: E402
from process_monitor import run_monitored  # noqa: E402

CONSISTENCY_TESTS = ["tests/consistency/test_kernels_cuda.py", "tests/unit/ops/test_cuda_build.py",
                     "tests/unit/ops/test_cuda_args.py"]
# python -c LAUNCH train input.json: `python -m deepft` that prints the CUDA allocator's peak
LAUNCH = ("import atexit, runpy, sys, torch\n"
          "def _peak():\n"
          "    if torch.cuda.is_initialized():\n"
          "        print(f'DEVICE_CHECKS max_memory_allocated={torch.cuda.max_memory_allocated()}'"
          ", flush=True)\n"
          "atexit.register(_peak)\n"
          "sys.argv[0] = 'deepft'\n"
          "runpy.run_module('deepft', run_name='__main__')\n")
PEAK_RE = re.compile(r"DEVICE_CHECKS max_memory_allocated=(\d+)")
ENV_SNIPPET = r"""
import json, platform, torch
info = {"python": platform.python_version(), "torch": torch.__version__,
        "torch_cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available()}
if info["cuda_available"]:
    p = torch.cuda.get_device_properties(0)
    info.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1),
                capability=f"{p.major}{p.minor}", gpu_count=torch.cuda.device_count())
print(json.dumps(info))
"""


class Checks:
    """The JSON being built: one entry per step, the wall-clock budget, the table."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.t0 = time.perf_counter()
        self.data: dict = {"schema": 1, "mode": "cpu-dry-run" if args.cpu_dry_run else "gpu",
                           "date": time.strftime("%Y-%m-%d %H:%M:%S"), "git": git_commit(),
                           "machine": bench.machine(), "environment": {}, "steps": {}}

    def left(self) -> float:
        return self.args.budget_s - (time.perf_counter() - self.t0)

    def run(self, name: str, fn, min_s: float = 20.0) -> dict:
        """``fn()`` -> step dict; an exception or a too-small budget is recorded, not raised."""
        t = time.perf_counter()
        print(f"\n=== {name} ({self.left():.0f} s of the budget left)", flush=True)
        if self.left() < min_s:
            res = {"status": "fail", "detail": f"not run: {self.left():.0f} s of --budget-s left"}
        else:
            try:
                res = fn()
            except Exception as exc:  # noqa: BLE001 - recorded, the next step still runs
                res = {"status": "fail", "detail": f"{type(exc).__name__}: {exc}"}
        res["seconds"] = round(time.perf_counter() - t, 1)
        self.data["steps"][name] = res
        print(f"--> {name}: {res['status']} ({res['seconds']} s) {res.get('detail', '')}",
              flush=True)
        return res

    def ok(self) -> bool:
        return all(s["status"] != "fail" for s in self.data["steps"].values())


def git_commit() -> str | None:
    r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                       text=True)
    return r.stdout.strip() or None


def repo_env(**extra: str) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1", **extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def thread_vars(threads: int) -> dict:
    """bench_training's thread variables (OMP, MKL, OpenBLAS, DeePMD-kit intra/inter-op), without
    its CUDA_VISIBLE_DEVICES="" (the GPU must stay visible here)."""
    return {k: v for k, v in bench.thread_env(threads).items() if k.endswith("_THREADS")}


def tail(text: str, n: int = 3000) -> str:
    return text[-n:]


# ---- 1-3: preflight, build, consistency ---------------------------------------------------


def preflight(c: Checks) -> dict:
    proc = subprocess.run([sys.executable, "-c", ENV_SNIPPET], capture_output=True, text=True)
    env = json.loads(proc.stdout) if proc.returncode == 0 else {"error": tail(proc.stderr)}
    nvcc = shutil.which("nvcc") or next((p for p in ("/usr/local/cuda/bin/nvcc",)
                                         if Path(p).exists()), None)
    if nvcc:
        os.environ["PATH"] = str(Path(nvcc).parent) + os.pathsep + os.environ["PATH"]
        out = subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout
        env["nvcc"] = (re.findall(r"release ([0-9.]+)", out) or [out.strip()])[-1]
    smi = shutil.which("nvidia-smi")
    if smi:
        out = subprocess.run([smi, "--query-gpu=name,driver_version,memory.total",
                              "--format=csv,noheader"], capture_output=True, text=True)
        env["nvidia_smi"] = out.stdout.strip() or tail(out.stderr, 300)
    env["cpu_count"] = os.cpu_count()
    c.data["environment"] = env
    if c.args.cpu_dry_run:
        return {"status": "skipped", "detail": "by design (--cpu-dry-run): no GPU needed"}
    missing = [what for what, ok in (("nvcc (CUDA compiler)", nvcc),
                                     ("a visible CUDA GPU (torch.cuda.is_available())",
                                      env.get("cuda_available"))) if not ok]
    if missing:
        return {"status": "fail", "detail": "MISSING: " + " and ".join(missing)}
    return {"status": "pass", "detail": f"{env.get('gpu')}, torch {env['torch']} (CUDA "
                                        f"{env['torch_cuda']}), nvcc {env.get('nvcc')}"}


def core_flags() -> dict:
    snippet = ("import json, deepft._core as c; print(json.dumps({'cuda_compiled': "
               "c.cuda_compiled(), 'has_cuda': c.has_cuda(), 'file': c.__file__}))")
    proc = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True,
                          env=repo_env(), cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"import deepft._core failed: {tail(proc.stderr, 1500)}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def build(c: Checks) -> dict:
    if c.args.cpu_dry_run:
        return {"status": "skipped", "detail": "by design (--cpu-dry-run): existing build used",
                **core_flags()}
    arch = c.data["environment"].get("capability", "90")
    cmd = ["tools/dev_build.sh", "-DDEEPFT_CUDA=ON", f"-DCMAKE_CUDA_ARCHITECTURES={arch}",
           f"-DPython_EXECUTABLE={sys.executable}"]  # the Python that holds torch
    log = c.args.workdir / "build.log"
    env = repo_env(DEEPFT_BUILD_JOBS=str(os.cpu_count() or 2))
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT,
                              timeout=c.args.step_timeout)
    if proc.returncode != 0:
        return {"status": "fail", "detail": f"{' '.join(cmd)} exited {proc.returncode}",
                "log_tail": tail(log.read_text())}
    flags = core_flags()
    ok = flags["cuda_compiled"] and flags["has_cuda"]
    return {"status": "pass" if ok else "fail", "command": " ".join(cmd), **flags,
            "detail": "CUDA kernels compiled in and a device seen" if ok else
            "the extension reports no CUDA (see cuda_compiled / has_cuda)"}


def consistency(c: Checks) -> dict:
    if c.args.cpu_dry_run:
        return {"status": "skipped", "detail": "by design (--cpu-dry-run): needs a GPU"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEs",
           *CONSISTENCY_TESTS]
    proc = subprocess.run(cmd, cwd=REPO, env=repo_env(DEEPFT_REQUIRE_CUDA="1"),
                          capture_output=True, text=True, timeout=c.args.step_timeout)
    (c.args.workdir / "consistency.log").write_text(proc.stdout + proc.stderr)
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|errors?)",
                                               proc.stdout.splitlines()[-1] if proc.stdout
                                               else "")}
    ok = proc.returncode == 0 and counts.get("passed", 0) > 0 and not counts.get("skipped")
    return {"status": "pass" if ok else "fail", "counts": counts,
            "detail": f"DEEPFT_REQUIRE_CUDA=1 pytest: {counts}",
            **({} if ok else {"log_tail": tail(proc.stdout)})}


# ---- 4: GPU training = CPU training -------------------------------------------------------


def train_once(folder: Path, cfg: dict, device: str, threads: int, timeout: float) -> dict:
    """``python -m deepft train`` with DEEPFT_DEVICE=device in ``folder``; its log and peak."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "input.json").write_text(json.dumps(cfg, indent=1))
    env = repo_env(**thread_vars(threads), DEEPFT_DEVICE=device)
    proc = subprocess.run([sys.executable, "-c", LAUNCH, "train", "input.json"], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=timeout)
    (folder / "train.log").write_text(proc.stdout + proc.stderr)
    peak = PEAK_RE.findall(proc.stdout)
    return {"returncode": proc.returncode, "log_tail": tail(proc.stdout + proc.stderr, 1500),
            "max_memory_allocated_mb": int(peak[-1]) / 2**20 if peak else None}


def train_equality(c: Checks) -> dict:
    gpu = "cpu" if c.args.cpu_dry_run else "cuda"
    cases, status = {}, "pass"
    for name in ("se_e2_a", "dpa1"):
        cfg = shrunk_example(name, c.args.equality_steps)
        runs = {dev: train_once(c.args.workdir / "equality" / name / label, cfg, dev,
                                c.args.threads, c.args.step_timeout)
                for label, dev in (("gpu", gpu), ("cpu", "cpu"))}
        case = {"device_a": gpu, "device_b": "cpu", "steps": c.args.equality_steps}
        bad = {label: r for label, r in runs.items() if r["returncode"] != 0}
        if bad:
            case.update(status="fail", detail="training failed on " + ", ".join(bad),
                        log_tail={k: r["log_tail"] for k, r in bad.items()})
        else:
            folders = [c.args.workdir / "equality" / name / lbl / "lcurve.out"
                       for lbl in ("gpu", "cpu")]
            case.update(lcurve_agreement(*folders, c.args.equality_rtol))
            if gpu == "cuda" and not runs["cuda"]["max_memory_allocated_mb"]:
                case.update(status="fail", detail="the cuda run allocated no GPU memory")
            case["gpu_max_memory_allocated_mb"] = runs[gpu]["max_memory_allocated_mb"]
        status = "fail" if case["status"] == "fail" else status
        cases[name] = case
    return {"status": status, "cases": cases, "detail": "; ".join(
        f"{k}: {v['status']} (max rel diff {v.get('max_rel_diff', 'n/a')})"
        for k, v in cases.items())}


def host_syncs(c: Checks) -> dict:
    """count_syncs.py in its own process: host-device syncs per CUDA training step (<= 1)."""
    device = "cpu" if c.args.cpu_dry_run else "cuda"
    cmd = [sys.executable, str(HERE / "count_syncs.py"), "--device", device,
           "--steps", str(c.args.sync_steps)]
    proc = subprocess.run(cmd, cwd=REPO, env=repo_env(**thread_vars(c.args.threads)),
                          capture_output=True, text=True, timeout=c.args.step_timeout)
    (c.args.workdir / "host_syncs.log").write_text(proc.stdout + proc.stderr)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"status": "fail", "detail": f"count_syncs.py exited {proc.returncode}",
                "log_tail": tail(proc.stdout + proc.stderr)}
    counts = json.loads(lines[-1])
    cases = {k: v for k, v in counts.items() if k != "device"}
    detail = "; ".join(f"{k}: {v['per_step']} syncs per step" + (f" at {v['where']}"
                                                                 if v["where"] else "")
                       for k, v in cases.items())
    if c.args.cpu_dry_run:
        return {"status": "info", "cases": cases,
                "detail": f"dry run, nothing to count on the CPU ({detail})"}
    ok = all(v["max_per_step"] <= 1 for v in cases.values())
    return {"status": "pass" if ok else "fail", "cases": cases, "detail": detail}


# ---- 5: timing ----------------------------------------------------------------------------


class GpuMemoryPoller:
    """Peak ``nvidia-smi`` used memory (MiB) of the compute processes other than this one,
    polled every 0.2 s; ``None`` without nvidia-smi."""

    def __init__(self):
        self.smi = shutil.which("nvidia-smi")
        self.peak: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            out = subprocess.run([self.smi, "--query-compute-apps=pid,used_memory",
                                  "--format=csv,noheader,nounits"], capture_output=True,
                                 text=True).stdout
            used = sum(float(m) for pid, m in re.findall(r"(\d+),\s*(\d+)", out)
                       if int(pid) != os.getpid())
            self.peak = max(self.peak or 0.0, used)
            self._stop.wait(0.2)

    def __enter__(self):
        if self.smi:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self.smi:
            self._thread.join()


def timed_run(engine: str, cmd: list[str], folder: Path, env: dict, c: Checks) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = bench.water_input(c.args.timing_steps, bench.WATER)
    # bench_training's disp_freq 100; a dry run's few steps log every other step
    cfg["training"]["disp_freq"] = min(100, max(1, c.args.timing_steps // 2))
    (folder / "input.json").write_text(json.dumps(cfg, indent=2))
    key = "deepft" if engine == "deepft" else "deepmd"
    with GpuMemoryPoller() as smi:
        rec = run_monitored(engine, cmd, folder, env, bench.STEP_LINE[key],
                            bench.SELF_AVERAGE[key],
                            folder / "train.log")
    row = bench.summary(rec, [], c.args.timing_warmup, c.args.timing_steps)
    peak = PEAK_RE.findall(rec.log)
    row.update(status="pass" if rec.returncode == 0 and row["s_step"] else "fail",
               returncode=rec.returncode,
               nvidia_smi_peak_mib=smi.peak,
               max_memory_allocated_mb=int(peak[-1]) / 2**20 if peak else None)
    for k in ("intervals", "rmse", "rmse_seeds", "seeds"):
        row.pop(k, None)
    if row["status"] == "fail":
        row["log_tail"] = tail(rec.log)
    return row


def timing(c: Checks) -> dict:
    device = "cpu" if c.args.cpu_dry_run else "cuda"
    threads = thread_vars(c.args.threads)
    env = repo_env(**threads, DEEPFT_DEVICE=device)
    rows = {"deepft": timed_run("deepft", [sys.executable, "-c", LAUNCH, "train", "input.json"],
                                c.args.workdir / "timing" / "deepft", env, c)}
    dp = DeepmdSetup(c.args.deepmd_venv, c.args.wheels, c.args.workdir / "dpvenv").resolve()
    if dp.available:
        denv = dp.env(threads, gpu=not c.args.cpu_dry_run)
        rows["DeePMD-kit"] = timed_run("DeePMD-kit", [str(dp.dp), "--pt", "train",
                                                      "input.json"],
                                       c.args.workdir / "timing" / "deepmd", denv, c)
        rows["DeePMD-kit"]["version"] = dp.version
    else:
        rows["DeePMD-kit"] = {"status": "skipped", "detail": f"DeePMD-kit not available: "
                                                              f"{dp.reason}"}
    ft, ref = rows["deepft"], rows["DeePMD-kit"]
    res = {"status": ft["status"], "device": device, "steps": c.args.timing_steps,
           "warmup": c.args.timing_warmup, "threads": c.args.threads, "engines": rows}
    if ft.get("s_step") and ref.get("s_step"):
        res["speedup_vs_deepmd"] = ref["s_step"] / ft["s_step"]
    if ref.get("status") == "fail":
        res["status"] = "fail"
    res["detail"] = "; ".join(f"{k}: {fmt_row(v)}" for k, v in rows.items())
    return res


def fmt_row(r: dict) -> str:
    if r.get("status") == "skipped":
        return r["detail"]
    s = r.get("s_step")
    parts = [f"{s:.4f} s/step" if s else "s/step n/a"]
    if r.get("max_memory_allocated_mb") is not None:
        parts.append(f"torch peak {r['max_memory_allocated_mb']:.0f} MB")
    if r.get("nvidia_smi_peak_mib") is not None:
        parts.append(f"nvidia-smi {r['nvidia_smi_peak_mib']:.0f} MiB")
    parts.append(f"RSS {r.get('rss', 0):.0f} MB")
    return ", ".join(parts) + ("" if r.get("status") == "pass" else " FAILED")


# ---- 6: inference -------------------------------------------------------------------------


def inference(c: Checks) -> dict:
    from bench_inference import build_model, time_eval, water_frames

    from deepft import _core
    from deepft.infer import DeepPot

    threads = os.cpu_count() or 1
    _core.infer.set_num_threads(threads)
    model = build_model(c.args.workdir / "water.dft")
    pot = DeepPot(model)
    reps = (1, 2) if c.args.cpu_dry_run else (2, 4)
    cases = []
    for natoms, frame in water_frames(reps).items():
        repeat = max(1, c.args.inference_repeat if natoms < 5000 else c.args.inference_repeat // 4)
        median, best = time_eval(pot, frame, repeat)
        cases.append({"natoms": natoms, "repeats": repeat, "ms_per_frame_median": median * 1e3,
                      "ms_per_frame_best": best * 1e3, "us_per_atom": median / natoms * 1e6})
    return {"status": "info", "device": "cpu", "threads": threads, "cases": cases,
            "note": "deepft.infer.DeepPot runs the native C++ core, which is CPU-only: the GPU "
                    "plays no part in these numbers",
            "detail": "CPU-only core; " + ", ".join(
                f"{x['natoms']} atoms {x['ms_per_frame_median']:.1f} ms" for x in cases)}


STEPS = {"build": build, "cuda_consistency": consistency, "train_equality": train_equality,
         "host_syncs": host_syncs, "timing": timing, "inference": inference}


# ---- report -------------------------------------------------------------------------------


def print_table(data: dict) -> None:
    env = data["environment"]
    print(f"\ndeepft device checks ({data['mode']}), git {data['git']}, {data['date']}")
    print(f"GPU: {env.get('gpu', 'none')}; torch {env.get('torch')} (CUDA {env.get('torch_cuda')})"
          f"; nvcc {env.get('nvcc')}; {env.get('cpu_count')} CPUs")
    rows = []
    for name, s in data["steps"].items():
        subs = s.get("cases") if name == "train_equality" else (
            s.get("engines") if name == "timing" else None)
        if subs:
            for sub, v in subs.items():
                rows.append((f"{name}/{sub}", v.get("status", ""), s["seconds"],
                             fmt_row(v) if name == "timing" else v.get("detail", "")))
            if s.get("speedup_vs_deepmd"):
                rows.append(("timing/speed-up", "info", s["seconds"],
                             f"DeePMD-kit s/step / deepft s/step = {s['speedup_vs_deepmd']:.2f}x"))
        else:
            rows.append((name, s["status"], s["seconds"], s.get("detail", "")))
    w = max(len(r[0]) for r in rows)
    print(f"{'check':<{w}}  {'status':<8}{'s':>7}  detail")
    print("-" * (w + 60))
    for name, status, secs, detail in rows:
        print(f"{name:<{w}}  {status:<8}{secs:>7.1f}  {detail}")
    print(f"\noverall: {'PASS' if data['ok'] else 'FAIL'}")


def save_logs(workdir: Path, out: Path) -> Path:
    """The logs and learning curves of every run, next to the JSON."""
    path = out.with_name(out.stem + "_logs.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        for f in sorted(workdir.rglob("*")):
            if f.suffix == ".log" or f.name in ("lcurve.out", "input.json"):
                tar.add(f, arcname=str(f.relative_to(workdir)))
    return path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_out = Path(os.environ["OUT"]) / "device_checks.json" if os.environ.get("OUT") \
        else None
    p.add_argument("--out", type=Path, default=default_out,
                   help="the JSON (default $OUT/device_checks.json, else WORKDIR/...)")
    p.add_argument("--workdir", type=Path, default=None, help="runs and logs (default: a temp dir)")
    p.add_argument("--cpu-dry-run", action="store_true",
                   help="the same pipeline on the CPU, tiny step counts, no CUDA build")
    p.add_argument("--deepmd-venv", type=Path,
                   default=Path(os.environ["DEEPFT_DEEPMD_VENV"]) if os.environ.get(
                       "DEEPFT_DEEPMD_VENV") else None,
                   help="a venv with DeePMD-kit 3.2.0's `dp` (default $DEEPFT_DEEPMD_VENV)")
    p.add_argument("--wheels", type=Path, default=None,
                   help="a folder of wheels: deepmd-kit 3.2.0 and its dependencies, installed "
                        "offline into a venv that sees this Python's packages (torch)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads per run (default: "
                   "all cores; 2 with --cpu-dry-run)")
    p.add_argument("--equality-steps", type=int, default=None, help="default 20 (dry run 3)")
    p.add_argument("--equality-rtol", type=float, default=1e-9)
    p.add_argument("--sync-steps", type=int, default=None,
                   help="steps counted by host_syncs (default 5, dry run 1)")
    p.add_argument("--timing-steps", type=int, default=None, help="default 300 (dry run 4)")
    p.add_argument("--timing-warmup", type=int, default=None, help="default 100 (dry run 1)")
    p.add_argument("--inference-repeat", type=int, default=None, help="default 20 (dry run 1)")
    p.add_argument("--only", type=lambda v: v.split(","), default=None,
                   help="comma-separated steps to run (build, cuda_consistency, train_equality, "
                        "host_syncs, timing, inference); the others are recorded as skipped")
    p.add_argument("--budget-s", type=float, default=480.0,
                   help="wall-clock budget; a step that would start with < 20 s left fails")
    p.add_argument("--step-timeout", type=float, default=300.0,
                   help="limit of one subprocess (build, pytest, one training run)")
    a = p.parse_args(argv)
    dry = a.cpu_dry_run
    for name, gpu, cpu in (("threads", os.cpu_count() or 2, 2), ("equality_steps", 20, 3),
                           ("sync_steps", 5, 1),
                           ("timing_steps", 300, 4), ("timing_warmup", 100, 1),
                           ("inference_repeat", 20, 1)):
        if getattr(a, name) is None:
            setattr(a, name, cpu if dry else gpu)
    a.workdir = (a.workdir or Path(tempfile.mkdtemp(prefix="device_checks_"))).resolve()
    a.workdir.mkdir(parents=True, exist_ok=True)
    a.out = (a.out or a.workdir / "device_checks.json").resolve()
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    c = Checks(args)
    print(f"device checks ({c.data['mode']}); runs in {args.workdir}; JSON -> {args.out}")
    pre = c.run("preflight", lambda: preflight(c), min_s=0)
    if pre["status"] == "fail":
        print("\n" + "!" * 78 + f"\nERROR: GPU checks cannot run: {pre['detail']}.\n"
              "Run them on a machine with nvcc and a visible CUDA GPU, or pass --cpu-dry-run "
              "to test the plumbing on the CPU.\n" + "!" * 78, file=sys.stderr)
    else:
        for name, fn in STEPS.items():
            if args.only and name not in args.only:
                c.data["steps"][name] = {"status": "skipped", "seconds": 0.0,
                                         "detail": "not selected (--only)"}
            else:
                c.run(name, lambda fn=fn: fn(c))
    c.data["ok"] = c.ok()
    c.data["total_seconds"] = round(time.perf_counter() - c.t0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    c.data["logs"] = str(save_logs(args.workdir, args.out))
    args.out.write_text(json.dumps(c.data, indent=1, default=str) + "\n")
    print_table(c.data)
    print(f"JSON: {args.out}\nlogs: {c.data['logs']}")
    if pre["status"] == "fail":
        return 2
    return 0 if c.data["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
