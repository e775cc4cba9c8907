"""Differences between two normalized model sections, listed by key path.

Used where a checkpoint's model meets an input's: fine-tuning without
``--use-pretrain-script`` (the input must match), ``--restart`` (the checkpoint wins: a warning
lists what the input asked for) and ``--init-model`` (the input must match).
"""

from __future__ import annotations

from deepft.config.branches import is_multitask, model_sections
from deepft.config.model import FINETUNE_RECORD

#: keys that may differ between an input and the checkpoint it starts from
DESCRIPTOR_FREE = ("sel", "seed", "trainable")
FITTING_FREE = ("seed", "trainable")
MODEL_FREE = ("descriptor", "fitting_net", "finetune_head", "data_stat_nbatch", FINETUNE_RECORD)


def section_diffs(mine: dict, theirs: dict, free: tuple[str, ...], where: str,
                  theirs_name: str = "checkpoint") -> list[str]:
    """``"where/key: input X vs checkpoint Y"`` for every key (outside ``free``) that differs."""
    keys = sorted((set(mine) | set(theirs)) - set(free))
    return [f"{where}/{k}: input {mine.get(k)!r} vs {theirs_name} {theirs.get(k)!r}"
            for k in keys if mine.get(k) != theirs.get(k)]


def branch_set_diff(cfg: dict, ckpt_cfg: dict) -> str | None:
    """What differs between the branch names of two inputs, or None when they agree."""
    mine, theirs = list(model_sections(cfg)), list(model_sections(ckpt_cfg))
    if set(mine) == set(theirs):
        return None
    return f"the input's branches are {mine}, the checkpoint's {theirs}"


def model_diffs(cfg: dict, ckpt_cfg: dict, *, trainable_free: bool = True) -> list[str]:
    """Every difference between the model sections of two normalized inputs with the same
    branches: type map and other model keys, descriptor and fitting net. Free: seeds; the
    ``trainable`` flags when ``trainable_free``; ``sel`` when the input says ``"auto"`` or the
    checkpoint was fine-tuned (fine-tuning keeps the pretrained sel of known elements)."""
    sections, theirs = model_sections(cfg), model_sections(ckpt_cfg)
    finetuned = bool(ckpt_cfg["model"].get(FINETUNE_RECORD))
    desc_free = DESCRIPTOR_FREE if trainable_free else ("sel", "seed")
    fit_free = FITTING_FREE if trainable_free else ("seed",)
    prefix = "model/model_dict/{}" if is_multitask(cfg) else "model"
    diffs = []
    for branch, section in sections.items():
        if branch not in theirs:
            diffs.append(f"{prefix.format(branch)}: not a branch of the checkpoint")
            continue
        where, other = prefix.format(branch), theirs[branch]
        diffs += section_diffs(section, other, MODEL_FREE, where)
        diffs += section_diffs(section["descriptor"], other["descriptor"], desc_free,
                               f"{where}/descriptor")
        sel = section["descriptor"].get("sel")
        if isinstance(sel, list) and not finetuned and sel != other["descriptor"].get("sel"):
            diffs.append(f"{where}/descriptor/sel: input {sel!r} vs checkpoint "
                         f"{other['descriptor'].get('sel')!r}")
        diffs += section_diffs(section["fitting_net"], other["fitting_net"], fit_free,
                               f"{where}/fitting_net")
    diffs += [f"{prefix.format(b)}: a branch of the checkpoint the input lacks"
              for b in theirs if b not in sections]
    return diffs
