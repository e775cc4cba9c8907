"""``torch.load`` of a file from a stranger: tensors and plain values only, errors that name it."""

from __future__ import annotations

import pickle
from pathlib import Path

from deepft.errors import ModelFileError


def load_weights_only(path: str | Path, what: str, expected: str):
    """The object ``torch.save`` wrote to ``path``, loaded with ``weights_only=True`` onto the
    CPU: a file that would need a Python callable to load is refused, never run.

    ``what`` names the file in messages ("checkpoint"); ``expected`` says in the hint what a
    readable one is ("a deepft checkpoint"). Raises ModelFileError naming the file.
    """
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "GLOBAL" in str(err):  # the file names a Python callable to import and run
            raise ModelFileError(f"{what} {path} holds objects other than tensors and plain "
                                 "values, which could run code when loaded; refused",
                                 hint=f"{expected} holds tensors and plain values only; only "
                                      "load files you trust with other tools") from None
        raise ModelFileError(f"{what} {path} is not a readable torch file ({first})",
                             hint=f"the file is truncated or not {expected}") from None
    except Exception as err:  # noqa: BLE001 - a hostile file may fail the unpickler anywhere
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelFileError(f"{what} {path} is not a readable torch file ({first})",
                             hint=f"the file is truncated or not {expected}") from None
