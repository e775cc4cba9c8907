"""Checks of the files a command will write or read, done before any work starts."""

from __future__ import annotations

import os
from pathlib import Path

from deepft.errors import InputError


def check_output_file(path: str | os.PathLike, option: str) -> Path:
    """``path`` as a Path when a file can be written there; else an InputError naming
    ``option`` (e.g. ``-o``): its folder is missing, is a file or is not writable, or the path
    is a folder."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"{option} {path} is a folder", hint="give a file name")
    if not folder.exists():
        raise InputError(f"{option} {path}: the folder {folder} does not exist",
                         hint="create it first or choose another path")
    if not folder.is_dir():
        raise InputError(f"{option} {path}: {folder} is a file, not a folder",
                         hint="choose another path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: the folder {folder} is not writable",
                         hint="choose a folder you can write to")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"{option} {path} exists and is not writable",
                         hint="choose another path or change its permissions")
    return path


def check_input_file(path: str | os.PathLike, option: str, what: str) -> Path:
    """``path`` as a Path when it is a readable file; else an InputError naming ``option``."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{option} {path}: no such file", hint=f"give {what}")
    if path.is_dir():
        raise InputError(f"{option} {path} is a folder", hint=f"give {what}")
    if not os.access(path, os.R_OK):
        raise InputError(f"{option} {path} is not readable", hint="check its permissions")
    return path
