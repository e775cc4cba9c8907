"""Loading the ``-s`` systems of a command: expand each entry, load it with a type map."""

from __future__ import annotations

import os


def load_systems(entries, type_map: list[str]) -> list:
    """:class:`deepft.data.System` objects of every system found under ``entries`` (a path or a
    list of paths: system folders, folders of systems, ``file.h5`` or ``file.h5#/group``),
    atom types mapped onto ``type_map``. Raises :class:`deepft.errors.DataError` naming a
    missing path, a folder without systems or an element absent from ``type_map``."""
    from deepft.data import System, expand_systems

    if isinstance(entries, (str, os.PathLike)):
        entries = [entries]
    return [System(path, type_map) for path in expand_systems(list(entries))]
