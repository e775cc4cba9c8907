"""Fitting nets: energy (:class:`EnergyFitting`), energy plus an extra fresh head
(:class:`FittingWithNewHead`, the ``new_head`` fine-tuning method)."""

from deepft.model.fitting.energy import EnergyFitting
from deepft.model.fitting.new_head import FittingWithNewHead, new_head_for

__all__ = ["EnergyFitting", "FittingWithNewHead", "new_head_for"]
