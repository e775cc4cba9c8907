"""``deepft freeze``: checkpoint (``.pt``) -> frozen model (``model.dft``).

The checkpoint's model is rebuilt from its normalized config (deepft.model.build_from_config),
loaded with its state dict, LoRA adapters are folded into plain weights, and every branch (or
the one asked for) is written with its tensors under their state-dict names. A descriptor shared
by several branches is stored once (see deepft.io.model_file for the format).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from deepft import __version__
from deepft.errors import InputError, ModelFileError
from deepft.io.model_file import write_model_file

log = logging.getLogger(__name__)

DEFAULT_BRANCH = "Default"


def freeze_command(args) -> int:
    """CLI entry: ``args.checkpoint``, ``args.output``, ``args.model_branch``, ``args.merge_lora``
    (LoRA is always merged: model.dft holds plain weights)."""
    path = freeze(args.checkpoint, args.output, branch=args.model_branch)
    print(f"Frozen model written to {path}")
    return 0


def freeze(checkpoint_path: str | os.PathLike, output_path: str | os.PathLike,
           branch: str | None = None) -> Path:
    """Write ``output_path`` (model.dft) from a training checkpoint; returns its path.

    ``branch``: freeze only this branch of a multitask checkpoint (default: all branches).
    """
    from deepft.train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(checkpoint_path)
    model = rebuild_model(ckpt, checkpoint_path)
    branches = branch_models(model)
    if branch is not None:
        if branch not in branches:
            raise InputError(f"--model-branch {branch!r} is not a branch of {checkpoint_path}; "
                             f"its branches are {list(branches)}",
                             hint="pass one of the listed branch names (or none for all)")
        branches = {branch: branches[branch]}
    header, tensors = model_to_file_contents(model, branches, ckpt.get("config", {}))
    path = write_model_file(output_path, header, tensors)
    log.info("froze %s (branches %s) into %s", checkpoint_path, list(branches), path)
    return path


def finetune_record(config: dict) -> dict | None:
    """The fine-tuning record ``model/_finetune`` written by ``deepft train --finetune``
    (new heads, LoRA settings), or None for a model trained from scratch."""
    from deepft.train.finetune_methods import RECORD_KEY

    section = config.get("model") if isinstance(config.get("model"), dict) else config
    return section.get(RECORD_KEY) or None


def rebuild_model(ckpt: dict, source: str | os.PathLike = "checkpoint"):
    """The checkpoint's model (EnergyModel or MultiTaskModel), weights loaded, LoRA merged,
    in eval mode. A fine-tuned checkpoint is rebuilt with its recorded structure (extra
    fitting heads) by deepft.train.finetune_methods.build_trained_model, without the LoRA
    adapters: they are folded into the weights first."""
    from deepft.model import build_from_config

    state = merge_lora_state(dict(ckpt["model"]), ckpt, source)
    if finetune_record(ckpt["config"]):
        from deepft.train.finetune_methods import build_trained_model

        model = build_trained_model(ckpt["config"], lora=False)
    else:
        model = build_from_config(ckpt["config"])
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelFileError(f"{source}: the weights do not fit the model its config describes "
                             f"({str(exc).splitlines()[0]})",
                             hint="the checkpoint is inconsistent; use another one") from None
    return model.eval()


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
        a, b = state.pop(k + ".lora_a"), state.pop(k + ".lora_b")
        rank = a.shape[1]
        matrix = state[k + ".matrix"]
        state[k + ".matrix"] = (matrix.double() + (alpha / rank) * (a.double() @ b.double())
                                ).to(matrix.dtype)
    log.info("merged %d LoRA adapters (alpha %g)", len(keys), alpha)
    return state


def branch_models(model) -> dict:
    """Branch name -> EnergyModel (``Default`` for a single-task model)."""
    branches = getattr(model, "branches", None)
    if branches is not None:
        return dict(branches.items())
    return {DEFAULT_BRANCH: model}


def fittings_of(energy_model) -> list:
    """The fitting nets whose atomic energies a branch sums: the model's ``fitting`` plus any
    ``extra_fittings`` (new_head fine-tuning)."""
    return [energy_model.fitting, *list(getattr(energy_model, "extra_fittings", []) or [])]


def descriptor_config(d) -> dict:
    return {"type": "se_e2_a", "sel": [int(s) for s in d.sel], "rcut": float(d.rcut),
            "rcut_smth": float(d.rcut_smth), "neuron": [int(n) for n in d.neuron],
            "axis_neuron": int(d.axis_neuron), "resnet_dt": bool(d.resnet_dt),
            "type_one_side": bool(d.type_one_side),
            "activation_function": str(d.activation_function), "precision": str(d.precision)}


def fitting_config(f) -> dict:
    return {"type": "ener", "neuron": [int(n) for n in f.neuron],
            "resnet_dt": bool(f.resnet_dt), "activation_function": str(f.activation_function),
            "precision": str(f.precision)}


def model_to_file_contents(root, branches: dict, config: dict) -> tuple[dict, dict]:
    """(header, tensors) of a model.dft holding ``branches`` (name -> EnergyModel) of ``root``.

    Each module is named by its first path in ``root.named_modules()``, so a module shared by
    several branches is written once and every branch points at the same prefix.
    """
    paths = {id(m): name for name, m in root.named_modules()}

    def prefix(module) -> str:
        name = paths[id(module)]
        return f"{name}." if name else ""

    tensors: dict[str, np.ndarray] = {}
    entries = {}
    for name, em in branches.items():
        fits = fittings_of(em)
        for module in (em.descriptor, *fits):
            for key, value in module.state_dict().items():
                tensors.setdefault(prefix(module) + key, value.detach().cpu().numpy())
        entries[name] = {
            "type_map": list(em.get_type_map()),
            "descriptor": descriptor_config(em.descriptor),
            "fitting_net": fitting_config(em.fitting),
            "descriptor_prefix": prefix(em.descriptor),
            "fitting_prefixes": [prefix(f) for f in fits],
        }
    first = next(iter(branches.values()))
    header = {
        "deepft_version": __version__,
        "type_map": list(first.get_type_map()),
        "default_branch": next(iter(branches)),
        "branches": entries,
        "config": json.loads(json.dumps(config, default=str)),
    }
    return header, tensors
