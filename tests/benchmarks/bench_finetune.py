"""Fine-tuning benchmark (not part of the test run): validation force RMSE vs steps.

1. Split every organic system (examples/data/organic_nopbc) by a seeded permutation of its frames:
   ``valid`` (20 %, at most --max-valid frames per system, never trained on), ``target``
   (10 % of the frames: the fine-tuning set) and ``rest``.
2. Pretrain the multitask example structure (examples/multitask/input.json: water data_0..2 +
   organic, one shared se_e2_a descriptor over [O, H, C], two fitting branches) on water and
   the organic ``rest`` frames, with the nets and steps scaled down (--descriptor, --fitting,
   --pretrain-steps).
3. On the ``target`` frames only, train for --steps steps: from scratch, and fine-tuned from the
   pretrained checkpoint with each method (full from the organic branch; heads; lora; new_head;
   inherit from the *water* branch; RANDOM fitting with the inherited descriptor). Same
   learning-rate schedule and loss for all.
4. Evaluate the force RMSE (eV/Å) and energy RMSE per atom (eV) on the ``valid`` frames at the
   listed steps (step 0 = after statistics / bias refit, before any update) and print a
   markdown table.

Everything runs in-process through the same functions as ``deepft train`` (prepare_finetune,
Trainer.train_step). Usage::

    python tests/benchmarks/bench_finetune.py [--pretrain-steps 2000] [--steps 1000]
        [--eval 0,100,200,400,700,1000] [--workdir DIR] [--threads 1]

About 10 minutes with the defaults on a shared 2-core machine (one torch thread).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from copy import deepcopy
from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "examples" / "data"
sys.path.insert(0, str(REPO))


def split_system(src: Path, out: Path, seed: int, max_valid: int) -> dict[str, int]:
    """Write ``out/{valid,target,rest}/<name>`` copies of the frames of system ``src``."""
    sets = sorted(src.glob("set.*"))
    arrays = {f.stem: np.concatenate([np.load(s / f.name) for s in sets])
              for f in sets[0].glob("*.npy")}
    n = arrays["coord"].shape[0]
    order = np.random.default_rng(seed).permutation(n)
    n_valid = min(max(1, n // 5), max_valid)
    n_target = max(1, n // 10)
    parts = {"valid": order[:n_valid], "target": order[n_valid:n_valid + n_target],
             "rest": order[n_valid + n_target:]}
    for name, idx in parts.items():
        dst = out / name / src.name
        (dst / "set.000").mkdir(parents=True)
        for raw in src.glob("*.raw"):
            shutil.copy(raw, dst / raw.name)
        if (src / "nopbc").exists():
            shutil.copy(src / "nopbc", dst / "nopbc")
        for key, value in arrays.items():
            np.save(dst / "set.000" / f"{key}.npy", value[np.sort(idx)])
    return {k: len(v) for k, v in parts.items()}


def scaled_example(args, work: Path) -> dict:
    cfg = json.loads((REPO / "examples/multitask/input.json").read_text())
    desc = cfg["model"]["shared_dict"]["shared_descriptor"]
    desc["neuron"], desc["axis_neuron"] = args.descriptor, args.axis_neuron
    for branch in cfg["model"]["model_dict"].values():
        branch["fitting_net"]["neuron"] = args.fitting
    cfg["model"]["data_stat_nbatch"] = 5
    tr = cfg["training"]
    data = tr["data_dict"]
    data["water"]["training_data"]["systems"] = [str(DATA / f"water/data_{i}") for i in range(3)]
    data["water"]["validation_data"] = None
    data["organic"]["training_data"]["systems"] = str(work / "split" / "rest")
    data["organic"]["validation_data"] = None
    for section in data.values():
        section.pop("stat_file", None)
        section.pop("_comment", None)
    tr.update(numb_steps=args.pretrain_steps, disp_freq=max(args.pretrain_steps // 4, 1),
              save_freq=args.pretrain_steps, save_ckpt=str(work / "pre" / "model.ckpt"),
              disp_file=str(work / "pre" / "lcurve.out"))
    cfg["learning_rate"].update(decay_steps=max(args.pretrain_steps // 20, 1))
    return cfg


def target_input(pre_cfg: dict, work: Path, name: str, args, method: dict | None) -> dict:
    sections = pre_cfg["model"]
    org = sections["model_dict"]["organic"]
    return {
        "model": {"type_map": ["O", "H", "C"],
                  "descriptor": deepcopy(sections["shared_dict"]["shared_descriptor"]),
                  "fitting_net": deepcopy(org["fitting_net"]), "data_stat_nbatch": 5},
        "learning_rate": {"type": "exp", "start_lr": 1e-3, "stop_lr": 3e-5,
                          "decay_steps": max(args.steps // 20, 1)},
        "loss": deepcopy(pre_cfg["loss_dict"]["organic"]),
        "training": {
            "training_data": {"systems": str(work / "split" / "target"), "batch_size": "auto"},
            "numb_steps": args.steps, "seed": 10, "disp_freq": 10 ** 9,
            "save_freq": 10 ** 9, "save_ckpt": str(work / name / "model.ckpt"),
            "disp_file": str(work / name / "lcurve.out"),
            **({"finetune": method} if method else {}),
        },
    }


def prepare(raw: dict):
    from deepft.config import normalize
    from deepft.train.setup import build_tasks, resolve_all_sel

    cfg = normalize(deepcopy(raw))
    tasks = build_tasks(cfg)
    resolve_all_sel(cfg, tasks, skip_stat=False)
    return cfg, tasks


def pretrain(cfg_raw: dict) -> Path:
    from deepft.model import build_from_config
    from deepft.train.setup import model_probabilities
    from deepft.train.statistics import compute_statistics
    from deepft.train.trainer import Trainer

    cfg, tasks = prepare(cfg_raw)
    Path(cfg["training"]["save_ckpt"]).parent.mkdir(parents=True, exist_ok=True)
    model = build_from_config(cfg)
    compute_statistics(model, cfg, tasks)
    Trainer(cfg, model, tasks, model_probabilities(cfg, tasks)).run()
    return Path(f"{cfg['training']['save_ckpt']}-{cfg['training']['numb_steps']}.pt")


class Validator:
    """Force RMSE (eV/Å) and energy RMSE per atom (eV) on the held-out frames."""

    def __init__(self, root: Path):
        from deepft.data import System, expand_systems

        self.systems = [System(p, ["O", "H", "C"]) for p in expand_systems(str(root))]

    def __call__(self, model) -> tuple[float, float]:
        import torch

        model.eval()
        dtype = next(model.parameters()).dtype
        sq_f = n_f = sq_e = n_e = 0.0
        for system in self.systems:
            frames = system.get_frames(np.arange(system.nframes))
            for start in range(0, system.nframes, 64):
                sl = slice(start, start + 64)
                out = model(torch.as_tensor(frames["coord"][sl], dtype=dtype), None,
                            torch.as_tensor(system.atype))
                df = out["force"].detach().numpy() - frames["force"][sl]
                de = (out["energy"].detach().numpy() - frames["energy"][sl]) / system.natoms
                sq_f, n_f = sq_f + float(np.sum(df ** 2)), n_f + df.size
                sq_e, n_e = sq_e + float(np.sum(de ** 2)), n_e + de.size
        return (sq_f / n_f) ** 0.5, (sq_e / n_e) ** 0.5


def run_case(name, raw, pretrained, branch, args, validate):
    from deepft.train.finetune import prepare_finetune

    from deepft.model import build_from_config
    from deepft.train.setup import model_probabilities
    from deepft.train.statistics import compute_statistics
    from deepft.train.trainer import Trainer

    t0 = time.perf_counter()
    cfg, tasks = prepare(raw)
    report = None
    if pretrained is None:
        model = build_from_config(cfg)
        compute_statistics(model, cfg, tasks)
    else:
        ns = SimpleNamespace(finetune=str(pretrained), model_branch=branch,
                             use_pretrain_script=False, INPUT=name, skip_neighbor_stat=False)
        model, report = prepare_finetune(cfg, tasks, ns)
    trainer = Trainer(cfg, model, tasks, model_probabilities(cfg, tasks))
    if report is not None:
        report.check_trainer(trainer)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    curve = {0: validate(model)}
    while trainer.step < args.steps:
        trainer.train_step()
        if trainer.step in args.eval:
            curve[trainer.step] = validate(model)
    return {"name": name, "curve": curve, "trainable": trainable,
            "seconds": time.perf_counter() - t0}


def table(results: list[dict], steps: list[int]) -> str:
    head = "| run | trainable params | " + " | ".join(f"F RMSE @{s}" for s in steps) + \
        f" | E RMSE/atom @{steps[-1]} (meV) | time (s) |"
    lines = [head, "|" + " --- |" * (len(steps) + 4)]
    for r in results:
        cells = " | ".join(f"{r['curve'][s][0]:.4f}" for s in steps)
        lines.append(f"| {r['name']} | {r['trainable']:,} | {cells} | "
                     f"{1000 * r['curve'][steps[-1]][1]:.1f} | {r['seconds']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pretrain-steps", type=int, default=2000)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--eval", default="0,100,200,400,700,1000")
    p.add_argument("--descriptor", type=int, nargs="+", default=[16, 32, 64])
    p.add_argument("--axis-neuron", type=int, default=8)
    p.add_argument("--fitting", type=int, nargs="+", default=[120, 120, 120])
    p.add_argument("--max-valid", type=int, default=60)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1: on a shared 2-core machine 2 threads were ~10x "
                        "slower per step from oversubscription)")
    p.add_argument("--workdir", default=None)
    p.add_argument("--only", default=None, help="comma-separated run names")
    args = p.parse_args()
    args.eval = sorted({int(s) for s in args.eval.split(",") if int(s) <= args.steps})
    import torch

    torch.set_num_threads(args.threads)
    work = Path(args.workdir or f"/tmp/bench_finetune_{os.getpid()}")
    if (work / "split").exists():
        shutil.rmtree(work / "split")
    counts = {s.name: split_system(s, work / "split", 100 + i, args.max_valid)
              for i, s in enumerate(sorted((DATA / "organic_nopbc").iterdir()))}
    print("organic frames per system (valid / target / rest):", counts)
    pre_raw = scaled_example(args, work)
    t0 = time.perf_counter()
    pretrained = work / "pre" / f"model.ckpt-{args.pretrain_steps}.pt"
    if not pretrained.exists():
        pretrained = pretrain(pre_raw)
    print(f"pretraining: {args.pretrain_steps} steps in {time.perf_counter() - t0:.0f} s")
    validate = Validator(work / "split" / "valid")
    cases = [
        ("scratch", None, None),
        ("finetune full (organic)", {"method": "full"}, "organic"),
        ("finetune heads", {"method": "heads"}, "organic"),
        ("finetune lora r4", {"method": "lora", "rank": 4, "alpha": 4.0}, "organic"),
        ("finetune new_head", {"method": "new_head", "scale_factor": 0.1}, "organic"),
        ("finetune inherit (water)", {"method": "inherit", "from_branch": "water"}, None),
        ("finetune RANDOM fitting", {"method": "full"}, "RANDOM"),
    ]
    only = set(args.only.split(",")) if args.only else None
    results = []
    for name, method, branch in cases:
        if only and name.split()[min(1, len(name.split()) - 1)] not in only and name not in only:
            continue
        raw = target_input(pre_raw, work, name.replace(" ", "_"), args, method)
        result = run_case(name, raw, None if name == "scratch" else pretrained, branch, args,
                          validate)
        results.append(result)
        print(f"{name}: {result['curve']}  ({result['seconds']:.0f} s)", flush=True)
    print()
    print(table(results, args.eval))


if __name__ == "__main__":
    main()
