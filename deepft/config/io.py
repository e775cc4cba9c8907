"""Reading the input JSON and writing the normalized one."""

from __future__ import annotations

import json
import os
from pathlib import Path

from deepft._atomic import atomic_write
from deepft.errors import InputError


def load_input(path: str | os.PathLike) -> dict:
    """The parsed input JSON; InputError for a missing file, bad JSON (with line and column),
    a duplicated key or a top level that is not an object."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"input file {path} not found",
                         hint="check the path (relative paths start at the current directory)"
                         ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read input file {path}: {err}") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: invalid JSON at line {err.lineno}, column {err.colno}: "
                         f"{err.msg}",
                         hint="look for a missing or trailing comma, or an unquoted key, at "
                              "or just before that position") from None
    except _DuplicateKey as err:
        raise InputError(f"{path}: key {err.key!r} appears twice in the same object",
                         hint="keep one of them (JSON would silently use the last)") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: the input must be a JSON object, got "
                         f"{type(data).__name__}", hint="start the file with {")
    return data


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out and not key.startswith("_"):
            raise _DuplicateKey(key)
        out[key] = value
    return out


def write_normalized(cfg: dict, path: str | os.PathLike) -> None:
    """Write ``cfg`` as indented JSON, atomically (temp file in the same folder + rename)."""
    text = json.dumps(cfg, indent=4) + "\n"
    try:
        atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
    except FileNotFoundError as err:
        raise InputError(f"cannot write the normalized input {path}: {err.strerror}",
                         hint="check that its folder exists and is writable") from None
