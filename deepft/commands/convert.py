"""``deepft convert-from deepmd``: a DeePMD-kit 3 PyTorch model -> a deepft checkpoint or model.dft.

The input is a DeePMD-kit training checkpoint (``model.ckpt-N.pt``; single-task or multitask)
or frozen model (``model.pth``), read without DeePMD-kit and without running code from the file
(deepft.convert). The output is chosen by its suffix: ``.pt`` a deepft checkpoint with every
branch (for ``--finetune``, ``--init-model``, ``show``, ``test``, ``change-bias``; it has no
optimizer state, so not for ``--restart``), ``.dft`` a frozen model (all branches, or the one
``model_branch`` names) for the native core, ASE and LAMMPS.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from deepft.commands._paths import check_output_file
from deepft.errors import InputError

log = logging.getLogger("deepft.convert")

SUFFIXES = (".pt", ".dft")


def convert_from_deepmd(source: str | os.PathLike, output: str | os.PathLike, *,
                        model_branch: str | None = None) -> Path:
    """Write ``output`` (``.pt`` checkpoint or ``.dft`` model) from DeePMD-kit file ``source``."""
    from deepft.checkpoint import write_checkpoint
    from deepft.checkpoint.files import converted_deepmd_checkpoint
    from deepft.commands.freeze import freeze_checkpoint
    from deepft.convert import read_deepmd

    suffix = Path(output).suffix
    if suffix not in SUFFIXES:
        raise InputError(f"-o {output}: the output must end in .pt (a deepft checkpoint) or "
                         ".dft (a frozen model)", hint="e.g. -o model.pt or -o model.dft")
    if suffix == ".pt" and model_branch is not None:
        raise InputError("--model-branch selects the branch of a .dft output; a .pt "
                         "checkpoint keeps every branch", hint="drop --model-branch or write .dft")
    output = check_output_file(output, "-o")
    state = converted_deepmd_checkpoint(read_deepmd(source), on_the_fly=False)
    if suffix == ".dft":
        return freeze_checkpoint(state, source, output, model_branch=model_branch)
    path = write_checkpoint(state, output)
    log.info("wrote deepft checkpoint %s (branches %s)", path,
             list(state["config"]["model"].get("model_dict", ["Default"])))
    return path
