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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepft.commands._paths import check_input_file, check_output_file
from deepft.errors import InputError

log = logging.getLogger("deepft.change_bias")

FRAME_SEED = 0


def default_output(path: str) -> Path:
    p = Path(path)
    return p.with_name(f"{p.stem}_updated{p.suffix}")


@dataclass
class BiasSource:
    """Where the new bias comes from: labelled systems (refit) or given values (set)."""

    systems: list[str]  # expanded system paths; empty when ``values`` are given
    values: list[float] | None  # eV, one per element of the type map
    numb_batch: int  # frames per system for the fit (0: all)
    mode: str  # "change" or "set"

    def update(self, energy_model, branch: str):
        """Refit or set the bias of ``energy_model`` in place; returns the BiasChange (logged)."""
        from deepft.train.bias import refit_bias, set_bias

        if self.values:
            change = set_bias(energy_model, self.values, branch=branch)
        else:
            change = refit_bias(energy_model, self.frames(list(energy_model.type_map)),
                                self.mode, branch=branch)
        change.log()
        return change

    def frames(self, type_map: list[str]) -> list[dict]:
        """Frames to fit on: ``numb_batch`` per system (all when 0), mapped onto ``type_map``."""
        from deepft.data import System, sample_stat_frames

        systems = [System(p, type_map) for p in self.systems]
        n = self.numb_batch or max(s.nframes for s in systems)
        return sample_stat_frames(systems, n, 1, seed=FRAME_SEED)


def bias_source(*, systems: list[str] | None, datafile: str | None,
                bias_values: list[float] | None, numb_batch: int, mode: str) -> BiasSource:
    """The checked request: exactly one of ``systems``, ``datafile`` (one system per line) and
    ``bias_values``; systems must exist."""
    from deepft.data import expand_systems

    given = [n for n, v in (("-s", systems), ("-f", datafile), ("-b", bias_values)) if v]
    if len(given) != 1:
        raise InputError("give exactly one of -s SYSTEM, -f LIST_FILE and -b VALUES"
                         + (f" (got {', '.join(given)})" if given else ""),
                         hint="-s/-f refit the bias on labelled data, -b sets it")
    if numb_batch < 0:
        raise InputError(f"-n {numb_batch} must be >= 0", hint="0 uses every frame")
    if mode not in ("change", "set"):
        raise InputError(f"-m {mode!r} must be change or set", hint="see deepft change-bias -h")
    paths: list[str] = []
    if datafile:
        lines = check_input_file(datafile, "-f", "a text file listing one system per line"
                                 ).read_text().splitlines()
        entries = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
        if not entries:
            raise InputError(f"-f {datafile} lists no system",
                             hint="write one system path per line")
        paths = expand_systems(entries)
    elif systems:
        paths = expand_systems(systems)
    return BiasSource(paths, list(bias_values) if bias_values else None, numb_batch, mode)


def pick_branch(branches: list[str], requested: str | None, path: str) -> str:
    """The branch whose bias changes: ``requested``, or the only one; a model with several
    branches must be told which (never a silent default)."""
    if requested is None:
        if len(branches) == 1:
            return branches[0]
        raise InputError(f"{path} is a multitask model: --model-branch is needed; its "
                         f"branches are {branches}", hint="pass --model-branch NAME")
    if requested not in branches:
        raise InputError(f"--model-branch {requested!r}: {path} has no such branch; its "
                         f"branches are {branches}", hint="pass one of the listed names")
    return requested


def change_bias(model: str, *, systems: list[str] | None = None, datafile: str | None = None,
                bias_values: list[float] | None = None, numb_batch: int = 0,
                mode: str = "change", output: str | None = None,
                model_branch: str | None = None) -> Path:
    """Refit (``systems``/``datafile``) or set (``bias_values``, eV) the energy bias of one
    branch of ``model`` (checkpoint or model.dft); writes ``output`` (default
    ``<model>_updated.<ext>``) and returns its path. Every input is checked before any work."""
    from deepft.io.model_file import is_model_file

    path = str(check_input_file(model, "INPUT", "a checkpoint (.pt) or a frozen model (.dft)"))
    source = bias_source(systems=systems, datafile=datafile, bias_values=bias_values,
                         numb_batch=numb_batch, mode=mode)
    out = check_output_file(output if output else default_output(path), "-o")
    change = change_frozen if is_model_file(path) else change_checkpoint
    written = change(path, source, out, model_branch)
    log.info("Saved model with the updated bias to %s", written)
    return written


def change_checkpoint(path: str, source: BiasSource, out: Path, model_branch: str | None
                      ) -> Path:
    import torch

    from deepft._atomic import atomic_write
    from deepft.checkpoint import load_checkpoint, load_trained_model
    from deepft.model.structure import branch_models

    state = load_checkpoint(path)
    model = load_trained_model(state, path)
    models = branch_models(model)
    branch = pick_branch(list(models), model_branch, path)
    source.update(models[branch], branch)
    new_state = dict(state)
    new_state["model"] = model.state_dict()
    atomic_write(out, lambda fh: torch.save(new_state, fh))
    return out


def change_frozen(path: str, source: BiasSource, out: Path, model_branch: str | None
                  ) -> Path:
    from deepft.io.model_file import read_model_file, write_model_file
    from deepft.io.to_torch import frozen_branch_model

    frozen = read_model_file(path)
    branch = pick_branch(frozen.branches, model_branch, path)
    model = frozen_branch_model(frozen, branch)
    change = source.update(model, branch)
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
