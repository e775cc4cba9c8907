"""``deepft freeze``: a training checkpoint (``.pt``) -> a frozen model (``model.dft``).

The checkpoint's model is rebuilt with its weights and fine-tuning structure, LoRA adapters are
folded into plain weights (deepft.checkpoint.frozen_ready_model), and every branch (or the one
asked for) is written through deepft.io (a descriptor shared by several branches once).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from deepft.commands._paths import check_output_file
from deepft.errors import InputError

log = logging.getLogger("deepft.freeze")


def freeze(checkpoint: str | os.PathLike, output: str | os.PathLike = "model.dft", *,
           model_branch: str | None = None) -> Path:
    """Write ``output`` (model.dft) from ``checkpoint``; returns its path.

    ``model_branch``: freeze only this branch of a multitask checkpoint (default: all branches).
    """
    from deepft.checkpoint import frozen_ready_model, load_checkpoint
    from deepft.io.export import model_to_file_contents
    from deepft.io.model_file import write_model_file
    from deepft.model.structure import branch_models

    output = check_output_file(output, "-o")
    ckpt = load_checkpoint(checkpoint)
    model = frozen_ready_model(ckpt, checkpoint)
    branches = branch_models(model)
    if model_branch is not None:
        if model_branch not in branches:
            raise InputError(f"--model-branch {model_branch!r} is not a branch of {checkpoint}; "
                             f"its branches are {list(branches)}",
                             hint="pass one of the listed branch names (or none for all)")
        branches = {model_branch: branches[model_branch]}
    header, tensors = model_to_file_contents(model, branches, ckpt["config"])
    path = write_model_file(output, header, tensors)
    log.info("froze %s (branches %s) into %s", checkpoint, list(branches), path)
    return path
