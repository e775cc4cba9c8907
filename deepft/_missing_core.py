"""Why ``deepft._core`` (the compiled C++ extension) cannot be imported, and what to do.

The usual cause: Python runs in a source checkout (the repository root is the current folder,
which comes first on ``sys.path``), so ``import deepft`` finds the checkout's ``deepft/`` that
has no compiled module, not the installed package that has one.
"""

from __future__ import annotations

import importlib.machinery
import importlib.metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _has_core(folder: Path) -> bool:
    return any(folder.glob(f"_core{suffix}")
               for suffix in importlib.machinery.EXTENSION_SUFFIXES)


def installed_package() -> Path | None:
    """The folder of an installed deepft distribution other than this one that holds the
    compiled module, or None."""
    try:
        dist = importlib.metadata.distribution("deepft")
    except importlib.metadata.PackageNotFoundError:
        return None
    folder = Path(dist.locate_file("deepft")).resolve()
    if folder == HERE or not folder.is_dir() or not _has_core(folder):
        return None
    return folder


def missing_core_message() -> str:
    """One paragraph: what happened and the three ways out."""
    checkout = (HERE.parent / "pyproject.toml").is_file()
    what = f"cannot import deepft._core, the compiled C++ extension: the deepft package at " \
           f"{HERE} does not hold it"
    installed = installed_package()
    if installed is not None:
        what += (f". That folder is {'a source checkout' if checkout else 'a copy of deepft'} "
                 f"which shadows the installed deepft at {installed} (which holds the compiled "
                 f"module), because Python looks in the current folder first")
    elif checkout:
        what += " (a source checkout in which the extension was not built)"
    where = "the repository root" if checkout else str(HERE.parent)
    first = f"run Python from another folder than {where}" if installed is not None else \
        f"install deepft (pip install .) and run Python from another folder than {where}"
    fixes = [first, "or install deepft in editable mode: pip install -e .",
             "or build the extension into the checkout: tools/dev_build.sh"]
    return f"{what}. To fix it: {', '.join(fixes)}."
