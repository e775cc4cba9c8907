"""ASE calculator of deepft: ``from deepft.calculator import DeepFT`` (see
:mod:`deepft.infer.ase_calculator`)."""

from deepft.infer.ase_calculator import DeepFT

__all__ = ["DeepFT"]
