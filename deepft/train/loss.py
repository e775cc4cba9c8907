"""The ``ener`` loss with DeePMD-kit's prefactor schedule, and its RMSE metrics.

``pref(t) = limit + (start - limit) * lr(t) / start_lr`` for each of e, f, v, ae, pf, and
(DeePMD-kit, deepmd/pt/loss/ener.py)::

    L = pref_e * mean(dE^2) / N + pref_f * mean(dF^2) + pref_v * mean(dV^2) / N
        + pref_ae * mean(dE_atom^2) + pref_pf * mean(atom_pref * dF^2)

with ``N`` the atom count of the batch's system; each term is multiplied by the batch's
``find_*`` flag, so absent labels contribute nothing. Reported metrics: ``rmse`` = sqrt(L),
``rmse_e`` per atom (eV), ``rmse_f`` (eV/Å), ``rmse_v`` per atom (eV), ``rmse_ae`` (eV).
They stay float64 tensors on the training device (no GPU sync per step) until
:func:`metric_values` reads them, once, when they are reported.

``stage_splits`` (deepft) replaces the e/f prefactors by fixed per-stage values from the given
start step on: a two-stage schedule used in fine-tuning (e.g. forces first, then energies).
"""

from __future__ import annotations

import torch

TERMS = ("e", "f", "v", "ae", "pf")


class EnergyLoss:
    """Callable ``loss(pred, label, lr, step) -> (loss, metrics)``; metrics are 0-d float64
    tensors (see :func:`metric_values`)."""

    def __init__(self, cfg: dict, start_lr: float):
        self.start_lr = float(start_lr)
        self.start = {t: float(cfg.get(f"start_pref_{t}", 0.0)) for t in TERMS}
        self.limit = {t: float(cfg.get(f"limit_pref_{t}", 0.0)) for t in TERMS}
        self.stages = sorted(cfg.get("stage_splits") or [], key=lambda s: s["start_step"])

    def prefactors(self, lr: float, step: int) -> dict[str, float]:
        coef = lr / self.start_lr
        pref = {t: self.limit[t] + (self.start[t] - self.limit[t]) * coef for t in TERMS}
        for stage in self.stages:
            if step >= stage["start_step"]:
                pref["e"] = stage["pref_e"]
                pref["f"] = stage["pref_f"]
        return pref

    def has(self, term: str) -> bool:
        """Whether a term ever contributes (start or limit prefactor non-zero, or a stage)."""
        if term in ("e", "f") and self.stages:
            return True
        return self.start[term] != 0.0 or self.limit[term] != 0.0

    def __call__(self, pred: dict, label: dict, lr: float, step: int
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``pred``/``label`` tensors: energy ``nf``, force ``nf x N x 3``, virial ``nf x 9``."""
        pref = self.prefactors(lr, step)
        natoms = pred["force"].shape[1]
        atom_norm = 1.0 / natoms
        loss = pred["energy"].new_zeros(())
        metrics: dict[str, torch.Tensor] = {}
        if self.has("e"):
            l2 = torch.mean(torch.square(pred["energy"] - label["energy"]))
            loss = loss + atom_norm * pref["e"] * float(label["find_energy"]) * l2
            metrics["rmse_e"] = _rms(l2) * atom_norm
        if self.has("f") or self.has("pf"):
            diff_f = label["force"] - pred["force"]
            l2 = torch.mean(torch.square(diff_f))
            if self.has("f"):
                loss = loss + pref["f"] * float(label["find_force"]) * l2
            if self.has("pf"):
                weighted = torch.mean(label["atom_pref"][..., None] * torch.square(diff_f))
                loss = loss + pref["pf"] * float(label["find_atom_pref"]) * weighted
            metrics["rmse_f"] = _rms(l2)
        if self.has("v") and float(label["find_virial"]) > 0:
            l2 = torch.mean(torch.square(pred["virial"] - label["virial"]))
            loss = loss + atom_norm * pref["v"] * float(label["find_virial"]) * l2
            metrics["rmse_v"] = _rms(l2) * atom_norm
        if self.has("ae") and float(label["find_atom_ener"]) > 0:
            l2 = torch.mean(torch.square(pred["atom_energy"] - label["atom_ener"]))
            loss = loss + pref["ae"] * float(label["find_atom_ener"]) * l2
            metrics["rmse_ae"] = _rms(l2)
        metrics["rmse"] = _rms(loss)
        return loss, metrics


def _rms(mean_square: torch.Tensor) -> torch.Tensor:
    """sqrt of a detached mean square in float64 (as the host float it used to be read into)."""
    return mean_square.detach().sqrt().to(torch.float64)


def metric_values(metrics: dict) -> dict[str, float]:
    """The metrics as host floats, read from the device in one transfer (floats pass through)."""
    names = [k for k, v in metrics.items() if torch.is_tensor(v)]
    values = dict(metrics)
    if names:
        host = torch.stack([metrics[k].reshape(()) for k in names]).cpu().tolist()
        values.update(zip(names, host, strict=True))
    return {k: float(v) for k, v in values.items()}
