"""Which branches a normalized (or raw) input has, and the sections each one reads.

Single task is the multitask case with one branch named ``Default``
(:data:`deepft.branches.DEFAULT_BRANCH`): every function here answers both alike.
"""

from __future__ import annotations

from deepft.branches import DEFAULT_BRANCH


def is_multitask(cfg: dict) -> bool:
    """Whether ``cfg`` (raw or normalized) is a multitask input (``model/model_dict``)."""
    model = cfg.get("model") if isinstance(cfg, dict) else None
    return isinstance(model, dict) and "model_dict" in model


def branch_names(cfg: dict) -> list[str]:
    """Branch names in input order; ``["Default"]`` for a single-task config."""
    if is_multitask(cfg):
        return list(cfg["model"]["model_dict"])
    return [DEFAULT_BRANCH]


def model_sections(cfg: dict) -> dict[str, dict]:
    """Branch -> single-task model section (the dicts inside ``cfg``, not copies);
    ``{"Default": cfg["model"]}`` for a single-task config."""
    model = cfg["model"]
    if is_multitask(cfg):
        return dict(model["model_dict"].items())
    return {DEFAULT_BRANCH: model}


def section_path(cfg: dict, branch: str) -> str:
    """Key path of a branch's model section: ``model`` or ``model/model_dict/BRANCH``."""
    return f"model/model_dict/{branch}" if is_multitask(cfg) else "model"


def task_sections(cfg: dict) -> list[tuple[str, dict, dict, dict]]:
    """(branch, model section, loss section, data section with training/validation_data)."""
    model, training = cfg["model"], cfg["training"]
    if not is_multitask(cfg):
        return [(DEFAULT_BRANCH, model, cfg["loss"], training)]
    return [(b, model["model_dict"][b], cfg["loss_dict"][b], training["data_dict"][b])
            for b in model["model_dict"]]
