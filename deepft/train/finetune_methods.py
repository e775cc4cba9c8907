"""Fine-tuning methods: which parameters train, LoRA adapters, an extra fitting head.

``training.finetune.method`` (schema: deepft.config.finetune):

* ``full`` / ``inherit``: every parameter trains (as the model section's ``trainable`` flags say).
* ``heads``: descriptor frozen; the fitting nets train (only their last
  ``trainable_last_layers`` layers when given).
* ``lora``: every pretrained weight frozen; adapters ``W + (alpha / rank) A B``
  (deepft.model.lora) on the Layers of the descriptor's embedding nets and/or the fitting nets
  (``targets``) train.
* ``new_head``: descriptor and inherited fitting frozen; a fresh fitting net (same
  architecture) is added to each inherited fitting and their atomic energies are summed
  (:class:`FittingWithNewHead`); its output layer starts scaled by ``scale_factor``.

A fitting net that starts fresh (``RANDOM``) always trains fully: freezing random weights would
make no sense.

**Rebuilding a fine-tuned checkpoint.** The structure a method adds (adapters, extra heads) and
the trainability it sets are recorded in the saved config under ``model/_finetune`` (a ``_``
key: DeePMD-kit and deepft's normalization treat it as a comment, so ``out.json`` stays a valid
input)::

    "_finetune": {"pretrained": "pre.pt", "method": {normalized training/finetune},
                  "branches": {"water": "RANDOM" | "<pretrained branch>"},
                  "fresh": ["water/fitting_net"], "new_head": ["water"],
                  "lora": {"rank": 8, "alpha": 8.0, "targets": [...], "seed": 1} | null}

:func:`build_trained_model` (= ``build_from_config`` + :func:`restore_structure`) rebuilds the
exact module tree and ``requires_grad`` set from that record, so ``load_state_dict``, the
optimizer state of a restart, ``freeze`` and ``show`` all work on fine-tuned checkpoints.

**Frozen-model layout of new_head.** The extra head is the submodule ``new_head`` of the
fitting: tensors ``<fitting prefix>new_head.nets.T.layers.L.*`` and
``<fitting prefix>new_head.bias_atom_e``; :func:`fitting_prefixes` lists
``["<prefix>fitting.", "<prefix>fitting.new_head."]`` for the model.dft header, and the branch's
EnergyModel carries the plain attribute ``extra_fittings = [head]`` that deepft.io.freeze reads.
The base prefix ``fitting.`` reads only ``nets.*`` and ``bias_atom_e``, so the C++ core summing
both prefixes computes exactly the torch model's energy.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable

import torch
from torch import nn

from deepft.model import EnergyFitting, apply_lora, build_from_config
from deepft.model.network import derive_seed

log = logging.getLogger("deepft.train")

RECORD_KEY = "_finetune"
METHODS = ("full", "heads", "lora", "new_head", "inherit")


class FittingWithNewHead(EnergyFitting):
    """An inherited :class:`EnergyFitting` plus a fresh one whose atomic energies are added.

    ``E_i = nets[t_i](D_i) + bias_atom_e[t_i] + new_head(D_i, t_i)`` (eV). The inherited nets and
    bias keep their tensor names (``nets.*``, ``bias_atom_e``); the head is ``new_head.*``.
    """

    def __init__(self, base: EnergyFitting, head: EnergyFitting):
        nn.Module.__init__(self)
        for name in ("ntypes", "dim_descrpt", "neuron", "resnet_dt", "activation_function",
                     "precision", "seed", "trainable", "dtype"):
            setattr(self, name, getattr(base, name))
        self.types_without_bias = list(getattr(base, "types_without_bias", []))
        self.nets = base.nets
        self.register_buffer("bias_atom_e", base.bias_atom_e)
        self.new_head = head

    def forward(self, descriptor: torch.Tensor, atype: torch.Tensor) -> torch.Tensor:
        """Atomic energies ``nframes x nloc`` (eV): inherited fitting + new head."""
        return super().forward(descriptor, atype) + self.new_head(descriptor, atype)

    def change_type_map(self, old_type_map, new_type_map, *, seed=None) -> list[int]:
        self.new_head.change_type_map(old_type_map, new_type_map, seed=seed)
        return super().change_type_map(old_type_map, new_type_map, seed=seed)


def new_head_for(base: EnergyFitting, scale_factor: float, seed: int | None) -> EnergyFitting:
    """A fresh fitting like ``base`` whose output layer (matrix, bias) is scaled by
    ``scale_factor`` and whose bias_atom_e is 0, so it adds a small correction at step 0."""
    head = EnergyFitting(base.ntypes, base.dim_descrpt, base.neuron, resnet_dt=base.resnet_dt,
                         activation_function=base.activation_function,
                         precision=base.precision, trainable=True, seed=seed)
    head = head.to(base.bias_atom_e.device)
    with torch.no_grad():
        for net in head.nets:
            net.layers[-1].matrix.mul_(scale_factor)
            net.layers[-1].bias.mul_(scale_factor)
    return head


def branch_models(model: nn.Module) -> dict[str, nn.Module]:
    """Branch name -> EnergyModel (``Default`` for a single-task model)."""
    branches = getattr(model, "branches", None)
    return dict(branches.items()) if branches is not None else {"Default": model}


def fitting_prefixes(model: nn.Module, branch: str = "Default") -> list[str]:
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
    unchanged) of the heads summed on top of ``fitting`` — what deepft.io.freeze reads to list
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
    set_trainability(model, record["method"], record.get("fresh", []))
    return model


def build_trained_model(cfg: dict, *, lora: bool = True) -> nn.Module:
    """``build_from_config`` plus the fine-tuning structure recorded in ``model/_finetune``:
    the module tree a checkpoint's ``model`` state dict was saved from (``lora=False``: without
    the adapters, for a state dict whose adapters were folded into the weights)."""
    model = build_from_config(cfg)
    section = cfg["model"] if isinstance(cfg.get("model"), dict) else cfg
    return restore_structure(model, section.get(RECORD_KEY), lora=lora)


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


def set_trainability(model: nn.Module, method: dict, fresh: Iterable[str]) -> None:
    """Freeze what ``method`` freezes (on top of the current flags); ``fresh``:
    ``"branch/fitting_net"`` entries of freshly initialized fitting nets, kept trainable."""
    kind = method.get("method", "full")
    fresh = set(fresh)
    models = branch_models(model)
    fresh_fittings = {id(models[e.split("/")[0]].fitting) for e in fresh if
                      e.endswith("/fitting_net") and e.split("/")[0] in models}
    if kind in ("full", "inherit"):
        return
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


def deep_copy(module: nn.Module) -> nn.Module:
    """An independent copy of a component (weights, buffers and plain attributes)."""
    return copy.deepcopy(module)
