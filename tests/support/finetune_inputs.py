"""Tiny real inputs of the fine-tuning tests (few frames, small nets) and the in-process
``deepft train --finetune`` preparation."""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path

import numpy as np

DESCRIPTOR = {"type": "se_e2_a", "sel": "auto", "rcut": 4.0, "rcut_smth": 0.5,
              "neuron": [4, 8], "axis_neuron": 4, "resnet_dt": False, "type_one_side": True,
              "seed": 1}
LOSS = {"type": "ener", "start_pref_e": 0.02, "limit_pref_e": 1, "start_pref_f": 100,
        "limit_pref_f": 1}
LR = {"type": "exp", "decay_steps": 5, "start_lr": 1e-3, "stop_lr": 1e-4}


def fitting(seed: int = 1) -> dict:
    return {"neuron": [8, 8], "resnet_dt": True, "seed": seed}


def data(systems, valid=None, batch_size="auto") -> dict:
    out = {"training_data": {"systems": [str(s) for s in systems], "batch_size": batch_size}}
    if valid:
        out["validation_data"] = {"systems": [str(s) for s in valid], "batch_size": batch_size,
                                  "numb_btch": 1}
    return out


def training(workdir: Path, numb_steps: int, **extra) -> dict:
    return {"numb_steps": numb_steps, "seed": 7, "disp_freq": max(numb_steps, 1),
            "save_freq": max(numb_steps, 1), "save_ckpt": str(workdir / "model.ckpt"),
            "disp_file": str(workdir / "lcurve.out"), **extra}


def organic_systems(organic_dir: Path) -> list[Path]:
    """The organic_nopbc systems (folders with a type.raw), sorted by name."""
    return sorted(p for p in organic_dir.iterdir() if (p / "type.raw").exists())


def single_input(workdir: Path, type_map, systems, *, numb_steps=0, valid=None,
                 descriptor=None, fit_seed=1, batch_size="auto", **train_extra) -> dict:
    return {
        "model": {"type_map": list(type_map), "descriptor": deepcopy(descriptor or DESCRIPTOR),
                  "fitting_net": fitting(fit_seed), "data_stat_nbatch": 2},
        "learning_rate": dict(LR), "loss": dict(LOSS),
        "training": {**data(systems, valid, batch_size),
                     **training(workdir, numb_steps, **train_extra)},
    }


def multitask_input(workdir: Path, water_dir: Path, organic_dir: Path, *, numb_steps=0,
                    branches=("water", "organic"), model_prob=None, descriptor=None,
                    **train_extra) -> dict:
    """water (data_0) + organic branches over one shared descriptor, type map [O, H, C]."""
    sources = {"water": [water_dir / "data_0"], "organic": organic_systems(organic_dir)}
    model_dict, loss_dict, data_dict = {}, {}, {}
    for i, name in enumerate(branches):
        kind = "water" if "water" in name else "organic"
        model_dict[name] = {"type_map": "tmap", "descriptor": "desc",
                            "fitting_net": fitting(i + 1)}
        loss_dict[name] = dict(LOSS)
        data_dict[name] = data(sources[kind], batch_size=1 if kind == "water" else "auto")
    train = training(workdir, numb_steps, **train_extra)
    train["data_dict"] = data_dict
    if model_prob:
        train["model_prob"] = model_prob
    return {
        "model": {"shared_dict": {"tmap": ["O", "H", "C"],
                                  "desc": deepcopy(descriptor or DESCRIPTOR)},
                  "model_dict": model_dict, "data_stat_nbatch": 1},
        "learning_rate": dict(LR), "loss_dict": loss_dict, "training": train,
    }


def finetune(raw: dict, ckpt, *, model_branch=None, use_pretrain_script=False):
    """(model, report, cfg, tasks) of ``deepft train --finetune ckpt`` before step 0."""
    from deepft.commands.train import input_config
    from deepft.finetune import build_finetuned_model
    from deepft.train.setup import build_tasks, resolve_all_sel

    cfg, plan = input_config(deepcopy(raw), "input.json", finetune=str(ckpt),
                             model_branch=model_branch,
                             use_pretrain_script=use_pretrain_script)
    tasks = build_tasks(cfg)
    resolve_all_sel(cfg, tasks, skip_stat=False)
    model, report = build_finetuned_model(plan, cfg, tasks)
    return model, report, cfg, tasks


def frames_of(batch_list) -> tuple[np.ndarray, np.ndarray]:
    """(counts nframes x ntypes, energies nframes in eV) of statistics batches."""
    from deepft.data import count_matrix

    counts = count_matrix(batch_list).astype(float)
    energy = np.concatenate([np.asarray(b["energy"]).reshape(-1) for b in batch_list])
    return counts, energy
