"""Everything a run needs before step 0: data per branch, model_prob, sel, statistics.

Single task is the multitask case with one branch named ``Default``:
``deepft.config.branches.task_sections(cfg)`` yields (branch, model section, loss section, data
section) for both.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from deepft.config.branches import task_sections
from deepft.errors import InputError

log = logging.getLogger("deepft.train")


@dataclass
class TaskData:
    """Data of one branch: training and validation samplers and the loss section."""

    train_systems: list
    train: object  # deepft.data.DataSampler
    valid: object | None
    valid_numb_batch: int
    loss_cfg: dict
    stat_file: str | None


def build_tasks(cfg: dict) -> dict[str, TaskData]:
    """Load every branch's systems and build its samplers (seeded from training.seed)."""
    from deepft.data import DataSampler, System, expand_systems

    seed = int(cfg["training"]["seed"] or 0)
    tasks = {}
    for index, (branch, model_cfg, loss_cfg, data_cfg) in enumerate(task_sections(cfg)):
        type_map = model_cfg["type_map"]

        def load(section, *, name, branch=branch, type_map=type_map):
            paths = expand_systems(section["systems"])
            if not paths:
                raise InputError(f"{name}.systems of branch {branch} lists no system",
                                 hint="give folders holding type.raw and set.*/")
            return [System(p, type_map) for p in paths]

        tdata = data_cfg["training_data"]
        train_systems = load(tdata, name="training_data")
        train = DataSampler(train_systems, tdata["batch_size"],
                            sys_probs=tdata["sys_probs"],
                            auto_prob=tdata["auto_prob"],
                            seed=seed + 1000 * index)
        vdata = data_cfg.get("validation_data")
        valid, nbatch = None, 0
        if vdata:
            valid = DataSampler(load(vdata, name="validation_data"),
                                vdata["batch_size"],
                                sys_probs=vdata["sys_probs"],
                                auto_prob=vdata["auto_prob"],
                                seed=seed + 1000 * index + 1)
            nbatch = int(vdata["numb_btch"])
        stat_file = data_cfg.get("stat_file") or cfg["training"].get("stat_file")
        tasks[branch] = TaskData(train_systems, train, valid, nbatch, loss_cfg, stat_file)
    return tasks


def model_probabilities(cfg: dict, tasks: dict[str, TaskData]) -> dict[str, float]:
    """``training.model_prob`` normalized; branches missing from it weigh by their frame count."""
    given = cfg["training"].get("model_prob") or {}
    frames = {b: sum(s.nframes for s in t.train_systems) for b, t in tasks.items()}
    total = sum(frames.values())
    raw = {b: float(given[b]) if b in given else frames[b] / total for b in tasks}
    norm = sum(raw.values())
    if norm <= 0:
        raise InputError("training.model_prob sums to zero", hint="give positive weights")
    return {b: v / norm for b, v in raw.items()}


def resolve_sel(desc_cfg: dict, systems: list, ntypes: int, *, branch: str,
                skip_stat: bool) -> float | None:
    """Fill ``sel: "auto[:ratio]"`` from the data and check explicit sel against it (in place).

    Returns the shortest distance (Å) between two atoms of ``systems`` within rcut (what
    ``deepft compress`` tabulates up to), or None when the statistics were skipped."""
    sel = desc_cfg["sel"]
    if isinstance(sel, list) and skip_stat:
        return None
    from deepft.config.crosscheck import MIXED_TYPE_DESCRIPTORS
    from deepft.data.neighbor_stat import neighbor_stat
    from deepft.progress import Progress

    mixed = desc_cfg["type"] in MIXED_TYPE_DESCRIPTORS  # one count over all neighbor types
    with Progress(sum(s.nframes for s in systems), f"neighbor statistics of branch {branch}",
                  unit="frames") as progress:
        stat = neighbor_stat(systems, float(desc_cfg["rcut"]), one_type=mixed,
                             on_frames=progress.update)
    counts = np.asarray(stat.max_nbor_size, dtype=np.int64)
    shortest = float(stat.min_nbor_dist) if math.isfinite(stat.min_nbor_dist) else None
    if isinstance(sel, str):
        ratio = float(sel.split(":")[1]) if ":" in sel else 1.1
        # DeePMD-kit rounds the scaled count up to a multiple of 4
        desc_cfg["sel"] = [int(math.ceil(ratio * c / 4.0)) * 4 if c else 4 for c in counts]
        log.info("branch %s: sel %s from neighbor statistics (max counts %s)", branch,
                 desc_cfg["sel"], counts.tolist())
        return shortest
    log.info("branch %s: neighbor statistics: max neighbors %s %s, sel %s", branch,
             "in all" if mixed else "per type", counts.tolist(), sel)
    short = [i for i, (c, s) in enumerate(zip(counts, sel, strict=True)) if c > s]
    if short:
        needed = [int(max(c, s)) for c, s in zip(counts, sel, strict=True)]
        per = "in all" if mixed else "per type"
        raise InputError(
            f"model/descriptor/sel {sel} of branch {branch} is too small: the training data has "
            f"atoms with up to {counts.tolist()} neighbors {per} within rcut "
            f"{desc_cfg['rcut']}",
            hint=f"set sel to at least {needed} (or pass --skip-neighbor-stat to train with "
                 "truncated neighborhoods)")
    return shortest


def descriptor_groups(cfg: dict) -> list[list[str]]:
    """Branches grouped by descriptor object: a shared_dict descriptor is one group."""
    branches = [b for b, *_ in task_sections(cfg)]
    links = cfg["model"].get("shared_links") or {}
    groups, seen = [], set()
    for entries in links.values():
        members = [e.split("/", 1)[0] for e in entries if e.split("/", 1)[1] == "descriptor"]
        if members:
            groups.append(members)
            seen.update(members)
    return groups + [[b] for b in branches if b not in seen]


def resolve_all_sel(cfg: dict, tasks: dict[str, TaskData], *, skip_stat: bool
                    ) -> dict[str, float]:
    """Resolve/check ``sel`` once per descriptor over the union of the data that uses it.

    Returns branch -> the shortest neighbor distance (Å) of the data its descriptor was checked
    on (the branches whose statistics ran)."""
    sections = {b: m for b, m, *_ in task_sections(cfg)}
    shortest: dict[str, float] = {}
    for group in descriptor_groups(cfg):
        systems = [s for b in group for s in tasks[b].train_systems]
        first = sections[group[0]]
        dist = resolve_sel(first["descriptor"], systems, len(first["type_map"]),
                           branch=",".join(group), skip_stat=skip_stat)
        for b in group[1:]:
            sections[b]["descriptor"]["sel"] = first["descriptor"]["sel"]
        if dist is not None:
            shortest.update(dict.fromkeys(group, dist))
    return shortest
