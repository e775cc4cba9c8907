"""The model for step 0 of a fine-tuning run, built from a :class:`~deepft.finetune.FinetunePlan`.

Steps, in order: the pretrained model is rebuilt (LoRA adapters folded); the new model is built
from the normalized input with the final ``sel`` (known elements keep the pretrained value: their
weights were trained with that normalization); the inherited descriptor and fitting nets are
copied in and remapped onto the new type map (deepft.model.type_map: known elements keep
weights, statistics and bias; new ones get fresh nets); new elements get descriptor statistics
from the new data; the method's structure (extra heads, LoRA) and trainability are applied
(deepft.model.structure); the energy bias is refit on the new data (deepft.train.bias,
``training.finetune.bias_mode``). The structure is recorded in ``model/_finetune`` so that every
later load rebuilds the same module tree.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field

import torch

from deepft.branches import RANDOM_BRANCH
from deepft.config.branches import model_sections
from deepft.errors import InputError
from deepft.finetune.plan import BranchPlan, FinetunePlan
from deepft.model import build_from_config, merge_lora
from deepft.model.fitting import FittingWithNewHead
from deepft.model.structure import (
    RECORD_KEY,
    add_lora,
    add_new_heads,
    branch_models,
    expose_extra_fittings,
    parameter_summary,
    set_config_trainability,
    set_trainability,
)
from deepft.train.bias import BiasChange, refit_bias
from deepft.train.setup import descriptor_groups

log = logging.getLogger("deepft.finetune")


@dataclass
class FinetuneReport:
    """What :func:`build_finetuned_model` did; ``check_trainer`` checks and logs it once the
    Trainer exists."""

    pretrained: str
    method: dict
    plans: dict[str, BranchPlan]
    bias_changes: list[BiasChange] = field(default_factory=list)
    record: dict = field(default_factory=dict)

    def check_trainer(self, trainer) -> None:
        """Check that the optimizer holds exactly the trainable parameters; log the summary."""
        trainable, total = parameter_summary(trainer.model)
        in_optimizer = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
        expected = {id(p) for p in trainer.model.parameters() if p.requires_grad}
        if in_optimizer != expected:
            raise RuntimeError("fine-tuning: the optimizer does not hold exactly the trainable "
                               "parameters (the model was changed after the Trainer was built)")
        log.info("fine-tuning from %s, method %s: %d of %d parameters train", self.pretrained,
                 self.method["method"], trainable, total)


def build_finetuned_model(plan: FinetunePlan, cfg: dict, tasks: dict
                          ) -> tuple[torch.nn.Module, FinetuneReport]:
    """Model for step 0 of a fine-tuning run (``cfg`` is updated in place: final ``sel`` and
    the ``model/_finetune`` record)."""
    from deepft.checkpoint import load_trained_model
    from deepft.train.statistics import stat_samples

    plan.log()
    pre_model = load_trained_model(plan.pretrained, plan.pretrained_path)
    merge_lora(pre_model)
    method = dict(cfg["training"]["finetune"])
    sections = model_sections(cfg)
    model = assemble(cfg, sections, pre_model, plan.branches)
    new_types = new_type_indices(sections, pre_model, plan.branches)
    samples = stat_samples(cfg, tasks)
    fill_new_type_stats(model, cfg, samples)
    fresh = [f"{b}/fitting_net" for b, p in plan.branches.items() if p.source is None]
    set_config_trainability(model, sections)
    heads = apply_structure(model, cfg, method, plan.branches)
    set_trainability(model, method, fresh, new_types)
    for branch, types in new_types.items():
        if types:
            names = [sections[branch]["type_map"][t] for t in types]
            log.info("fine-tuning: branch %s: the nets of new elements %s train in full", branch,
                     names)
    report = FinetuneReport(plan.pretrained_path, method, plan.branches)
    report.bias_changes = refit_biases(model, plan.branches, samples, method)
    report.record = {
        "pretrained": plan.pretrained_path, "method": method,
        "branches": {b: p.source or RANDOM_BRANCH for b, p in plan.branches.items()},
        "fresh": fresh, "new_types": new_types, "new_head": heads,
        "lora": lora_record(cfg, method),
    }
    cfg["model"][RECORD_KEY] = report.record
    return model, report


def new_type_indices(sections: dict, pre_model, plans: dict[str, BranchPlan]
                     ) -> dict[str, list[int]]:
    """Branch -> indices (in its new type map) of elements its pretrained source lacks."""
    pre = branch_models(pre_model)
    out = {}
    for branch, plan in plans.items():
        known = set(pre[plan.descriptor_from].type_map)
        if plan.source is not None:
            known &= set(pre[plan.source].type_map)
        out[branch] = [t for t, name in enumerate(sections[branch]["type_map"])
                       if name not in known]
    return out


def assemble(cfg: dict, sections: dict, pre_model, plans: dict) -> torch.nn.Module:
    """The new model: built from ``cfg``, then the inherited components copied in and remapped
    onto the new type map (shared components stay one object)."""
    pre = branch_models(pre_model)
    for group in descriptor_groups(cfg):
        settle_descriptor_source(group, plans, pre)
    for group in descriptor_groups(cfg):  # final sel first: it is part of the config
        src = pre[plans[group[0]].descriptor_from]
        sel = src.descriptor.finetune_sel(src.type_map, sections[group[0]]["type_map"],
                                          sections[group[0]]["descriptor"]["sel"])
        if sel != list(sections[group[0]]["descriptor"]["sel"]):
            log.info("fine-tuning: sel %s (known elements keep the pretrained sel)", sel)
        for branch in group:
            sections[branch]["descriptor"]["sel"] = list(sel)
    model = build_from_config(cfg)
    new = branch_models(model)
    for group in descriptor_groups(cfg):
        src = pre[plans[group[0]].descriptor_from]
        desc = copy.deepcopy(src.descriptor)
        section = sections[group[0]]
        desc.change_type_map(src.type_map, section["type_map"], sel=section["descriptor"]["sel"],
                             seed=section["descriptor"]["seed"])
        for branch in group:
            new[branch].descriptor = desc
    # one copy per fitting net of the NEW model: branches share a fitting only where the
    # input shares it (shared_dict), whatever pretrained branch they start from
    copies: dict[tuple[str, int], torch.nn.Module] = {}
    for branch, plan in plans.items():
        if plan.source is None:
            continue
        src = pre[plan.source]
        key = (plan.source, id(new[branch].fitting))
        if key not in copies:
            fit = copy.deepcopy(src.fitting)
            fit.change_type_map(src.type_map, sections[branch]["type_map"],
                                seed=sections[branch]["fitting_net"]["seed"])
            copies[key] = fit
        new[branch].fitting = copies[key]
        expose_extra_fittings(new[branch])
    return model


def settle_descriptor_source(group: list[str], plans: dict[str, BranchPlan], pre: dict) -> None:
    """The pretrained branch whose descriptor the branches of ``group`` (one shared descriptor
    of the new model) inherit: that of the first branch inheriting a fitting net (the descriptor
    its weights were trained with). Branches inheriting fitting nets trained with different
    pretrained descriptors cannot share one: InputError."""
    sources = [plans[b].source for b in group if plans[b].source is not None]
    chosen = sources[0] if sources else plans[group[0]].descriptor_from
    clash = [s for s in sources if pre[s].descriptor is not pre[chosen].descriptor]
    if clash:
        raise InputError(f"branches {group} share one descriptor in the input, but inherit the "
                         f"fitting nets of pretrained branches {sources} whose descriptors differ",
                         hint="give those branches separate descriptors, or start them from "
                              "pretrained branches that shared their descriptor")
    for branch in group:
        plans[branch].descriptor_from = chosen


def fill_new_type_stats(model, cfg: dict, samples: dict[str, list[dict]]) -> None:
    """davg/dstd rows of elements new to the pretrained type map, from the new data."""
    new = branch_models(model)
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
    seed = cfg["training"]["seed"]
    kind = method["method"]
    if kind == "new_head":
        targets = [b for b, p in plans.items() if p.source is not None]
        add_new_heads(model, targets, float(method["scale_factor"]), seed)
    heads = [b for b, m in branch_models(model).items()
             if isinstance(m.fitting, FittingWithNewHead)]
    lora = lora_record(cfg, method)
    if lora:
        paths = add_lora(model, lora)
        log.info("fine-tuning: LoRA adapters (rank %d, alpha %g) on %d layers", lora["rank"],
                 lora["alpha"], len(paths))
    return heads


def lora_record(cfg: dict, method: dict) -> dict | None:
    if method["method"] != "lora":
        return None
    return {"rank": int(method["rank"]), "alpha": float(method["alpha"]),
            "targets": list(method["targets"]), "seed": cfg["training"]["seed"]}


def refit_biases(model, plans: dict, samples: dict, method: dict) -> list[BiasChange]:
    """Energy bias before step 0: refit (bias_mode) for inherited fitting nets, set by statistic
    for fresh ones, only new elements for resumed branches."""
    new = branch_models(model)
    sharing: dict[int, list[str]] = {}
    for branch in plans:
        sharing.setdefault(id(new[branch].fitting), []).append(branch)
    changes = []
    for branch, plan in plans.items():
        fitting = new[branch].fitting
        owners = sharing[id(fitting)]
        if owners[0] != branch:
            continue  # a shared fitting net is refit once, on all its branches' data
        frames = [s for b in owners for s in samples[b]]
        if plan.source is None:
            log.warning("fine-tuning: branch %s has a freshly initialized fitting net; its "
                        "energy bias is set by statistic", branch)
            change = refit_bias(new[branch], frames, "set-by-statistic", branch=branch)
        elif plan.resume:
            if not fitting.types_without_bias:
                log.info("fine-tuning: branch %s resumes; energy bias unchanged", branch)
                continue
            change = refit_bias(new[branch], frames, "change-by-statistic",
                                branch=branch, only_types=fitting.types_without_bias)
        else:
            change = refit_bias(new[branch], frames, method["bias_mode"], branch=branch)
        change.log()
        changes.append(change)
    return changes
