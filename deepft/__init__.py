"""deepft: multitask pre-training, fine-tuning and native inference of se_e2_a potentials.

The public Python API is small: :func:`neighbor_list` (ASE-compatible full neighbor list from
the compiled kernels) and, once a model is frozen, :class:`deepft.infer.DeepPot`.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "neighbor_list"]


def __getattr__(name):
    # Lazy so that `import deepft` (and the CLI's --help) never imports torch or the extension.
    if name == "neighbor_list":
        from deepft.ops.neighbor import neighbor_list

        return neighbor_list
    raise AttributeError(f"module 'deepft' has no attribute {name!r}")
