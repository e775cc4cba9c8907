"""In-process ``deepft train``: the steps the command takes before and while it trains.

raw input dict -> :func:`prepare` (normalize, tasks, sel) -> :func:`build_trainer`
(model, statistics, Trainer) -> ``trainer.run()`` / ``trainer.train_step()``.
"""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path


def prepare(raw: dict, source: str = "input.json", *, skip_stat: bool = False):
    """(cfg, tasks) as ``deepft train`` has them before building the model."""
    from deepft.config import normalize
    from deepft.train.setup import build_tasks, resolve_all_sel

    cfg = normalize(deepcopy(raw), source=source)
    tasks = build_tasks(cfg)
    resolve_all_sel(cfg, tasks, skip_stat=skip_stat)
    return cfg, tasks


def trainer_for(model, cfg, tasks, **trainer_kwargs):
    """A Trainer of ``model`` with the branch probabilities of ``cfg`` (``device=`` etc.)."""
    from deepft.train.setup import model_probabilities
    from deepft.train.trainer import Trainer

    return Trainer(cfg, model, tasks, model_probabilities(cfg, tasks), **trainer_kwargs)


def build_trainer(raw: dict, *, skip_stat: bool = False, **trainer_kwargs):
    """A fresh model of ``raw`` with its data statistics, in a Trainer at step 0."""
    from deepft.model import build_from_config
    from deepft.train.statistics import compute_statistics

    cfg, tasks = prepare(raw, skip_stat=skip_stat)
    model = build_from_config(cfg)
    compute_statistics(model, cfg, tasks)
    return trainer_for(model, cfg, tasks, **trainer_kwargs)


def pretrain(raw: dict) -> Path:
    """Train ``raw`` from scratch in-process; returns the final checkpoint path."""
    trainer = build_trainer(raw)
    trainer.run()
    training = trainer.cfg["training"]
    return Path(f"{training['save_ckpt']}-{training['numb_steps']}.pt")


def load_model(ckpt):
    """A checkpoint's model, rebuilt with its fine-tuning structure, weights loaded."""
    from deepft.checkpoint import load_checkpoint, load_trained_model

    return load_trained_model(load_checkpoint(ckpt), ckpt)


def state_of(module) -> dict:
    """A detached copy of ``module``'s state dict (name -> tensor)."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}
