"""``deepft train INPUT --finetune PRETRAINED.pt``: start a run from a pretrained checkpoint.

What each branch of the new model starts from (DeePMD-kit 3 rules, docs/deepmd-compatibility.md):

* single-task input: the fitting net of pretrained branch ``--model-branch`` (else the input's
  ``finetune_head``, else ``training.finetune.from_branch`` for ``method: inherit``). A
  single-task pretrained model is inherited whole (``--model-branch`` empty or ``Default``); from
  a multitask one a branch must be named. ``RANDOM`` (or no branch on a multitask checkpoint,
  with a warning) gives a fresh fitting net with a set-by-statistic bias.
* multitask input, per branch: ``finetune_head: X`` starts from pretrained branch X; a branch
  whose name exists in the checkpoint resumes from it (weights copied, bias unchanged); any other
  starts fresh (``RANDOM``), or from ``from_branch`` with ``method: inherit``.
* the descriptor is always inherited (from the fitting's source branch; the first pretrained
  branch for a fresh fitting). Branches sharing a descriptor get one copy.

Without ``--use-pretrain-script`` the input's descriptor/fitting_net must equal the pretrained
ones (``sel``, ``seed`` and ``trainable`` aside); a mismatch is an error listing the keys. With
it, those sections are copied from the checkpoint (the input's ``type_map`` stays).

Type map: the input's type_map may drop, add or reorder elements (deepft.model.type_map). Known
elements keep weights, statistics, bias and ``sel``; new elements get fresh nets, statistics from
the new data (their rows only) and a least-squares bias. Then, before step 0, the energy bias is
refit on the new data (deepft.train.bias, ``training.finetune.bias_mode``) and the method's
structure/trainability is applied (deepft.train.finetune_methods).
"""

from __future__ import annotations

import logging
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path

import torch

from deepft.config import branch_names, is_multitask
from deepft.config.normalize import check_training_precision, model_sections
from deepft.errors import InputError, ModelFileError
from deepft.train import finetune_methods as fm
from deepft.train.bias import BiasChange, refit_bias
from deepft.train.checkpoint import load_checkpoint
from deepft.train.setup import descriptor_groups

log = logging.getLogger("deepft.train")

RANDOM = "RANDOM"
DESCRIPTOR_FREE = ("sel", "seed", "trainable")  # may differ from the pretrained descriptor
FITTING_FREE = ("seed", "trainable")


@dataclass
class BranchPlan:
    """Where one branch of the new model starts from."""

    target: str
    source: str | None  # pretrained branch of the fitting net; None: fresh (RANDOM)
    descriptor_from: str  # pretrained branch whose descriptor is inherited
    resume: bool = False  # same-named branch of a multitask checkpoint: no bias change

    def describe(self) -> str:
        if self.source is None:
            return (f"fresh fitting net (RANDOM), descriptor of pretrained branch "
                    f"{self.descriptor_from}")
        verb = "resumes" if self.resume else "inherits"
        return f"{verb} pretrained branch {self.source}"


@dataclass
class FinetuneReport:
    """What prepare_finetune did; ``apply_to`` checks and logs it once the Trainer exists."""

    pretrained: str
    method: dict
    plans: dict[str, BranchPlan]
    bias_changes: list[BiasChange] = field(default_factory=list)
    record: dict = field(default_factory=dict)

    def apply_to(self, trainer) -> None:
        """Check that the optimizer holds exactly the trainable parameters; log the summary."""
        trainable, total = fm.parameter_summary(trainer.model)
        in_optimizer = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
        expected = {id(p) for p in trainer.model.parameters() if p.requires_grad}
        if in_optimizer != expected:
            raise RuntimeError("fine-tuning: the optimizer does not hold exactly the trainable "
                               "parameters (the model was changed after the Trainer was built)")
        log.info("fine-tuning from %s, method %s: %d of %d parameters train", self.pretrained,
                 self.method.get("method", "full"), trainable, total)


# ---- entry ----------------------------------------------------------------------------------
def prepare_finetune(cfg: dict, tasks: dict, args) -> tuple[torch.nn.Module, FinetuneReport]:
    """Model for step 0 of a fine-tuning run (``cfg`` is updated in place: resolved sections,
    final ``sel`` and the ``model/_finetune`` record)."""
    from deepft.train.statistics import stat_samples

    path = str(args.finetune)
    state = load_pretrained(path)
    pre_cfg = state["config"]
    pre_model = pretrained_model(state, path)
    method = dict(cfg["training"].get("finetune") or {"method": "full"})
    method.setdefault("method", "full")
    plans = plan_branches(cfg, pre_cfg, args, method)
    for plan in plans.values():
        log.info("fine-tuning: branch %s %s", plan.target, plan.describe())
    sections = model_sections(cfg)
    pre_sections = model_sections(pre_cfg)
    if args.use_pretrain_script:
        adopt_pretrained(cfg, sections, pre_sections, plans)
        check_training_precision(cfg, cfg["model"], f"the pretrained model {path}")
    else:
        check_match(sections, pre_sections, plans, args.INPUT, path)
    model = assemble(cfg, sections, pre_model, plans)
    samples = stat_samples(cfg, tasks)
    fill_new_type_stats(model, cfg, samples)
    report = FinetuneReport(path, method, plans)
    fresh = [f"{b}/fitting_net" for b, p in plans.items() if p.source is None]
    fm.set_config_trainability(model, sections)
    heads = apply_structure(model, cfg, method, plans)
    fm.set_trainability(model, method, fresh)
    report.bias_changes = refit_biases(model, plans, samples, method)
    report.record = {
        "pretrained": path, "method": method,
        "branches": {b: p.source or RANDOM for b, p in plans.items()},
        "fresh": fresh, "new_head": heads, "lora": lora_record(cfg, method),
    }
    cfg["model"][fm.RECORD_KEY] = report.record
    return model, report


def load_pretrained(path: str) -> dict:
    """The pretrained checkpoint dict; ModelFileError for a missing, frozen or foreign file."""
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"--finetune {path}: no such file",
                             hint="give the model.ckpt-STEP.pt (or model.ckpt.pt) of a deepft "
                                  "training run")
    with open(p, "rb") as fh:
        magic = fh.read(8)
    if magic == b"DEEPFTMD":
        raise ModelFileError(f"--finetune {path} is a frozen model (model.dft); fine-tuning "
                             "starts from a training checkpoint",
                             hint="pass the checkpoint (.pt) the model was frozen from")
    return load_checkpoint(p)


def pretrained_model(state: dict, path: str) -> torch.nn.Module:
    """The pretrained model with its weights; LoRA adapters folded into plain weights."""
    from deepft.model import merge_lora

    model = fm.build_trained_model(state["config"])
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise ModelFileError(f"checkpoint {path}: its weights do not fit the model its config "
                             f"describes ({str(err).splitlines()[0]})",
                             hint="the checkpoint is damaged or from another deepft version"
                             ) from None
    merge_lora(model)
    return model


# ---- which pretrained branch each new branch starts from -------------------------------------
def plan_branches(cfg: dict, pre_cfg: dict, args, method: dict) -> dict[str, BranchPlan]:
    pre_branches = branch_names(pre_cfg)
    inherit_from = method.get("from_branch") if method["method"] == "inherit" else None
    if inherit_from is not None:
        check_branch(inherit_from, pre_branches, "training/finetune/from_branch",
                     allow_random=False)
    if not is_multitask(cfg):
        requested = args.model_branch or cfg["model"].get("finetune_head")
        if inherit_from is not None:
            if requested not in (None, inherit_from):
                raise InputError(f"--model-branch/finetune_head {requested!r} contradicts "
                                 f"training/finetune/from_branch {inherit_from!r}",
                                 hint="give the pretrained branch in one place")
            requested = inherit_from
        return {"Default": single_plan(requested, pre_cfg, pre_branches)}
    if args.model_branch:
        raise InputError("--model-branch applies to a single-task input; this input is "
                         "multitask", hint="set model/model_dict/BRANCH/finetune_head instead")
    plans = {}
    for branch, section in cfg["model"]["model_dict"].items():
        head = section.get("finetune_head")
        if head:
            check_branch(head, pre_branches, f"model/model_dict/{branch}/finetune_head")
            source, resume = (None if head == RANDOM else head), False
        elif branch in pre_branches:
            source, resume = branch, True
        else:
            source, resume = inherit_from, False
        plans[branch] = BranchPlan(branch, source, source or pre_branches[0], resume)
    return plans


def single_plan(requested: str | None, pre_cfg: dict, pre_branches: list[str]) -> BranchPlan:
    if not is_multitask(pre_cfg):
        if requested in (None, "", "Default"):
            return BranchPlan("Default", "Default", "Default")
        if requested == RANDOM:
            return BranchPlan("Default", None, "Default")
        raise InputError(f"--model-branch {requested!r}: the pretrained model is single-task "
                         "and has no branches",
                         hint="omit --model-branch (or give Default) to inherit its fitting "
                              "net, or RANDOM for a fresh one")
    if requested in (None, ""):
        log.warning("fine-tuning from a multitask model without --model-branch: the fitting "
                    "net starts fresh (RANDOM, set-by-statistic bias); available branches are "
                    "%s", pre_branches)
        return BranchPlan("Default", None, pre_branches[0])
    check_branch(requested, pre_branches, "--model-branch")
    if requested == RANDOM:
        return BranchPlan("Default", None, pre_branches[0])
    return BranchPlan("Default", requested, requested)


def check_branch(name: str, pre_branches: list[str], where: str, allow_random: bool = True
                 ) -> None:
    valid = pre_branches + ([RANDOM] if allow_random else [])
    if name not in valid:
        raise InputError(f"{where}: the pretrained model has no branch {name!r}; available "
                         f"branches are {valid}",
                         hint="pick one of them (RANDOM: a freshly initialized fitting net)"
                         if allow_random else "pick one of them")


# ---- model sections: compare or adopt ---------------------------------------------------------
def section_diffs(mine: dict, theirs: dict, free: tuple[str, ...], where: str) -> list[str]:
    keys = sorted((set(mine) | set(theirs)) - set(free))
    return [f"{where}/{k}: input {mine.get(k)!r} vs pretrained {theirs.get(k)!r}"
            for k in keys if mine.get(k) != theirs.get(k)]


def check_match(sections: dict, pre_sections: dict, plans: dict, input_path: str,
                pre_path: str) -> None:
    """InputError listing every key where the input's model differs from the pretrained one."""
    prefix = "model/model_dict/{}" if len(sections) > 1 or "Default" not in sections else "model"
    diffs = []
    for branch, plan in plans.items():
        where = prefix.format(branch)
        diffs += section_diffs(sections[branch]["descriptor"],
                               pre_sections[plan.descriptor_from]["descriptor"],
                               DESCRIPTOR_FREE, f"{where}/descriptor")
        if plan.source is not None:
            diffs += section_diffs(sections[branch]["fitting_net"],
                                   pre_sections[plan.source]["fitting_net"], FITTING_FREE,
                                   f"{where}/fitting_net")
    if diffs:
        raise InputError(f"the model section of {input_path} does not match the pretrained "
                         f"model {pre_path}: " + "; ".join(diffs),
                         hint="make these keys equal to the pretrained model's (`deepft show "
                              f"{pre_path} descriptor fitting-net`), or pass "
                              "--use-pretrain-script to take the model section from it")


def adopt_pretrained(cfg: dict, sections: dict, pre_sections: dict, plans: dict) -> None:
    """--use-pretrain-script: descriptor and inherited fitting_net sections from the checkpoint
    (the input's type_map and sel of new elements stay)."""
    for group in descriptor_groups(cfg):
        source = pre_sections[plans[group[0]].descriptor_from]["descriptor"]
        for branch in group:
            desc = deepcopy(source)
            desc["sel"] = sections[branch]["descriptor"]["sel"]  # merged per type in assemble
            sections[branch]["descriptor"] = desc
    for branch, plan in plans.items():
        if plan.source is not None:
            sections[branch]["fitting_net"] = deepcopy(pre_sections[plan.source]["fitting_net"])
    log.info("fine-tuning: model sections taken from the pretrained model "
             "(--use-pretrain-script)")


# ---- building the model ----------------------------------------------------------------------
def merged_sel(pre_desc, pre_type_map: list[str], new_type_map: list[str],
               input_sel: list[int]) -> list[int]:
    """sel of the new type map: the pretrained value for known elements (the weights were
    trained with that normalization), the input's (resolved) value for new ones."""
    return [pre_desc.sel[pre_type_map.index(t)] if t in pre_type_map else int(input_sel[i])
            for i, t in enumerate(new_type_map)]


def assemble(cfg: dict, sections: dict, pre_model, plans: dict) -> torch.nn.Module:
    """The new model: built from ``cfg``, then the inherited components copied in and remapped
    onto the new type map (shared components stay one object)."""
    from deepft.model import build_from_config

    pre = fm.branch_models(pre_model)
    for group in descriptor_groups(cfg):  # final sel first: it is part of the config
        src = pre[plans[group[0]].descriptor_from]
        sel = merged_sel(src.descriptor, src.type_map, sections[group[0]]["type_map"],
                         sections[group[0]]["descriptor"]["sel"])
        if sel != list(sections[group[0]]["descriptor"]["sel"]):
            log.info("fine-tuning: sel %s (known elements keep the pretrained sel)", sel)
        for branch in group:
            sections[branch]["descriptor"]["sel"] = list(sel)
    model = build_from_config(cfg)
    new = fm.branch_models(model)
    for group in descriptor_groups(cfg):
        src = pre[plans[group[0]].descriptor_from]
        desc = fm.deep_copy(src.descriptor)
        section = sections[group[0]]
        desc.change_type_map(src.type_map, section["type_map"], sel=section["descriptor"]["sel"],
                             seed=section["descriptor"].get("seed"))
        for branch in group:
            new[branch].descriptor = desc
    copies: dict[tuple[str, int], torch.nn.Module] = {}
    for branch, plan in plans.items():
        if plan.source is None:
            continue
        src = pre[plan.source]
        key = (plan.source, id(src.fitting))
        if key not in copies:
            fit = fm.deep_copy(src.fitting)
            fit.change_type_map(src.type_map, sections[branch]["type_map"],
                                seed=sections[branch]["fitting_net"].get("seed"))
            copies[key] = fit
        new[branch].fitting = copies[key]
        fm.expose_extra_fittings(new[branch])
    return model


def fill_new_type_stats(model, cfg: dict, samples: dict[str, list[dict]]) -> None:
    """davg/dstd rows of elements new to the pretrained type map, from the new data."""
    new = fm.branch_models(model)
    for group in descriptor_groups(cfg):
        desc = new[group[0]].descriptor
        fresh = list(desc.types_without_stats)
        if not fresh:
            continue
        stats = desc.compute_input_stats([s for b in group for s in samples[b]])
        desc.set_stats(stats["davg"], stats["dstd"], only_types=fresh)
        names = [new[group[0]].type_map[t] for t in fresh]
        log.info("fine-tuning: descriptor statistics of new elements %s from the new data",
                 names)


def apply_structure(model, cfg: dict, method: dict, plans: dict) -> list[str]:
    """Add the method's extra heads / adapters; returns the branches that sum a new head."""
    seed = cfg["training"].get("seed")
    kind = method["method"]
    if kind == "new_head":
        targets = [b for b, p in plans.items() if p.source is not None]
        fm.add_new_heads(model, targets, float(method.get("scale_factor", 0.1)), seed)
    heads = [b for b, m in fm.branch_models(model).items()
             if isinstance(m.fitting, fm.FittingWithNewHead)]
    lora = lora_record(cfg, method)
    if lora:
        paths = fm.add_lora(model, lora)
        log.info("fine-tuning: LoRA adapters (rank %d, alpha %g) on %d layers", lora["rank"],
                 lora["alpha"], len(paths))
    return heads


def lora_record(cfg: dict, method: dict) -> dict | None:
    if method["method"] != "lora":
        return None
    return {"rank": int(method.get("rank", 8)), "alpha": float(method.get("alpha", 8.0)),
            "targets": list(method.get("targets", ["descriptor", "fitting"])),
            "seed": cfg["training"].get("seed")}


def refit_biases(model, plans: dict, samples: dict, method: dict) -> list[BiasChange]:
    """Energy bias before step 0: refit (bias_mode) for inherited fitting nets, set by statistic
    for fresh ones, only new elements for resumed branches."""
    mode = method.get("bias_mode", "change-by-statistic")
    new = fm.branch_models(model)
    changes = []
    for branch, plan in plans.items():
        fitting = new[branch].fitting
        if plan.source is None:
            log.warning("fine-tuning: branch %s has a freshly initialized fitting net; its "
                        "energy bias is set by statistic", branch)
            change = refit_bias(new[branch], samples[branch], "set-by-statistic", branch=branch)
        elif plan.resume:
            if not fitting.types_without_bias:
                log.info("fine-tuning: branch %s resumes; energy bias unchanged", branch)
                continue
            change = refit_bias(new[branch], samples[branch], "change-by-statistic",
                                branch=branch, only_types=fitting.types_without_bias)
        else:
            change = refit_bias(new[branch], samples[branch], mode, branch=branch)
        change.log()
        changes.append(change)
    return changes
