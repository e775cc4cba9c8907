"""Checkpoint files: ``model.ckpt-STEP.pt`` plus ``model.ckpt.pt`` pointing at the newest.

A checkpoint is ``torch.save`` of a dict of tensors and plain Python values (no other object, so
it loads with ``torch.load(weights_only=True)``: a checkpoint from a stranger cannot run code)::

    {"format": "deepft-checkpoint", "format_version": 1, "deepft_version": str,
     "config": normalized input (dict), "branches": [names] ("Default" for single task),
     "model": state_dict, "optimizer": state_dict, "step": int (steps completed),
     "rng": {...}, "sampler": {...}}

Every file is written atomically (temp file in the same folder, fsync, rename), so a run killed
at any moment leaves the previous checkpoint intact and loadable. :func:`load_checkpoint` checks
the format, the version and the fields every command reads (config, weights, step), naming the
file and the field; :func:`check_restart_fields` adds the optimizer, RNG and sampler states that
a restart reads.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from pathlib import Path

from deepft import __version__
from deepft._atomic import atomic_write
from deepft.errors import ModelFileError
from deepft.io.model_file import is_model_file
from deepft.io.torch_file import load_weights_only

log = logging.getLogger("deepft.checkpoint")

FORMAT = "deepft-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(state: dict, prefix: str, step: int, max_keep: int) -> Path:
    """Write ``{prefix}-{step}.pt`` and repoint ``{prefix}.pt`` at it; keep ``max_keep`` files."""
    target = Path(f"{prefix}-{step}.pt")
    target.parent.mkdir(parents=True, exist_ok=True)
    write_checkpoint(state, target)
    latest = Path(f"{prefix}.pt")
    tmp_link = latest.with_name(f".{latest.name}.lnk")
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    os.symlink(target.name, tmp_link)
    os.replace(tmp_link, latest)
    for old in list_checkpoints(prefix)[:-max_keep] if max_keep > 0 else []:
        old.unlink(missing_ok=True)
    return target


def _stamped(fields: dict) -> dict:
    """``fields`` under this version's format header (replacing any header they carry)."""
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "deepft_version": __version__}
    return {**header, **{k: v for k, v in fields.items() if k not in header}}


def converted_deepmd_checkpoint(model, *, on_the_fly: bool = True) -> dict:
    """A validated deepft checkpoint holding DeePMD-kit ``model`` (deepft.convert.DeepmdModel);
    ``on_the_fly``: say in the log that a command is using it in place of a deepft file."""
    from deepft.convert.deepmd import deepft_checkpoint

    state = _stamped(deepft_checkpoint(model))
    check_fields(state, model.path)
    if on_the_fly:
        log.info("%s is a DeePMD-kit %s: converted on the fly to deepft's model (same "
                 "weights; `deepft convert-from deepmd` writes the converted file)", model.path,
                 model.kind)
    else:
        log.info("read DeePMD-kit %s %s (step %d)", model.kind, model.path, model.step)
    return state


def write_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    """Write checkpoint fields ``state`` (config, model, step, ...) to ``path`` atomically."""
    import torch

    state = _stamped(state)
    path = Path(path)
    atomic_write(path, lambda fh: torch.save(state, fh))
    return path


def list_checkpoints(prefix: str) -> list[Path]:
    """``{prefix}-STEP.pt`` files sorted by step (oldest first)."""
    pattern = re.compile(re.escape(Path(prefix).name) + r"-(\d+)\.pt$")
    found = []
    for name in glob.glob(f"{glob.escape(prefix)}-*.pt"):
        m = pattern.search(Path(name).name)
        if m:
            found.append((int(m.group(1)), Path(name)))
    return [p for _, p in sorted(found)]


def remove_partial_writes(prefix: str) -> list[Path]:
    """Delete the temp files of checkpoint writes that a killed run left behind
    (``.{prefix}-STEP.pt.XXXX.tmp``, see deepft._atomic); returns them."""
    folder, name = Path(prefix).parent, Path(prefix).name
    leftovers = sorted(folder.glob(f".{glob.escape(name)}*.pt.*.tmp"))
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def newest_complete_checkpoint(prefix: str) -> Path | None:
    """The newest ``{prefix}-STEP.pt`` that loads; None when there is none."""
    for path in reversed(list_checkpoints(prefix)):
        try:
            load_checkpoint(path)
            return path
        except ModelFileError:
            continue
    return None


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load and validate a checkpoint; ModelFileError names the file and what is wrong.

    Loading never executes code from the file (``weights_only=True``); a file that needs it
    (a pickled object other than tensors and plain values) is refused as unsafe. A DeePMD-kit 3
    PyTorch checkpoint or frozen ``model.pth`` is converted on the fly (deepft.convert; said in
    the log): the result is a checkpoint without optimizer state, so every command but
    ``--restart`` takes it.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"checkpoint {path} does not exist",
                             hint="give the path of a model.ckpt-STEP.pt written by deepft train")
    if path.is_dir():
        raise ModelFileError(f"checkpoint {path} is a folder",
                             hint="give the path of a model.ckpt-STEP.pt written by deepft train")
    if is_model_file(path):
        raise ModelFileError(f"{path} is a frozen model (model.dft), not a training checkpoint",
                             hint="pass the checkpoint (.pt) the model was frozen from")
    from deepft.convert.deepmd import from_checkpoint_state, is_deepmd_checkpoint, read_deepmd
    from deepft.convert.torchscript import is_torchscript_archive

    if is_torchscript_archive(path):  # a DeePMD-kit frozen model.pth
        return converted_deepmd_checkpoint(read_deepmd(path))
    state = load_weights_only(path, "checkpoint", "a deepft checkpoint")
    if is_deepmd_checkpoint(state):
        return converted_deepmd_checkpoint(from_checkpoint_state(state, path))
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a deepft checkpoint",
                             hint="give a model.ckpt-STEP.pt written by deepft train (or a "
                                  "DeePMD-kit 3 PyTorch checkpoint or model.pth)")
    version = state.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(f"checkpoint {path} has format version {version!r}; this deepft "
                             f"reads version {FORMAT_VERSION}",
                             hint="use the deepft release that wrote it")
    check_fields(state, path)
    return state


#: field -> (type it must have, what it holds); checked on every load
REQUIRED_FIELDS = {
    "config": (dict, "the normalized training input"),
    "model": (dict, "the model's state dict"),
    "step": (int, "the number of steps completed"),
}


#: field -> what it holds; needed to continue a run (``--restart``)
RESTART_FIELDS = {"optimizer": "the optimizer state", "rng": "the random-number states",
                  "sampler": "the data samplers' states"}


def check_restart_fields(state: dict, path: str | os.PathLike) -> None:
    """ModelFileError naming the first missing or mistyped field a restart reads."""
    for key, what in RESTART_FIELDS.items():
        if not isinstance(state.get(key), dict):
            raise ModelFileError(f"checkpoint {path}: field {key!r} ({what}) is missing or not "
                                 "an object, so the run cannot continue from it",
                                 hint="use another checkpoint, or --init-model to start a new "
                                      "run from its weights")
    for key in ("branch", "torch"):
        if key not in state["rng"]:
            raise ModelFileError(f"checkpoint {path}: field 'rng/{key}' is missing",
                                 hint="use another checkpoint")


def check_fields(state: dict, path: Path) -> None:
    """ModelFileError naming the first missing or mistyped field that deepft reads."""
    import torch

    for key, (kind, what) in REQUIRED_FIELDS.items():
        if key not in state:
            raise ModelFileError(f"checkpoint {path}: field {key!r} ({what}) is missing",
                                 hint="the checkpoint is damaged; use another one")
        if not isinstance(state[key], kind) or isinstance(state[key], bool):
            raise ModelFileError(f"checkpoint {path}: field {key!r} ({what}) is a "
                                 f"{type(state[key]).__name__}, not a {kind.__name__}",
                                 hint="the checkpoint is damaged; use another one")
    model_cfg = state["config"].get("model")
    if not isinstance(model_cfg, dict):
        raise ModelFileError(f"checkpoint {path}: field 'config/model' is missing or not an "
                             "object", hint="the checkpoint is damaged; use another one")
    bad = [k for k, v in state["model"].items()
           if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ModelFileError(f"checkpoint {path}: field 'model' holds non-tensor entries "
                             f"{[str(b) for b in bad[:3]]}",
                             hint="the checkpoint is damaged; use another one")
