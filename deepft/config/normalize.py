"""``normalize``: raw input dict -> checked config with every default filled.

Steps (DeePMD-kit's ``normalize -> check_value(strict=True) -> cross-field checks``, with
deepft's messages): drop comment keys; for a multitask input, resolve ``shared_dict``
references (deepft.config.multitask); check every key against the dargs schema while filling
defaults (deepft.config.check); cross-field checks (deepft.config.crosscheck). The result
re-normalizes to itself, so a written ``out.json`` can be read back.
"""

from __future__ import annotations

from copy import deepcopy

from dargs import Argument
from dargs.dargs import ArgumentError

from deepft.config import schema
from deepft.config.branches import is_multitask, model_sections, section_path
from deepft.config.check import Checker, Path
from deepft.config.crosscheck import check_all, check_models
from deepft.config.multitask import resolve_shared
from deepft.errors import InputError

# dicts whose keys are user-chosen names: only "_comment*" keys are dropped there
NAME_MAPS = {("model", "shared_dict"), ("model", "model_dict"), ("model", "shared_links"),
             ("loss_dict",), ("training", "data_dict"), ("training", "model_prob")}


def strip_comments(value, path: Path = ()):
    """Copy of ``value`` without comment keys: keys starting with ``_`` (DeePMD-kit trims
    ``_*``), or, in dicts keyed by branch/shared names, keys starting with ``_comment``."""
    if isinstance(value, dict):
        prefix = "_comment" if path in NAME_MAPS else "_"
        return {k: strip_comments(v, path + (k,)) for k, v in value.items()
                if not (isinstance(k, str) and k.startswith(prefix))}
    if isinstance(value, list):
        return [strip_comments(v, path) for v in value]
    return value


def normalize(raw: dict, source: str = "input.json") -> dict:
    """Checked copy of ``raw`` with defaults filled; raises InputError naming the key path."""
    if not isinstance(raw, dict):
        raise InputError(f"{source}: the input must be a JSON object, got {type(raw).__name__}",
                         hint="start the file with { and give model, learning_rate, loss and "
                              "training")
    cfg, chk = _resolved(raw, source)
    multi = is_multitask(cfg)
    root = schema.root(multi)
    out = chk.dict(root, cfg, ())
    check_all(out, chk, multi)
    apply_training_precision(out)
    try:  # the checker above is stricter; this only guards against the two drifting apart
        root.check_value(out, strict=True)
    except ArgumentError as err:
        raise InputError(f"{source}: {err.path or 'input'}: {err.message}",
                         hint="run `deepft doc-train-input` for every key") from None
    return out


def normalize_model(model: dict, source: str) -> dict:
    """Checked copy of a model section on its own (single-task or multitask, ``shared_dict``
    references resolved), defaults filled: what :func:`normalize` returns as ``cfg["model"]``.
    For a model that comes without a training input (converted from another tool's file)."""
    cfg, chk = _resolved({"model": model}, source)
    multi = is_multitask(cfg)
    out = chk.dict(Argument("input", dict, [schema.model_argument(multi)]), cfg, ())
    check_models(out["model"], chk, multi)
    return out["model"]


def _resolved(raw: dict, source: str) -> tuple[dict, Checker]:
    """``raw`` without comments and with ``shared_dict`` references resolved, and the Checker
    whose messages name the shared_dict path of a resolved component."""
    cfg = strip_comments(deepcopy(raw))
    origins: dict[Path, Path] = {}
    chk = Checker(source, lambda path: remap(path, origins))
    if is_multitask(cfg):
        resolved = resolve_shared(cfg["model"], chk)
        cfg["model"] = resolved.model
        origins.update(resolved.origins)
    return cfg, chk


def remap(path: Path, origins: dict[Path, Path]) -> tuple[Path, str | None]:
    """Inside a component copied from shared_dict: (its shared_dict path, the branch)."""
    for n in range(len(path), 0, -1):
        origin = origins.get(path[:n])
        if origin is not None:
            return origin + path[n:], path[2]
    return path, None


def training_precision(cfg: dict) -> str | None:
    """Parameter precision that ``training/precision`` asks for (tf32 -> float32), or None."""
    wanted = cfg["training"].get("precision")
    return "float32" if wanted == "tf32" else wanted


def apply_training_precision(cfg: dict) -> None:
    """``training/precision`` overrides ``precision`` of every descriptor and fitting net."""
    wanted = training_precision(cfg)
    if wanted is None:
        return
    for section in model_sections(cfg).values():
        for part in ("descriptor", "fitting_net"):
            section[part]["precision"] = wanted


def check_training_precision(cfg: dict, model: dict, source: str) -> None:
    """InputError when ``model`` (a model section taken from checkpoint ``source`` by a
    restart, --init-model or --use-pretrain-script) has another precision than
    ``training/precision`` asks for."""
    wanted = training_precision(cfg)
    if wanted is None:
        return
    taken = {"model": model}
    wrong = [f"{section_path(taken, b)}/{part}/precision is {section[part]['precision']}"
             for b, section in model_sections(taken).items()
             for part in ("descriptor", "fitting_net")
             if section[part].get("precision", "float64") != wanted]
    if wrong:
        raise InputError(f"training/precision is {cfg['training']['precision']} but in "
                         f"{source} " + "; ".join(wrong),
                         hint="remove training/precision (the checkpoint's precision is used), "
                              "or start from a checkpoint trained in that precision")
