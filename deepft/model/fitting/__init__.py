"""Fitting nets: energy (:class:`EnergyFitting`)."""

from deepft.model.fitting.energy import EnergyFitting

__all__ = ["EnergyFitting"]
