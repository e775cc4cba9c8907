"""The structure and trainability a fine-tuning method gives a model.

``training.finetune.method`` (schema: deepft.config.finetune):

* ``full`` / ``inherit``: every parameter trains (as the model section's ``trainable`` flags say).
* ``heads``: descriptor frozen; the fitting nets train (only their last
  ``trainable_last_layers`` layers when given).
* ``lora``: every pretrained weight frozen; adapters ``W + (alpha / rank) A B``
  (deepft.model.lora) on the Layers of the descriptor's embedding nets and/or the fitting nets
  (``targets``) train.
* ``new_head``: descriptor and inherited fitting frozen; a fresh fitting net (same
  architecture) is added to each inherited fitting and their atomic energies are summed
  (:class:`~deepft.model.fitting.FittingWithNewHead`); its output layer starts scaled by
  ``scale_factor``.

What was freshly initialized always trains: a fitting net that starts fresh (``RANDOM``), and,
with ``heads``/``lora``/``new_head``, the descriptor rows of elements new to the pretrained type
map (``fresh`` entries ``"branch/descriptor:TYPE"``, see :func:`set_trainability`).

The structure is recorded in the saved config under ``model/_finetune`` (:data:`RECORD_KEY`, a
``_`` key: DeePMD-kit and deepft's normalization treat it as a comment, so ``out.json`` stays a
valid input)::

    "_finetune": {"pretrained": "pre.pt", "method": {normalized training/finetune},
                  "branches": {"water": "RANDOM" | "<pretrained branch>"},
                  "fresh": ["water/fitting_net"], "new_head": ["water"],
                  "lora": {"rank": 8, "alpha": 8.0, "targets": [...], "seed": 1} | null}

:func:`restore_structure` rebuilds the exact module tree and ``requires_grad`` set from that
record (deepft.checkpoint uses it for every fine-tuned checkpoint). A branch's EnergyModel carries
the plain attribute ``extra_fittings = [head]`` that the model-file export reads to list several
``fitting_prefixes`` (:func:`fitting_prefixes`).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from deepft.branches import DEFAULT_BRANCH
from deepft.config.model import FINETUNE_RECORD
from deepft.model.fitting import FittingWithNewHead, new_head_for
from deepft.model.lora import apply_lora
from deepft.model.network import derive_seed

RECORD_KEY = FINETUNE_RECORD
METHODS = ("full", "heads", "lora", "new_head", "inherit")


def branch_models(model: nn.Module) -> dict[str, nn.Module]:
    """Branch name -> EnergyModel (:data:`~deepft.branches.DEFAULT_BRANCH` for a single-task
    model)."""
    branches = getattr(model, "branches", None)
    return dict(branches.items()) if branches is not None else {DEFAULT_BRANCH: model}


def fitting_prefixes(model: nn.Module, branch: str = DEFAULT_BRANCH) -> list[str]:
    """State-dict prefixes of the fitting nets whose energies a branch sums (model.dft
    ``fitting_prefixes``), e.g. ``["branches.water.fitting.",
    "branches.water.fitting.new_head."]``."""
    base = f"branches.{branch}.fitting." if hasattr(model, "branches") else "fitting."
    fitting = branch_models(model)[branch].fitting
    return [base, f"{base}new_head."] if isinstance(fitting, FittingWithNewHead) else [base]


# ---- structure -------------------------------------------------------------------------------
def add_new_heads(model: nn.Module, branches: Iterable[str], scale_factor: float,
                  seed: int | None) -> None:
    """Wrap the fitting of each listed branch in a :class:`FittingWithNewHead` (shared fitting
    objects once)."""
    done: dict[int, FittingWithNewHead] = {}
    models = branch_models(model)
    for name in branches:
        fitting = models[name].fitting
        if not isinstance(fitting, FittingWithNewHead):
            if id(fitting) not in done:
                head = new_head_for(fitting, scale_factor, derive_seed(seed, "new_head", name))
                done[id(fitting)] = FittingWithNewHead(fitting, head)
            models[name].fitting = done[id(fitting)]
        expose_extra_fittings(models[name])


def expose_extra_fittings(energy_model: nn.Module) -> None:
    """``energy_model.extra_fittings``: a plain list (not a submodule, so the state dict is
    unchanged) of the heads summed on top of ``fitting`` — what deepft.io.export reads to list
    several ``fitting_prefixes`` for a branch."""
    head = getattr(energy_model.fitting, "new_head", None)
    object.__setattr__(energy_model, "extra_fittings", [head] if head is not None else [])


def add_lora(model: nn.Module, lora: dict) -> list[str]:
    """LoRA adapters on the targeted Layers of every branch (shared Layers wrapped once)."""
    prefixes = tuple({"descriptor": "descriptor.", "fitting": "fitting."}[t]
                     for t in lora["targets"])
    paths = []
    for name, branch in branch_models(model).items():
        wrapped = apply_lora(branch, int(lora["rank"]), float(lora["alpha"]),
                             seed=derive_seed(lora.get("seed"), "lora", name),
                             include=prefixes, freeze_base=False)
        paths += [f"{name}/{p}" for p in wrapped]
    return paths


def restore_structure(model: nn.Module, record: dict | None, *, lora: bool = True
                      ) -> nn.Module:
    """Re-create the adapters/heads of a fine-tuned model and its trainability (in place).
    ``lora=False`` leaves the adapters out (for a state dict whose adapters were merged)."""
    if not record:
        return model
    if record.get("new_head"):
        add_new_heads(model, record["new_head"], 0.0, None)
    if lora and record.get("lora"):
        add_lora(model, record["lora"])
    set_trainability(model, record["method"], record.get("fresh", []),
                     record.get("new_types", {}))
    return model


# ---- trainability ----------------------------------------------------------------------------
def set_config_trainability(model: nn.Module, sections: dict[str, dict]) -> None:
    """requires_grad from the model sections' ``trainable`` flags (descriptor: one bool;
    fitting_net: a bool or one per layer). ``sections``: branch -> model section."""
    for name, branch in branch_models(model).items():
        section = sections[name]
        flag = bool(section["descriptor"].get("trainable", True))
        for p in branch.descriptor.parameters():
            p.requires_grad_(flag)
        flags = section["fitting_net"].get("trainable", True)
        for net in branch.fitting.nets:
            per_layer = flags if isinstance(flags, list) else [flags] * len(net.layers)
            for layer, f in zip(net.layers, per_layer, strict=True):
                for p in layer.parameters():
                    p.requires_grad_(bool(f))
        head = getattr(branch.fitting, "new_head", None)
        if head is not None:
            for p in head.parameters():
                p.requires_grad_(True)


def set_trainability(model: nn.Module, method: dict, fresh: Iterable[str],
                     new_types: dict[str, list[int]] | None = None) -> None:
    """Freeze what ``method`` freezes (on top of the current flags).

    ``fresh``: ``"branch/fitting_net"`` entries of freshly initialized fitting nets, kept
    trainable. ``new_types``: branch -> indices of elements new to the pretrained type map; the
    parameters that exist only for them (their embedding and fitting nets, freshly initialized)
    always train, whatever the method freezes: frozen at a random start they would be noise.
    """
    kind = method.get("method", "full")
    fresh = set(fresh)
    models = branch_models(model)
    fresh_fittings = {id(models[e.split("/")[0]].fitting) for e in fresh if
                      e.endswith("/fitting_net") and e.split("/")[0] in models}
    if kind not in ("full", "inherit"):
        freeze_for_method(models, kind, method, fresh_fittings)
    for name, types in (new_types or {}).items():
        if name in models and types:
            branch = models[name]
            for p in (*branch.descriptor.parameters_of_types(types),
                      *branch.fitting.parameters_of_types(types)):
                p.requires_grad_(True)


def freeze_for_method(models: dict[str, nn.Module], kind: str, method: dict,
                      fresh_fittings: set[int]) -> None:
    """The freezing of ``heads``, ``lora`` and ``new_head`` (see the module docstring)."""
    for branch in models.values():
        is_fresh = id(branch.fitting) in fresh_fittings
        if kind == "heads":
            freeze(branch.descriptor.parameters())
            last = method.get("trainable_last_layers")
            if last and not is_fresh:
                for net in branch.fitting.nets:
                    freeze(p for layer in list(net.layers)[:-int(last)]
                           for p in layer.parameters())
        elif kind == "lora":
            freeze(p for n, p in branch.named_parameters()
                   if not n.rsplit(".", 1)[-1].startswith("lora_")
                   and not (is_fresh and n.startswith("fitting.")))
        elif kind == "new_head":
            freeze(branch.descriptor.parameters())
            if not is_fresh:
                freeze(p for n, p in branch.fitting.named_parameters()
                       if not n.startswith("new_head."))
        else:
            raise ValueError(f"unknown fine-tuning method {kind!r}")


def freeze(params: Iterable[torch.nn.Parameter]) -> None:
    for p in params:
        p.requires_grad_(False)


def parameter_summary(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts, each shared tensor counted once."""
    seen: dict[int, torch.nn.Parameter] = {}
    for p in model.parameters():
        seen.setdefault(id(p), p)
    total = sum(p.numel() for p in seen.values())
    trainable = sum(p.numel() for p in seen.values() if p.requires_grad)
    return trainable, total
