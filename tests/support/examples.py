"""The multitask and fine-tuning examples, shrunk for tests (tiny nets, short runs, absolute
data paths); their structure (branches, shared descriptor, data, methods) is kept."""

from __future__ import annotations

import json
from pathlib import Path

from support.paths import EXAMPLES

SMALL_DESCRIPTOR = {"neuron": [4, 8], "axis_neuron": 4}
SMALL_FITTING = [8, 8]


def _fix_paths(section: dict, data_root: Path) -> None:
    for key in ("training_data", "validation_data"):
        if not section.get(key):
            continue
        systems = section[key]["systems"]

        def fix(s: str) -> str:
            return s.replace("../data", str(data_root))

        section[key]["systems"] = [fix(s) for s in systems] if isinstance(systems, list) \
            else fix(systems)
        if key == "validation_data":
            section[key]["numb_btch"] = 1
    section.pop("stat_file", None)


def _shrink_model(model: dict) -> None:
    for value in model.get("shared_dict", {}).values():
        if isinstance(value, dict):
            value.update(SMALL_DESCRIPTOR)
    if "descriptor" in model:
        model["descriptor"].update(SMALL_DESCRIPTOR)
        model["fitting_net"]["neuron"] = list(SMALL_FITTING)
    for branch in model.get("model_dict", {}).values():
        if isinstance(branch.get("fitting_net"), dict):
            branch["fitting_net"]["neuron"] = list(SMALL_FITTING)
    model["data_stat_nbatch"] = 1


def shrunk(relpath: str, data_root: Path, numb_steps: int = 20, disp_freq: int = 10) -> dict:
    """examples/<relpath> with tiny nets, ``numb_steps`` steps and absolute data paths."""
    cfg = json.loads((EXAMPLES / relpath).read_text())
    _shrink_model(cfg["model"])
    tr = cfg["training"]
    tr.update(numb_steps=numb_steps, disp_freq=disp_freq, save_freq=numb_steps)
    sections = tr["data_dict"].values() if "data_dict" in tr else [tr]
    for section in sections:
        _fix_paths(section, data_root)
    return cfg
