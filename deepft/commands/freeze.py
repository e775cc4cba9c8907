"""``deepft freeze``: a training checkpoint (``.pt``) -> a frozen model (``model.dft``).

The checkpoint's model is rebuilt with its weights and fine-tuning structure, LoRA adapters are
folded into plain weights (deepft.checkpoint.frozen_ready_model), and every branch (or the one
asked for) is written through deepft.io (a descriptor shared by several branches once).
"""

from __future__ import annotations

import logging
import math
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
    from deepft.checkpoint import load_checkpoint

    output = check_output_file(output, "-o")
    return freeze_checkpoint(load_checkpoint(checkpoint), checkpoint, output,
                             model_branch=model_branch)


def freeze_checkpoint(ckpt: dict, source: str | os.PathLike, output: Path, *,
                      model_branch: str | None = None) -> Path:
    """Write loaded checkpoint ``ckpt`` (read from ``source``) to ``output`` (model.dft)."""
    from deepft.checkpoint import frozen_ready_model
    from deepft.io.export import model_to_file_contents
    from deepft.io.model_file import write_model_file
    from deepft.model.structure import branch_models

    model = frozen_ready_model(ckpt, source)
    branches = branch_models(model)
    if model_branch is not None:
        if model_branch not in branches:
            raise InputError(f"--model-branch {model_branch!r} is not a branch of {source}; "
                             f"its branches are {list(branches)}",
                             hint="pass one of the listed branch names (or none for all)")
        branches = {model_branch: branches[model_branch]}
    header, tensors = model_to_file_contents(model, branches, ckpt["config"])
    recorded = ckpt.get("min_nbor_dist")  # {branch: Å}: training or DeePMD-kit statistics
    for name, dist in (recorded.items() if isinstance(recorded, dict) else ()):
        if name in header["branches"] and isinstance(dist, float) and 0 < dist < math.inf:
            header["branches"][name]["min_nbor_dist"] = dist  # Å, for deepft compress
    path = write_model_file(output, header, tensors)
    log.info("froze %s (branches %s) into %s", source, list(branches), path)
    return path
