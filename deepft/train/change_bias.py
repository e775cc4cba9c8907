"""``deepft change-bias MODEL (-s SYS... | -f LIST | -b V...)``: refit or set the energy bias.

Mirrors ``dp change-bias``. The per-element energy bias (``bias_atom_e``, eV) of one branch is

* refit on labelled systems by least squares on composition (deepft.train.bias):
  ``-m change`` (default) adds the fit of label - prediction, ``-m set`` replaces it by the fit
  of the labels; ``-n N`` uses N frames per system (a seeded random choice; 0: all);
* or set to user-given values (``-b``, one per element of the type map, eV).

MODEL is a checkpoint (``.pt``: the model is rebuilt with its fine-tuning structure, the new
checkpoint keeps optimizer and step) or a frozen model (``.dft``: the branch is rebuilt in torch
from the file's tensors for the prediction, and only its bias tensor is rewritten through
deepft.io). The result goes to ``-o`` (default ``<input>_updated.pt`` / ``_updated.dft``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from deepft.errors import InputError, ModelFileError

log = logging.getLogger("deepft.train")

FRAME_SEED = 0


def default_output(path: str) -> Path:
    p = Path(path)
    return p.with_name(f"{p.stem}_updated{p.suffix}")


def system_paths(args) -> list[str]:
    from deepft.data import expand_systems

    if args.datafile:
        lines = Path(args.datafile).read_text().splitlines()
        entries = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
        if not entries:
            raise InputError(f"-f {args.datafile} lists no system",
                             hint="write one system path per line")
        return expand_systems(entries)
    return expand_systems(args.system)


def stat_frames(args, type_map: list[str]) -> list[dict]:
    """Frames to fit on: ``-n`` per system (all when 0), mapped onto ``type_map``."""
    from deepft.data import System, sample_stat_frames

    if args.numb_batch is not None and args.numb_batch < 0:
        raise InputError(f"-n {args.numb_batch} must be >= 0", hint="0 uses every frame")
    systems = [System(p, type_map) for p in system_paths(args)]
    most = max(s.nframes for s in systems)
    n = int(args.numb_batch or 0) or most
    return sample_stat_frames(systems, n, 1, seed=FRAME_SEED)


def update_bias(energy_model, args, branch: str):
    """Refit or set the bias of ``energy_model`` in place; returns the BiasChange (logged)."""
    from deepft.train.bias import refit_bias, set_bias

    if args.bias_value:
        change = set_bias(energy_model, args.bias_value, branch=branch)
    else:
        change = refit_bias(energy_model, stat_frames(args, list(energy_model.type_map)),
                            args.mode, branch=branch)
    change.log()
    return change


def pick_branch(branches: list[str], requested: str | None, path: str, default: str | None
                ) -> str:
    if requested is None:
        if len(branches) == 1:
            return branches[0]
        if default is None:
            raise InputError(f"{path} is a multitask model: --model-branch is needed; its "
                             f"branches are {branches}", hint="pass --model-branch NAME")
        return default
    if requested not in branches:
        raise InputError(f"--model-branch {requested!r}: {path} has no such branch; its "
                         f"branches are {branches}", hint="pass one of the listed names")
    return requested


def change_bias_command(args) -> int:
    """CLI entry (see deepft.cli.change_bias for the arguments)."""
    path = str(args.INPUT)
    if not Path(path).is_file():
        raise ModelFileError(f"{path}: no such file",
                             hint="give a checkpoint (.pt) or a frozen model (.dft)")
    from deepft.train.show import is_frozen

    out = Path(args.output) if args.output else default_output(path)
    written = change_frozen(path, args, out) if is_frozen(path) else change_checkpoint(
        path, args, out)
    log.info("Saved model with the updated bias to %s", written)
    return 0


def change_checkpoint(path: str, args, out: Path) -> Path:
    import torch

    from deepft.train.checkpoint import atomic_write, load_checkpoint
    from deepft.train.finetune_methods import branch_models, build_trained_model

    state = load_checkpoint(path)
    model = build_trained_model(state["config"])
    model.load_state_dict(state["model"])
    models = branch_models(model)
    multitask = hasattr(model, "branches")
    branch = pick_branch(list(models), args.model_branch, path, None if multitask else "Default")
    update_bias(models[branch], args, branch)
    new_state = dict(state)
    new_state["model"] = model.state_dict()
    atomic_write(out, lambda fh: torch.save(new_state, fh))
    return out


def frozen_branch_model(frozen, branch: str):
    """A torch EnergyModel of one branch of a model.dft, weights from the file."""
    import torch

    from deepft.model import build_model
    from deepft.train.finetune_methods import add_new_heads

    br = frozen.branch(branch)
    section = {"type_map": br["type_map"], "descriptor": dict(br["descriptor"]),
               "fitting_net": dict(br["fitting_net"])}
    model = build_model(section)
    prefixes = br["fitting_prefixes"]
    if len(prefixes) > 2:
        raise ModelFileError(f"{frozen.path}: branch {branch} sums {len(prefixes)} fitting "
                             "nets; change-bias handles at most one extra head",
                             hint="change the bias on the checkpoint instead")
    if len(prefixes) == 2:
        add_new_heads(model, ["Default"], 0.0, None)
    rename = [(br["descriptor_prefix"], "descriptor.")]
    rename += [(p, "fitting." if i == 0 else "fitting.new_head.") for i, p in enumerate(prefixes)]
    state = {}
    for old, new in sorted(rename, key=lambda r: -len(r[0])):  # longest prefix first
        for key, value in frozen.tensors.items():
            if key.startswith(old) and not any(key.startswith(o) and len(o) > len(old)
                                               for o, _ in rename):
                state[new + key[len(old):]] = torch.from_numpy(np.array(value))
    model.load_state_dict(state)
    return model


def change_frozen(path: str, args, out: Path) -> Path:
    from deepft.io.model_file import read_model_file, write_model_file

    frozen = read_model_file(path)
    branch = pick_branch(frozen.branches, args.model_branch, path, frozen.default_branch)
    model = frozen_branch_model(frozen, branch)
    change = update_bias(model, args, branch)
    name = frozen.branch(branch)["fitting_prefixes"][0] + "bias_atom_e"
    tensors = dict(frozen.tensors)
    tensors[name] = np.asarray(change.new, dtype=frozen.tensors[name].dtype)
    shared = [b for b in frozen.branches if b != branch
              and frozen.branch(b)["fitting_prefixes"][0] + "bias_atom_e" == name]
    if shared:
        log.info("branches %s share this fitting net: their bias changed too", shared)
    header = {k: v for k, v in frozen.header.items()
              if k not in ("tensors", "blob_nbytes", "format_version")}
    return write_model_file(out, header, tensors)
