"""``deepft show MODEL ATTR...``: what a checkpoint (``.pt``) or frozen model (``.dft``) holds.

Attributes (DeePMD-kit's ``dp show`` strings, one block each, in this order):

* ``model-branch``: "Available model branches are ['b1', 'b2', 'RANDOM'], where 'RANDOM' means
  using a randomly initialized fitting net." (multitask checkpoints only, as DeePMD-kit; a
  frozen model lists its branches without RANDOM: fine-tuning starts from a checkpoint)
* ``type-map``: "The type_map of branch b is [...]" / "The type_map is [...]"
* ``descriptor`` / ``fitting-net``: the normalized sections ("The descriptor parameter of
  branch b is {...}")
* ``size``: "Parameters in descriptor: 867,882", "Parameters in fitting-net: ...", "Parameters in
  total: ..." per branch; for a multitask model also the whole model with shared components
  counted once. Statistics and biases (davg, dstd, bias_atom_e) are buffers, not parameters;
  LoRA adapters and a new_head count with the component they belong to.
* ``observed-type``: element types with a non-zero energy bias (the types the statistics data
  contained, DeePMD-kit's definition), sorted by atomic number.

The output starts with "This is a multitask model" / "This is a singletask model". A frozen
model is multitask when it holds several branches (one branch frozen out of a multitask model is
a singletask model).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepft.branches import RANDOM_BRANCH
from deepft.errors import InputError, ModelFileError

log = logging.getLogger("deepft.show")

BUFFERS = ("davg", "dstd", "bias_atom_e")


@dataclass
class ModelInfo:
    """What ``show`` prints, gathered from a checkpoint or a frozen model."""

    path: str
    multitask: bool
    branches: list[str]
    type_maps: dict[str, list[str]]
    descriptors: dict[str, dict]
    fittings: dict[str, dict]
    sizes: dict[str, dict[str, int]]  # branch -> {"descriptor", "fitting-net", "total"}
    whole_size: int
    biases: dict[str, np.ndarray] = field(default_factory=dict)
    frozen: bool = False  # a model.dft (no RANDOM branch to offer: fine-tuning needs a .pt)
    compression: dict[str, dict] = field(default_factory=dict)  # compressed branches' entries


def open_info(path: str) -> ModelInfo:
    """What ``path`` (checkpoint or model.dft) holds; ModelFileError for a missing file."""
    from deepft.io.model_file import is_model_file

    if not Path(path).is_file():
        raise ModelFileError(f"{path}: no such file",
                             hint="give a checkpoint (.pt) or a frozen model (.dft)")
    return frozen_info(path) if is_model_file(path) else checkpoint_info(path)


def checkpoint_info(path: str) -> ModelInfo:
    from deepft.checkpoint import load_checkpoint, load_trained_model
    from deepft.config.branches import is_multitask, model_sections
    from deepft.model.structure import branch_models

    state = load_checkpoint(path)
    cfg = state["config"]
    model = load_trained_model(state, path)
    multitask = is_multitask(cfg)
    sections = model_sections(cfg)
    models = branch_models(model)
    sizes = {b: component_sizes(m) for b, m in models.items()}
    whole = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    return ModelInfo(path, multitask, list(models),
                     {b: list(m.type_map) for b, m in models.items()},
                     {b: sections[b]["descriptor"] for b in models},
                     {b: sections[b]["fitting_net"] for b in models}, sizes, whole,
                     {b: m.fitting.bias_atom_e.detach().cpu().double().numpy()
                      for b, m in models.items()})


def component_sizes(energy_model) -> dict[str, int]:
    def count(module) -> int:
        return sum(p.numel() for p in {id(p): p for p in module.parameters()}.values())

    desc, fit = count(energy_model.descriptor), count(energy_model.fitting)
    return {"descriptor": desc, "fitting-net": fit, "total": desc + fit}


def frozen_info(path: str) -> ModelInfo:
    from deepft.io.model_file import read_model_file

    frozen = read_model_file(path)
    names = frozen.branches
    sizes, biases, counted = {}, {}, set()
    for b in names:
        br = frozen.branch(b)
        desc = tensor_count(frozen.tensors, [br["descriptor_prefix"]])
        fit = tensor_count(frozen.tensors, br["fitting_prefixes"])
        sizes[b] = {"descriptor": desc, "fitting-net": fit, "total": desc + fit}
        biases[b] = np.asarray(frozen.tensors[br["fitting_prefixes"][0] + "bias_atom_e"])
        counted.update(tensor_names(frozen.tensors, [br["descriptor_prefix"],
                                                     *br["fitting_prefixes"]]))
    whole = sum(frozen.tensors[n].size for n in counted)
    return ModelInfo(path, len(names) > 1, names, {b: frozen.branch(b)["type_map"] for b in names},
                     {b: frozen.branch(b)["descriptor"] for b in names},
                     {b: frozen.branch(b)["fitting_net"] for b in names}, sizes, whole, biases,
                     frozen=True,
                     compression={b: frozen.branch(b)["compression"] for b in names
                                  if "compression" in frozen.branch(b)})


def tensor_names(tensors: dict, prefixes: list[str]) -> set[str]:
    """Parameter tensors (not statistics/bias buffers) under any of ``prefixes``."""
    return {n for n in tensors if any(n.startswith(p) for p in prefixes)
            and n.rsplit(".", 1)[-1] not in BUFFERS}


def tensor_count(tensors: dict, prefixes: list[str]) -> int:
    return sum(int(tensors[n].size) for n in tensor_names(tensors, prefixes))


# ---- printing ---------------------------------------------------------------------------------
def show(path: str, attributes: list[str]) -> ModelInfo:
    """Log each of ``attributes`` (:data:`ATTRIBUTES`) of ``path`` (checkpoint or model.dft)
    in DeePMD-kit's words; returns what was read."""
    unknown = [a for a in attributes if a not in SHOW]
    if unknown:
        raise InputError(f"unknown attribute(s) {unknown}", hint=f"choose from {ATTRIBUTES}")
    info = open_info(path)
    log.info("This is a multitask model" if info.multitask else "This is a singletask model")
    show_compression(info)
    for attr in dict.fromkeys(attributes):
        SHOW[attr](info)
    return info


def show_compression(info: ModelInfo) -> None:
    """One line per compressed branch (``deepft compress``): the table's parameters."""
    for b, z in info.compression.items():
        where = f"Branch {b} is" if info.multitask else "This model is"
        log.info("%s compressed: embedding nets tabulated (step %g, extrapolate %g, "
                 "min_nbor_dist %.6f Å, check_frequency %d)", where, z["step"],
                 z["extrapolate"], z["min_nbor_dist"], z["check_frequency"])


def show_branches(info: ModelInfo) -> None:
    if not info.multitask:
        raise InputError(f"{info.path}: the 'model-branch' attribute requires a multitask "
                         "model; this is a singletask model",
                         hint="drop model-branch from the attributes")
    if info.frozen:
        log.info("Available model branches are %s", info.branches)
        return
    log.info("Available model branches are %s, where 'RANDOM' means using a randomly "
             "initialized fitting net.", [*info.branches, RANDOM_BRANCH])


def per_branch(info: ModelInfo, what: str, values: dict) -> None:
    if info.multitask:
        for b in info.branches:
            log.info("The %s of branch %s is %s", what, b, values[b])
    else:
        log.info("The %s is %s", what, values[info.branches[0]])


def show_type_map(info: ModelInfo) -> None:
    per_branch(info, "type_map", info.type_maps)


def show_descriptor(info: ModelInfo) -> None:
    per_branch(info, "descriptor parameter", info.descriptors)


def show_fitting(info: ModelInfo) -> None:
    per_branch(info, "fitting_net parameter", info.fittings)


def show_size(info: ModelInfo) -> None:
    for b in info.branches:
        log.info(f"Parameter counts of branch {b}:" if info.multitask else "Parameter counts:")
        for key in ("descriptor", "fitting-net", "total"):
            log.info("Parameters in %s: %s", key, f"{info.sizes[b][key]:,}")
    if info.multitask:
        log.info("Parameters in the whole model (shared components counted once): %s",
                 f"{info.whole_size:,}")


def observed(info: ModelInfo, branch: str) -> list[str]:
    bias = info.biases[branch]
    return sort_elements([t for t, b in zip(info.type_maps[branch], bias, strict=True) if b != 0.0])


def sort_elements(names: list[str]) -> list[str]:
    """Element names by atomic number (unknown names last, in their order)."""
    from ase.data import atomic_numbers

    return sorted(names, key=lambda n: atomic_numbers.get(n, 10_000))


def show_observed(info: ModelInfo) -> None:
    if not info.multitask:
        types = observed(info, info.branches[0])
        log.info("The observed types for this model:")
        log.info("Number of observed types: %d", len(types))
        log.info("Observed types: %s", types)
        return
    log.info("The observed types for each branch:")
    total: list[str] = []
    for b in info.branches:
        types = observed(info, b)
        log.info("%s: Number of observed types: %d", b, len(types))
        log.info("%s: Observed types: %s", b, types)
        total += [t for t in types if t not in total]
    log.info("TOTAL number of observed types in the model: %d", len(total))
    log.info("TOTAL observed types in the model: %s", sort_elements(total))


SHOW = {"model-branch": show_branches, "type-map": show_type_map,
        "descriptor": show_descriptor, "fitting-net": show_fitting, "size": show_size,
        "observed-type": show_observed}

ATTRIBUTES = list(SHOW)
