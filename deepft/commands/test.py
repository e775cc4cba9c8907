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

from deepft.branches import DEFAULT_BRANCH
from deepft.commands._paths import check_output_file
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

        from deepft.checkpoint import load_checkpoint, load_trained_model

        state = load_checkpoint(path)
        model = load_trained_model(state, path).eval()
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
        from deepft.io.model_file import read_model_file

        require_branch(read_model_file(path).branches, branch, path)
        self.pot = DeepPot(path, branch=branch)
        self.type_map = list(self.pot.type_map)

    def eval(self, coord, box, atype):
        return self.pot.eval(coord, box, atype)


def require_branch(names: list[str], branch: str | None, path: str) -> None:
    """InputError unless ``branch`` names one of ``names``; None only fits a one-branch
    model (a multitask model must be told which branch, never a silent default)."""
    if branch is None and len(names) == 1:
        return
    if branch is None or branch not in names:
        what = "needs --model-branch" if branch is None else f"has no branch {branch!r}"
        kind = "multitask model" if len(names) > 1 else "model"
        raise InputError(f"{kind} {path} {what}; its branches are {names}",
                         hint="pass --model-branch NAME")


def select_branch(model, branch: str | None, path: str):
    """The EnergyModel of ``branch`` (required for multitask models)."""
    branches = getattr(model, "branches", None)
    if branches is None:
        require_branch([DEFAULT_BRANCH], branch, path)
        return model
    require_branch(list(branches.keys()), branch, path)
    return branches[branch or next(iter(branches.keys()))]


def open_model(path: str, branch: str | None) -> Evaluator:
    """The evaluator of a checkpoint or a model.dft (recognized by its content)."""
    from deepft.io.model_file import is_model_file

    if not Path(path).is_file():
        from deepft.errors import ModelFileError

        raise ModelFileError(f"-m {path}: no such file",
                             hint="give a frozen model (.dft) or a checkpoint (.pt)")
    if is_model_file(path):
        return FrozenEvaluator(path, branch)
    return CheckpointEvaluator(path, branch)


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


#: atoms per evaluation call, as DeePMD-kit's ``dp test`` batches them (bounds the memory of a
#: test over a long trajectory: a DPA-1 checkpoint holds nnei x nnei attention per atom)
ATOMS_PER_CALL = 1024


def evaluate_frames(evaluator: Evaluator, system, frames: dict, progress
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(energy, force, virial) of every frame of ``frames``, about ``ATOMS_PER_CALL`` atoms
    (at least one frame) per call."""
    parts = []
    box = frames.get("box")
    chunk = max(1, ATOMS_PER_CALL // max(1, system.natoms))
    for start in range(0, frames["coord"].shape[0], chunk):
        stop = start + chunk
        parts.append(evaluator.eval(frames["coord"][start:stop],
                                    None if box is None else box[start:stop], system.atype))
        progress.update(parts[-1][0].shape[0])
    return tuple(np.concatenate([np.asarray(p[i]) for p in parts]) for i in range(3))


def test_system(evaluator: Evaluator, system, numb_test: int, detail, progress
                ) -> tuple[ErrorSums, int]:
    nframes = system.nframes if numb_test <= 0 else min(numb_test, system.nframes)
    frames = system.get_frames(np.arange(nframes))
    energy, force, virial = evaluate_frames(evaluator, system, frames, progress)
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
    """Appends label/prediction columns per system to the ``-d`` files (the previous files
    of that prefix are removed when it is created: create it once the inputs are checked)."""

    EXTENSIONS = ("e", "e_peratom", "f", "v", "v_peratom")

    def __init__(self, prefix: str):
        self.prefix = prefix
        for ext in self.EXTENSIONS:
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


def test(model: str, systems: list[str], *, numb_test: int = 0, detail_file: str | None = None,
         model_branch: str | None = None) -> ErrorSums:
    """Energy/force/virial errors of ``model`` (model.dft or checkpoint) on ``systems`` (folders,
    folders of systems, ``file.h5#/group``); ``numb_test`` frames per system (0: all);
    ``detail_file``: prefix of the label-vs-prediction files. Returns the summed errors."""
    from deepft.data import System, expand_systems

    if numb_test < 0:
        raise InputError(f"-n {numb_test} must be >= 0", hint="0 tests every frame")
    if detail_file:
        for ext in DetailWriter.EXTENSIONS:
            check_output_file(f"{detail_file}.{ext}.out", "-d")
    evaluator = open_model(model, model_branch)
    paths = [p for s in systems for p in expand_systems(s)]
    loaded = [System(path, evaluator.type_map) for path in paths]  # all checked before output
    detail = DetailWriter(detail_file) if detail_file else None
    from deepft.progress import Progress

    total, total_frames = ErrorSums(), 0
    for system in loaded:
        log.info("# testing system : %s", system.path)
        count = system.nframes if numb_test <= 0 else min(numb_test, system.nframes)
        with Progress(count, "test", unit="frames") as progress:
            sums, nframes = test_system(evaluator, system, numb_test, detail, progress)
        report(sums, nframes)
        total.merge(sums)
        total_frames += nframes
    if len(loaded) > 1:
        log.info("# ----------weighted average of errors-----------")
        log.info("# number of systems : %d", len(loaded))
        report(total, total_frames)
    return total
