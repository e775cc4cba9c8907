"""Per-element energy bias refit: change-by-statistic and set-by-statistic.

With ``N`` the ``nframes x ntypes`` matrix of atom counts of the statistics frames and ``E`` their
labelled total energies (eV):

* ``change-by-statistic`` (fine-tuning default, ``deepft change-bias -m change``): predict
  ``Ê`` with the current model, solve ``δ = argmin ||N δ - (E - Ê)||`` and add it:
  ``bias += δ``. The network keeps what it learned; only the per-element offset moves.
* ``set-by-statistic`` (``-m set``; a freshly initialized fitting net):
  ``bias = argmin ||N b - E||``.

Both use :func:`deepft.data.fit_energy_bias` (DeePMD-kit's least squares on composition). Types
that no frame contains keep their current bias (a superset type map must not lose what the
pretrained model knew). The log shows DeePMD-kit's lines ("RMSE of energy per atom after linear
regression is: ..." and "Change output bias of [...] from [...] to [...].") and a table
element -> old bias, new bias.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from deepft.branches import DEFAULT_BRANCH
from deepft.data import count_matrix, fit_energy_bias
from deepft.errors import InputError

log = logging.getLogger("deepft.train")

MODES = {"change": "change-by-statistic", "set": "set-by-statistic",
         "change-by-statistic": "change-by-statistic", "set-by-statistic": "set-by-statistic"}
#: atoms per forward call when predicting energies for the refit (at least one frame)
ATOMS_PER_CALL = 1024


@dataclass
class BiasChange:
    """One refit: old and new bias (eV, ``ntypes``) of one branch, and how it was obtained."""

    branch: str
    type_map: list[str]
    mode: str
    old: np.ndarray
    new: np.ndarray
    rmse_per_atom: float = float("nan")
    nframes: int = 0
    placeholders: list[int] = field(default_factory=list)  # types whose old bias was unset

    def table(self) -> str:
        """Element -> old bias, new bias (eV), one line each."""
        lines = [f"  {'element':<8s} {'old bias (eV)':>18s} {'new bias (eV)':>18s} "
                 f"{'change (eV)':>14s}"]
        for t, name in enumerate(self.type_map):
            old = "(new)" if t in self.placeholders else f"{self.old[t]:.6f}"
            lines.append(f"  {name:<8s} {old:>18s} {self.new[t]:>18.6f} "
                         f"{self.new[t] - self.old[t]:>14.6f}")
        return "\n".join(lines)

    def log(self) -> None:
        what = f"{self.mode}, {self.nframes} frames" if self.nframes else self.mode
        log.info("energy bias of branch %s (%s):\n%s", self.branch, what, self.table())
        if np.isfinite(self.rmse_per_atom):
            log.info("RMSE of energy per atom after linear regression is: %s eV.",
                     self.rmse_per_atom)
        log.info("Change output bias of %s from %s to %s.", self.type_map, self.old, self.new)


def normalize_mode(mode: str) -> str:
    if mode not in MODES:
        raise InputError(f"unknown bias mode {mode!r}",
                         hint="use change-by-statistic (change) or set-by-statistic (set)")
    return MODES[mode]


def predict_energy(model: torch.nn.Module, frames: list[dict]) -> np.ndarray:
    """Total energies (eV) predicted by an EnergyModel for every frame of ``frames``
    (batch dicts with coord ``b x N x 3``, box ``b x 9`` or None, atype ``N``), in order."""
    dtype = next(model.parameters()).dtype
    was_training = model.training
    model.eval()
    from deepft.progress import track

    out = []
    try:
        for batch in track(frames, "energy prediction for the bias fit", unit="frames",
                           weight=lambda b: int(np.asarray(b["coord"]).shape[0])):
            coord = np.asarray(batch["coord"], dtype=np.float64)
            box = batch.get("box")
            atype = torch.as_tensor(np.asarray(batch["atype"]).reshape(-1), dtype=torch.int64)
            chunk = max(1, ATOMS_PER_CALL // max(1, atype.numel()))
            for start in range(0, coord.shape[0], chunk):
                c = torch.as_tensor(coord[start:start + chunk], dtype=dtype)
                b = None if box is None else torch.as_tensor(
                    np.asarray(box, dtype=np.float64)[start:start + chunk], dtype=dtype)
                pred = model(c, b, atype)
                out.append(pred["energy"].detach().cpu().double().numpy().reshape(-1))
    finally:
        model.train(was_training)
    return np.concatenate(out) if out else np.zeros(0)


def labelled(frames: list[dict]) -> list[dict]:
    """The frame batches that carry energy labels."""
    return [f for f in frames if float(f.get("find_energy", 0.0)) > 0]


def refit_bias(model: torch.nn.Module, frames: list[dict], mode: str, *,
               branch: str = DEFAULT_BRANCH, only_types: list[int] | None = None) -> BiasChange:
    """Refit ``model.fitting.bias_atom_e`` in place on ``frames`` (see the module docstring).

    ``model``: an EnergyModel (one branch); ``frames``: statistics batches mapped onto the
    model's type map; ``only_types``: refit only these types (the others keep their bias and
    enter the fit as fixed). Returns the change (not yet logged).
    """
    mode = normalize_mode(mode)
    fitting = model.fitting
    type_map = list(model.type_map)
    ntypes = len(type_map)
    frames = labelled(frames)
    if not frames:
        raise InputError(f"branch {branch}: no frame with energy labels to refit the energy "
                         "bias on", hint="the data needs energy.npy in at least one system")
    counts = count_matrix(frames, ntypes).astype(np.float64)
    energy = np.concatenate([np.asarray(f["energy"], dtype=np.float64).reshape(-1)
                             for f in frames])
    old = fitting.bias_atom_e.detach().cpu().double().numpy().copy()
    placeholders = list(getattr(fitting, "types_without_bias", []))
    keep = counts.sum(axis=0) == 0  # types with no atom in the data keep their bias
    if only_types is not None:
        keep |= ~np.isin(np.arange(ntypes), np.asarray(only_types, dtype=np.int64))
    if mode == "change-by-statistic":
        target = energy - predict_energy(model, frames)
        fit = fit_energy_bias(counts, target, preset=[0.0 if k else None for k in keep])
        new = old + fit.bias
    else:
        fit = fit_energy_bias(counts, energy, preset=[old[t] if k else None
                                                      for t, k in enumerate(keep)])
        new = fit.bias
    with torch.no_grad():
        fitting.bias_atom_e.copy_(torch.as_tensor(new, dtype=fitting.bias_atom_e.dtype))
    if hasattr(fitting, "types_without_bias"):
        fitting.types_without_bias = [t for t in placeholders if keep[t]]
    return BiasChange(branch, type_map, mode, old, new, fit.rmse_per_atom, len(energy),
                      placeholders)


def set_bias(model: torch.nn.Module, values, *, branch: str = DEFAULT_BRANCH) -> BiasChange:
    """Set ``model.fitting.bias_atom_e`` to user-given ``values`` (eV, one per type)."""
    fitting = model.fitting
    type_map = list(model.type_map)
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size != len(type_map):
        raise InputError(f"{values.size} bias values given for the {len(type_map)} types of "
                         f"type_map {type_map}", hint="give one value (eV) per element, in "
                                                      "type_map order")
    old = fitting.bias_atom_e.detach().cpu().double().numpy().copy()
    with torch.no_grad():
        fitting.bias_atom_e.copy_(torch.as_tensor(values, dtype=fitting.bias_atom_e.dtype))
    return BiasChange(branch, type_map, "user-given", old, values.copy())
