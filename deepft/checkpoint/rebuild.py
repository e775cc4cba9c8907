"""A trained model rebuilt from a checkpoint: the exact module tree its weights were saved from.

A checkpoint holds the normalized config and a state dict. :func:`build_trained_model` builds the
config's model (deepft.model.build_from_config) and, for a fine-tuned run, the structure recorded
in ``model/_finetune`` (extra heads, LoRA adapters and trainability: deepft.model.structure), so
``load_state_dict``, a restart's optimizer state, ``freeze``, ``show``, ``test`` and
``change-bias`` all work on fine-tuned checkpoints. :func:`load_trained_model` adds the weights;
:func:`frozen_ready_model` folds LoRA adapters into plain weights for a model.dft.
"""

from __future__ import annotations

import logging
import os

from torch import nn

from deepft.errors import ModelFileError
from deepft.model import build_from_config
from deepft.model.structure import RECORD_KEY, restore_structure

log = logging.getLogger("deepft.checkpoint")


def finetune_record(config: dict) -> dict | None:
    """The fine-tuning record ``model/_finetune`` written by ``deepft train --finetune``
    (new heads, LoRA settings), or None for a model trained from scratch."""
    section = config.get("model") if isinstance(config.get("model"), dict) else config
    return section.get(RECORD_KEY) or None


def build_trained_model(cfg: dict, *, lora: bool = True) -> nn.Module:
    """``build_from_config`` plus the fine-tuning structure recorded in ``model/_finetune``:
    the module tree a checkpoint's ``model`` state dict was saved from (``lora=False``: without
    the adapters, for a state dict whose adapters were folded into the weights)."""
    model = build_from_config(cfg)
    return restore_structure(model, finetune_record(cfg), lora=lora)


def load_weights(model: nn.Module, state_dict: dict, source: str | os.PathLike) -> nn.Module:
    """``model.load_state_dict(state_dict)``; a mismatch is a ModelFileError naming ``source``."""
    try:
        model.load_state_dict(state_dict)
    except (RuntimeError, KeyError, TypeError, ValueError) as err:
        raise ModelFileError(f"{source}: the weights do not fit the model its config describes "
                             f"({str(err).strip().splitlines()[0]})",
                             hint="the checkpoint is damaged or from another deepft version; "
                                  "use another one") from None
    return model


def load_trained_model(ckpt: dict, source: str | os.PathLike = "checkpoint") -> nn.Module:
    """The checkpoint's model (EnergyModel or MultiTaskModel) with its weights, in the
    structure it was trained in (adapters and extra heads included); training mode untouched.
    A config the model builder refuses is a ModelFileError naming ``source``."""
    from deepft.errors import InputError

    try:
        model = build_trained_model(ckpt["config"])
    except (InputError, KeyError, TypeError, ValueError) as err:
        raise ModelFileError(f"{source}: its config does not describe a model deepft can build "
                             f"({err})", hint="the checkpoint is damaged; use another one"
                             ) from None
    return load_weights(model, ckpt["model"], source)


def frozen_ready_model(ckpt: dict, source: str | os.PathLike = "checkpoint") -> nn.Module:
    """The checkpoint's model with LoRA adapters folded into plain weights, in eval mode: what
    a model.dft holds. A fine-tuned checkpoint keeps its extra fitting heads."""
    from deepft.errors import InputError

    state = merge_lora_state(dict(ckpt["model"]), ckpt, source)
    try:
        model = build_trained_model(ckpt["config"], lora=False)
    except (InputError, KeyError, TypeError, ValueError) as err:
        raise ModelFileError(f"{source}: its config does not describe a model deepft can build "
                             f"({err})", hint="the checkpoint is damaged; use another one"
                             ) from None
    return load_weights(model, state, source).eval()


def lora_alpha(ckpt: dict) -> float | None:
    """LoRA alpha of a checkpoint: the fine-tuning record (``model/_finetune/lora``),
    ``ckpt["lora"]`` or the normalized ``training/finetune`` section (method lora); None when
    none says."""
    record = finetune_record(ckpt.get("config", {})) or {}
    for source in (record.get("lora"), ckpt.get("lora")):
        if isinstance(source, dict) and "alpha" in source:
            return float(source["alpha"])
    finetune = ckpt.get("config", {}).get("training", {}).get("finetune", {}) or {}
    if finetune.get("method") == "lora" and "alpha" in finetune:
        return float(finetune["alpha"])
    return None


def merge_lora_state(state: dict, ckpt: dict, source) -> dict:
    """Fold ``X.lora_a`` (in x r), ``X.lora_b`` (r x out) into ``X.matrix`` as
    ``matrix + (alpha / r) lora_a @ lora_b`` (deepft.model.lora) and drop the adapter keys."""
    keys = [k[: -len(".lora_a")] for k in state if k.endswith(".lora_a")]
    if not keys:
        return state
    alpha = lora_alpha(ckpt)
    if alpha is None:
        raise ModelFileError(f"{source}: holds LoRA adapters but no LoRA alpha",
                             hint="the checkpoint lacks training/finetune (method lora)")
    for k in keys:
        if k + ".lora_b" not in state or k + ".matrix" not in state:
            raise ModelFileError(f"{source}: LoRA adapter {k} is incomplete",
                                 hint="the checkpoint is damaged; use another one")
        a, b = state.pop(k + ".lora_a"), state.pop(k + ".lora_b")
        rank = a.shape[1]
        matrix = state[k + ".matrix"]
        state[k + ".matrix"] = (matrix.double() + (alpha / rank) * (a.double() @ b.double())
                                ).to(matrix.dtype)
    log.info("merged %d LoRA adapters (alpha %g)", len(keys), alpha)
    return state
