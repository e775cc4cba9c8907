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
    if name == "_core":
        # every `from deepft import _core` passes here until the extension is imported
        return _import_core()
    raise AttributeError(f"module 'deepft' has no attribute {name!r}")


def _import_core():
    """The compiled extension ``deepft._core``, or an ImportError saying why it is missing."""
    import importlib

    try:
        return importlib.import_module("deepft._core")
    except ModuleNotFoundError as exc:
        if exc.name != "deepft._core":
            raise
        from deepft._missing_core import missing_core_message

        raise ImportError(missing_core_message(), name="deepft._core") from None
