"""Inference on frozen models (``model.dft``) through the native C++ core.

:class:`DeepPot` (numpy in, numpy out) and the ASE calculator :class:`DeepFT`
(also importable as ``deepft.calculator.DeepFT``).
"""

from deepft.infer.deep_pot import DeepPot

__all__ = ["DeepFT", "DeepPot"]


def __getattr__(name):
    if name == "DeepFT":  # lazy: importing ASE costs time
        from deepft.infer.ase_calculator import DeepFT

        return DeepFT
    raise AttributeError(f"module 'deepft.infer' has no attribute {name!r}")
