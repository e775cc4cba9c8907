"""Multitask resolution: ``shared_dict`` references -> full branch sections + ``shared_links``.

Input (DeePMD-kit 3, ``deepmd/pt/utils/multi_task.py``)::

    "model": {"shared_dict": {"type_map_all": ["O", "H"], "my_descr": {...}, "my_fit": {...}},
              "model_dict": {"water_1": {"type_map": "type_map_all", "descriptor": "my_descr",
                                         "fitting_net": {...}},
                             "water_2": {"type_map": "type_map_all", "descriptor": "my_descr",
                                         "fitting_net": "my_fit"}},
              "data_stat_nbatch": 20}

Output (normalized)::

    "model": {"model_dict": {"water_1": {full section}, "water_2": {full section}},
              "shared_links": {"my_descr": ["water_1/descriptor", "water_2/descriptor"],
                               "my_fit": ["water_2/fitting_net"]}}

A string value ``"name"`` (or ``"name:0"``) of ``type_map``, ``descriptor`` or ``fitting_net``
is replaced by a copy of ``shared_dict[name]``. Descriptor and fitting-net references are
recorded in ``shared_links`` (the trainer builds ONE module per entry); type maps are plain
values (every branch must end with the same one). DeePMD-kit's partial sharing levels
(``"name:1"``...) are not supported. Keys written directly under ``model`` apply to every branch
that does not set them (DeePMD-kit 3.2's top-level cascade). A ``shared_links`` already present
(a normalized input read back) is kept and merged, so normalization is idempotent.
"""

from __future__ import annotations

import difflib
from copy import deepcopy
from dataclasses import dataclass, field

from deepft.branches import RANDOM_BRANCH
from deepft.config.check import Checker, Path, kind, show

SHARABLE = ("type_map", "descriptor", "fitting_net")
LINKED = ("descriptor", "fitting_net")
MODEL_KEYS = ("model_dict", "shared_dict", "shared_links")


@dataclass
class Resolved:
    """The multitask model section after resolution, and where shared components came from."""

    model: dict
    origins: dict[Path, Path] = field(default_factory=dict)


def resolve_shared(model: dict, chk: Checker) -> Resolved:
    """Replace shared_dict references in ``model`` (a multitask model section, not modified)."""
    branches = model["model_dict"]
    if not isinstance(branches, dict) or not branches:
        raise chk.fail("model/model_dict must be an object with at least one branch, got "
                       f"{kind(branches)} {show(branches)}",
                       hint="give branch name -> model section")
    shared = model.get("shared_dict") or {}
    if not isinstance(shared, dict):
        raise chk.fail(f"model/shared_dict must be an object, got {kind(shared)} {show(shared)}")
    cascade = {k: v for k, v in model.items() if k not in MODEL_KEYS}
    out = Resolved({"model_dict": {}, "shared_links": {}})
    links = out.model["shared_links"]
    for branch, section in branches.items():
        where = ("model", "model_dict", branch)
        check_branch_name(branch, chk, where)
        if not isinstance(section, dict):
            raise chk.fail(f"{'/'.join(where)} must be an object, got {kind(section)} "
                           f"{show(section)}")
        section = deepcopy(section)
        for key, value in cascade.items():
            section.setdefault(key, deepcopy(value))
        for comp in SHARABLE:
            ref = section.get(comp)
            if not isinstance(ref, str):
                continue
            name = parse_reference(ref, shared, chk, where + (comp,))
            section[comp] = deepcopy(shared[name])
            out.origins[where + (comp,)] = ("model", "shared_dict", name)
            if comp in LINKED:
                links.setdefault(name, []).append(f"{branch}/{comp}")
        out.model["model_dict"][branch] = section
    merge_links(links, model.get("shared_links"), out.model["model_dict"], chk)
    return out


def check_branch_name(branch: str, chk: Checker, where: Path) -> None:
    if branch == RANDOM_BRANCH:
        raise chk.fail(f"{'/'.join(where)}: the branch name {RANDOM_BRANCH} is reserved (it "
                       "means a randomly initialized fitting net in fine-tuning)",
                       hint="rename the branch")
    if not branch or "/" in branch:
        raise chk.fail(f"model/model_dict: invalid branch name {branch!r}",
                       hint="use a non-empty name without '/'")


def parse_reference(ref: str, shared: dict, chk: Checker, where: Path) -> str:
    """The shared_dict key named by ``"name"`` or ``"name:0"``."""
    name, sep, level = ref.partition(":")
    path = "/".join(where)
    if sep and level.strip() != "0":
        raise chk.fail(f"{path} = {ref!r}: sharing level {level!r} is not supported, only "
                       "level 0 (share every parameter)",
                       hint=f"write {name!r} (or give this branch its own {where[-1]})")
    if name not in shared:
        close = difflib.get_close_matches(name, list(shared), n=1)
        guess = f" (did you mean {close[0]!r}?)" if close else ""
        have = ", ".join(shared) if shared else "none"
        raise chk.fail(f"{path} = {ref!r} names no model/shared_dict entry{guess}",
                       hint=f"shared_dict entries: {have}")
    return name


def merge_links(links: dict[str, list[str]], given, branches: dict, chk: Checker) -> None:
    """Add a ``shared_links`` read from the input (a normalized config) to ``links``."""
    if given is None:
        return
    if not isinstance(given, dict) or not all(
            isinstance(v, list) and all(isinstance(e, str) for e in v) for v in given.values()):
        raise chk.fail(f"model/shared_links must map names to lists of \"branch/component\" "
                       f"strings, got {show(given)}")
    for name, entries in given.items():
        for entry in entries:
            branch, _, comp = entry.partition("/")
            if branch not in branches or comp not in LINKED:
                raise chk.fail(f"model/shared_links/{name}: {entry!r} is not "
                               "\"branch/descriptor\" or \"branch/fitting_net\" of a branch in "
                               "model/model_dict", hint=f"branches: {', '.join(branches)}")
            members = links.setdefault(name, [])
            if entry not in members:
                members.append(entry)
    owner: dict[str, str] = {}
    for name, entries in links.items():
        for entry in entries:
            if entry in owner and owner[entry] != name:
                raise chk.fail(f"model/shared_links: {entry} is linked to both "
                               f"{owner[entry]!r} and {name!r}", hint="keep one of them")
            owner[entry] = name


def check_links(model: dict, chk: Checker) -> None:
    """Every component of one shared_links entry must hold the same (normalized) dict."""
    branches = model["model_dict"]
    for name, entries in model.get("shared_links", {}).items():
        first = None
        for entry in entries:
            branch, _, comp = entry.partition("/")
            value = branches[branch][comp]
            if first is None:
                first = (entry, value)
            elif value != first[1]:
                diff = sorted(k for k in set(value) | set(first[1])
                              if value.get(k) != first[1].get(k))
                raise chk.fail(f"model/shared_links/{name}: {first[0]} and {entry} share one "
                               f"module but differ in {', '.join(diff)}",
                               hint="make them equal or remove the link")
    maps = {b: s["type_map"] for b, s in branches.items()}
    distinct = {tuple(v) for v in maps.values()}
    if len(distinct) > 1:
        shown = "; ".join(f"{b}: {v}" for b, v in maps.items())
        raise chk.fail(f"model/model_dict: branches have different type_map ({shown})",
                       hint="use one type_map for all branches (a shared_dict entry)")
