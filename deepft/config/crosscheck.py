"""Checks that involve several keys, run on the normalized (checked, defaults filled) config."""

from __future__ import annotations

import difflib

from deepft.config.check import Checker, Path
from deepft.config.multitask import check_links


def check_all(cfg: dict, chk: Checker, multi_task: bool) -> None:
    """All cross-field checks of a normalized config; fixes up ``stage_splits`` in place."""
    numb_steps = cfg["training"]["numb_steps"]
    training = cfg["training"]
    check_models(cfg["model"], chk, multi_task)
    if multi_task:
        branches = list(cfg["model"]["model_dict"])
        check_branch_map(cfg["loss_dict"], branches, chk, ("loss_dict",), "loss")
        check_branch_map(training["data_dict"], branches, chk, ("training", "data_dict"),
                         "data section (training_data, ...)")
        for b, loss in cfg["loss_dict"].items():
            check_stages(loss, numb_steps, chk, ("loss_dict", b))
            check_loss_terms(loss, chk, ("loss_dict", b))
        for b, data in training["data_dict"].items():
            check_data(data, chk, ("training", "data_dict", b))
        check_model_prob(training["model_prob"], branches, chk)
    else:
        check_stages(cfg["loss"], numb_steps, chk, ("loss",))
        check_loss_terms(cfg["loss"], chk, ("loss",))
        check_data(training, chk, ("training",))
    if numb_steps > 0 and training["warmup_steps"] >= numb_steps:
        raise chk.fail(f"training/warmup_steps ({training['warmup_steps']}) must be smaller "
                       f"than training/numb_steps ({numb_steps})", hint="shorten the warmup")


def check_models(model: dict, chk: Checker, multi_task: bool) -> None:
    """Cross-field checks of the ``model`` section (every branch's, and the shared links)."""
    if not multi_task:
        check_model(model, chk, ("model",))
        return
    for b, section in model["model_dict"].items():
        check_model(section, chk, ("model", "model_dict", b))
    check_links(model, chk)


#: descriptors with one neighbor list for all types (sel is one number)
MIXED_TYPE_DESCRIPTORS = ("dpa1", "se_atten_v2")


def settle_dpa1(desc: dict) -> None:
    """DPA-1 spellings to one form (in place): ``sel`` an int or list -> ``[sum]``;
    ``stripped_type_embedding`` (deprecated) -> ``tebd_input_mode``; ``ln_eps`` null -> 1e-5."""
    sel = desc["sel"]
    if isinstance(sel, int):
        desc["sel"] = [sel]
    elif isinstance(sel, list):
        desc["sel"] = [int(sum(sel))]
    stripped = desc.pop("stripped_type_embedding", None)
    if stripped is not None:
        desc["tebd_input_mode"] = "strip" if stripped else "concat"
    if desc.get("ln_eps") is None:
        desc["ln_eps"] = 1e-5


def check_model(model: dict, chk: Checker, path: Path) -> None:
    desc, fit = model["descriptor"], model["fitting_net"]

    def at(*keys: str) -> str:
        return chk.show_path(path + keys)

    if not desc["rcut_smth"] < desc["rcut"]:
        raise chk.fail(f"{at('descriptor', 'rcut_smth')} ({desc['rcut_smth']}) must be smaller "
                       f"than {at('descriptor', 'rcut')} ({desc['rcut']})",
                       hint="smoothing starts at rcut_smth and ends at rcut, e.g. 0.5 and 6.0")
    if desc["type"] in MIXED_TYPE_DESCRIPTORS:
        settle_dpa1(desc)
    sel, ntypes = desc["sel"], len(model["type_map"])
    if isinstance(sel, list) and len(sel) != ntypes and desc["type"] == "se_e2_a":
        tmap = at("type_map")
        raise chk.fail(f"{at('descriptor', 'sel')} has {len(sel)} entries but {tmap} has "
                       f"{ntypes} types", hint="give one neighbor count per type, or \"auto\"")
    if desc["axis_neuron"] > desc["neuron"][-1]:
        raise chk.fail(f"{at('descriptor', 'axis_neuron')} ({desc['axis_neuron']}) must not "
                       f"exceed the last embedding width {at('descriptor', 'neuron')}[-1] "
                       f"({desc['neuron'][-1]})",
                       hint="lower axis_neuron or widen the embedding net")
    trainable = fit["trainable"]
    if isinstance(trainable, list) and len(trainable) != len(fit["neuron"]) + 1:
        raise chk.fail(f"{at('fitting_net', 'trainable')} has {len(trainable)} entries; it "
                       f"needs len(neuron) + 1 = {len(fit['neuron']) + 1} (hidden layers + "
                       "output)", hint="or give one bool for the whole fitting net")


def check_data(section: dict, chk: Checker, path: Path) -> None:
    """``training_data``/``validation_data`` of one branch (``section`` holds both)."""
    for name in ("training_data", "validation_data"):
        data = section.get(name)
        if data is None:
            continue
        where = chk.show_path(path + (name, "systems"))
        systems = data["systems"]
        entries = [systems] if isinstance(systems, str) else systems
        if not entries or not all(s.strip() for s in entries):
            raise chk.fail(f"{where} is empty", hint="give a system folder or a list of them")
        # sys_probs / batch_size lists count the systems found under these paths: checked by
        # deepft.data once the folders are expanded


def check_branch_map(section: dict, branches: list[str], chk: Checker, path: Path,
                     what: str) -> None:
    """``section`` (loss_dict or data_dict) has exactly one entry per model branch."""
    where = "/".join(path)
    for b in branches:
        if b not in section:
            raise chk.fail(f"branch {b!r} of model/model_dict has no {where} entry",
                           hint=f"add {where}/{b} with its {what}")
    for name in section:
        if name not in branches:
            raise chk.fail(f"{where}/{name} names no branch of model/model_dict"
                           f"{guess(name, branches)}", hint=f"branches: {', '.join(branches)}")


def check_model_prob(model_prob: dict, branches: list[str], chk: Checker) -> None:
    for name in model_prob:
        if name not in branches:
            raise chk.fail(f"training/model_prob names unknown branch {name!r}"
                           f"{guess(name, branches)}",
                           hint=f"valid branches: {', '.join(branches)}")
    if model_prob and len(model_prob) == len(branches) and sum(model_prob.values()) <= 0:
        raise chk.fail("training/model_prob weights sum to zero",
                       hint="give at least one positive weight")


LOSS_TERMS = ("e", "f", "v", "ae", "pf")


def check_loss_terms(loss: dict, chk: Checker, path: Path) -> None:
    """At least one loss term must contribute: with every prefactor zero nothing would train."""
    used = [t for t in LOSS_TERMS
            if loss.get(f"start_pref_{t}", 0.0) or loss.get(f"limit_pref_{t}", 0.0)]
    if not used and not loss.get("stage_splits"):
        where = "/".join(path)
        raise chk.fail(f"{where}: every start_pref_* and limit_pref_* is zero, so the loss is "
                       "always zero and nothing would train",
                       hint="set e.g. start_pref_e, limit_pref_e, start_pref_f, limit_pref_f")


def check_stages(loss: dict, numb_steps: int, chk: Checker, path: Path) -> None:
    """Turn ``fraction`` into ``start_step``, sort, and check the stages (in place)."""
    stages = []
    for i, stage in enumerate(loss.get("stage_splits", [])):
        where = "/".join(path + ("stage_splits", str(i)))
        if ("start_step" in stage) == ("fraction" in stage):
            raise chk.fail(f"{where} needs exactly one of start_step and fraction",
                           hint="e.g. {\"fraction\": 0.5, \"pref_e\": 1, \"pref_f\": 1}")
        start = stage.get("start_step")
        if start is None:
            start = int(round(stage["fraction"] * numb_steps))
        if numb_steps > 0 and start >= numb_steps:
            raise chk.fail(f"{where} starts at step {start}, not before training/numb_steps "
                           f"({numb_steps}), so it would never apply", hint="start it earlier")
        stages.append({"start_step": start, "pref_e": stage["pref_e"],
                       "pref_f": stage["pref_f"]})
    stages.sort(key=lambda s: s["start_step"])
    for a, b in zip(stages, stages[1:], strict=False):
        if a["start_step"] == b["start_step"]:
            raise chk.fail(f"{'/'.join(path + ('stage_splits',))}: two stages start at step "
                           f"{a['start_step']}", hint="give each stage its own start")
    if "stage_splits" in loss:
        loss["stage_splits"] = stages


def guess(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
