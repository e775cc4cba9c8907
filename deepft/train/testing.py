"""``deepft test``: energy/force/virial errors of a model on labelled systems, as ``dp test``.

Per system and in total (energy averaged over frames, forces over force components, weighted
by frame/atom counts across systems): MAE and RMSE of the energy (total and per atom, eV),
forces (eV/Å) and, where labels exist, the virial (total and per atom, eV). ``-d PREFIX`` writes
``PREFIX.e.out``, ``.e_peratom.out``, ``.f.out``, ``.v.out``, ``.v_peratom.out`` with label and
prediction columns side by side.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepft.errors import InputError

log = logging.getLogger("deepft.test")


class Evaluator:
    """``eval(coord nf x N x 3, box nf x 9 | None, atype N)`` -> ``(energy nf, force nf x N x 3,
    virial nf x 9)``."""

    type_map: list[str]


class CheckpointEvaluator(Evaluator):
    """Evaluates a training checkpoint with the PyTorch model."""

    def __init__(self, path: str, branch: str | None):
        import torch

        from deepft.train.checkpoint import load_checkpoint
        from deepft.train.finetune_methods import build_trained_model

        state = load_checkpoint(path)
        model = build_trained_model(state["config"])
        model.load_state_dict(state["model"])
        model.eval()
        self.model = select_branch(model, branch, path)
        self.type_map = list(self.model.type_map)
        self.dtype = next(self.model.parameters()).dtype
        self.torch = torch

    def eval(self, coord, box, atype):
        t = self.torch
        out = self.model(t.as_tensor(coord, dtype=self.dtype),
                         None if box is None else t.as_tensor(box, dtype=self.dtype),
                         t.as_tensor(atype, dtype=t.int64))
        return tuple(out[k].detach().cpu().numpy() for k in ("energy", "force", "virial"))


class FrozenEvaluator(Evaluator):
    """Evaluates a frozen model.dft with the native C++ core."""

    def __init__(self, path: str, branch: str | None):
        from deepft.infer import DeepPot

        self.pot = DeepPot(path, branch=branch)
        self.type_map = list(self.pot.type_map)

    def eval(self, coord, box, atype):
        return self.pot.eval(coord, box, atype)


def select_branch(model, branch: str | None, path: str):
    """The EnergyModel of ``branch`` (required for multitask models)."""
    branches = getattr(model, "branches", None)
    if branches is None:
        return model
    names = list(branches.keys())
    if branch is None or branch not in branches:
        what = "needs --model-branch" if branch is None else f"has no branch {branch!r}"
        raise InputError(f"multitask model {path} {what}; its branches are {names}",
                         hint="pass --model-branch NAME")
    return branches[branch]


def open_model(path: str, branch: str | None) -> Evaluator:
    if str(path).endswith(".pt"):
        return CheckpointEvaluator(path, branch)
    return FrozenEvaluator(path, branch)


@dataclass
class ErrorSums:
    """Running sums for MAE/RMSE: absolute and squared errors and their counts."""

    abs: dict = field(default_factory=dict)
    sq: dict = field(default_factory=dict)
    n: dict = field(default_factory=dict)

    def add(self, key: str, diff: np.ndarray) -> None:
        self.abs[key] = self.abs.get(key, 0.0) + float(np.abs(diff).sum())
        self.sq[key] = self.sq.get(key, 0.0) + float(np.square(diff).sum())
        self.n[key] = self.n.get(key, 0) + diff.size

    def merge(self, other: ErrorSums) -> None:
        for key in other.n:
            self.abs[key] = self.abs.get(key, 0.0) + other.abs[key]
            self.sq[key] = self.sq.get(key, 0.0) + other.sq[key]
            self.n[key] = self.n.get(key, 0) + other.n[key]

    def mae(self, key):
        return self.abs[key] / self.n[key]

    def rmse(self, key):
        return (self.sq[key] / self.n[key]) ** 0.5


LINES = [("energy", "Energy", "eV"), ("energy_peratom", "Energy", "eV", "/Natoms"),
         ("force", "Force ", "eV/A"), ("virial", "Virial", "eV"),
         ("virial_peratom", "Virial", "eV", "/Natoms")]


def report(sums: ErrorSums, nframes: int) -> None:
    log.info("# number of test data : %d", nframes)
    for key, name, unit, *suffix in LINES:
        if key not in sums.n:
            continue
        tag = suffix[0] if suffix else ""
        log.info("%-19s: %e %s", f"{name} MAE{tag}", sums.mae(key), unit)
        log.info("%-19s: %e %s", f"{name} RMSE{tag}", sums.rmse(key), unit)


def test_system(evaluator: Evaluator, system, numb_test: int, detail) -> tuple[ErrorSums, int]:
    nframes = system.nframes if numb_test <= 0 else min(numb_test, system.nframes)
    frames = system.get_frames(np.arange(nframes))
    energy, force, virial = evaluator.eval(frames["coord"], frames.get("box"), system.atype)
    sums = ErrorSums()
    natoms = system.natoms
    if frames.get("find_energy", 1.0) > 0:
        sums.add("energy", energy - frames["energy"])
        sums.add("energy_peratom", (energy - frames["energy"]) / natoms)
    if frames.get("find_force", 1.0) > 0:
        sums.add("force", force - frames["force"])
    has_virial = frames.get("find_virial", 0.0) > 0
    if has_virial:
        sums.add("virial", virial - frames["virial"])
        sums.add("virial_peratom", (virial - frames["virial"]) / natoms)
    if detail:
        detail.write(system.path, natoms, frames, energy, force, virial, has_virial)
    return sums, nframes


class DetailWriter:
    """Appends label/prediction columns per system to the ``-d`` files."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        for ext in ("e", "e_peratom", "f", "v", "v_peratom"):
            Path(f"{prefix}.{ext}.out").unlink(missing_ok=True)

    def _append(self, ext: str, header: str, data: np.ndarray) -> None:
        with open(f"{self.prefix}.{ext}.out", "a") as fh:
            np.savetxt(fh, data, header=header)

    def write(self, path, natoms, frames, energy, force, virial, has_virial) -> None:
        self._append("e", f"{path}: data_e pred_e",
                     np.column_stack([frames["energy"], energy]))
        self._append("e_peratom", f"{path}: data_e pred_e",
                     np.column_stack([frames["energy"], energy]) / natoms)
        f_cols = "data_fx data_fy data_fz pred_fx pred_fy pred_fz"
        self._append("f", f"{path}: {f_cols}",
                     np.column_stack([frames["force"].reshape(-1, 3), force.reshape(-1, 3)]))
        if has_virial:
            comps = ["xx", "xy", "xz", "yx", "yy", "yz", "zx", "zy", "zz"]
            v_cols = " ".join([f"data_v{c}" for c in comps] + [f"pred_v{c}" for c in comps])
            both = np.column_stack([frames["virial"].reshape(-1, 9), virial.reshape(-1, 9)])
            self._append("v", f"{path}: {v_cols}", both)
            self._append("v_peratom", f"{path}: {v_cols}", both / natoms)


def test_command(args) -> int:
    from deepft.data import System, expand_systems

    evaluator = open_model(args.model, args.model_branch)
    detail = DetailWriter(args.detail_file) if args.detail_file else None
    total, total_frames = ErrorSums(), 0
    paths = [p for s in args.system for p in expand_systems(s)]
    for path in paths:
        system = System(path, evaluator.type_map)
        log.info("# testing system : %s", path)
        sums, nframes = test_system(evaluator, system, args.numb_test, detail)
        report(sums, nframes)
        total.merge(sums)
        total_frames += nframes
    if len(paths) > 1:
        log.info("# ----------weighted average of errors-----------")
        log.info("# number of systems : %d", len(paths))
        report(total, total_frames)
    return 0
