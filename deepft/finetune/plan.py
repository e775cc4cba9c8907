"""The fine-tuning plan: what each branch of the new model starts from, decided once.

:func:`plan_finetune` reads the input and the pretrained checkpoint and returns a
:class:`FinetunePlan`; everything after (``--use-pretrain-script``, the input check, building the
model: deepft.finetune.build) reads that plan. The rules are DeePMD-kit 3's
(docs/deepmd-compatibility.md):

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
ones (``sel``, ``seed`` and ``trainable`` aside): :meth:`FinetunePlan.check_input` lists every
mismatch. With it, :meth:`FinetunePlan.adopt_into` copies those sections from the checkpoint into
the raw input before it is validated, as DeePMD-kit does (the input's ``type_map``, ``sel`` and
``trainable`` stay).
"""

from __future__ import annotations

import logging
from copy import deepcopy
from dataclasses import dataclass

from deepft.branches import DEFAULT_BRANCH, RANDOM_BRANCH
from deepft.config.branches import branch_names, is_multitask, model_sections
from deepft.config.diff import DESCRIPTOR_FREE, FITTING_FREE, section_diffs
from deepft.errors import InputError

log = logging.getLogger("deepft.finetune")

KEPT_FROM_INPUT = ("sel", "trainable")  # --use-pretrain-script keeps these input keys


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
class FinetunePlan:
    """A fine-tuning run's decisions: the pretrained checkpoint and each branch's source."""

    pretrained_path: str
    pretrained: dict  # the checkpoint (deepft.checkpoint.load_checkpoint)
    branches: dict[str, BranchPlan]
    use_pretrain_script: bool = False

    @property
    def pretrained_config(self) -> dict:
        return self.pretrained["config"]

    def log(self) -> None:
        for plan in self.branches.values():
            log.info("fine-tuning: branch %s %s", plan.target, plan.describe())

    # ---- the model section: adopt (--use-pretrain-script) or check ---------------------------
    def adopt_into(self, raw: dict) -> dict:
        """A copy of the raw input whose descriptor and inherited fitting_net sections are the
        pretrained ones (the input's ``type_map``, ``sel`` and ``trainable`` stay); shared_dict
        entries are replaced where branches reference them."""
        raw = deepcopy(raw)
        pre = model_sections(self.pretrained_config)
        model = raw.get("model") if isinstance(raw, dict) else None
        branches = model.get("model_dict") if isinstance(model, dict) else None
        if not isinstance(model, dict) or (
                is_multitask(raw) and not (isinstance(branches, dict) and all(
                    isinstance(s, dict) for s in branches.values()))):
            return raw  # malformed: normalize() names what is wrong
        if not is_multitask(raw):
            plan = self.branches[DEFAULT_BRANCH]
            model["descriptor"] = _adopted(pre[plan.descriptor_from]["descriptor"],
                                           model.get("descriptor"), KEPT_FROM_INPUT)
            if plan.source is not None:
                model["fitting_net"] = _adopted(pre[plan.source]["fitting_net"],
                                                model.get("fitting_net"), ("trainable",))
        else:
            shared = model.get("shared_dict") if isinstance(model.get("shared_dict"), dict) \
                else {}
            for branch, plan in self.branches.items():
                section = model["model_dict"][branch]
                parts = [("descriptor", plan.descriptor_from, KEPT_FROM_INPUT)]
                if plan.source is not None:
                    parts.append(("fitting_net", plan.source, ("trainable",)))
                for part, source, kept in parts:
                    ref = section.get(part)
                    if isinstance(ref, str):  # "name" or "name:level" into shared_dict
                        name = ref.split(":", 1)[0]
                        if name in shared:
                            shared[name] = _adopted(pre[source][part], shared[name], kept)
                    else:
                        section[part] = _adopted(pre[source][part], ref, kept)
        log.info("fine-tuning: model sections taken from the pretrained model "
                 "(--use-pretrain-script)")
        return raw

    def check_input(self, cfg: dict, input_path: str) -> None:
        """InputError listing every key where the normalized input's model differs from the
        pretrained one (keys that may differ aside)."""
        sections, pre = model_sections(cfg), model_sections(self.pretrained_config)
        prefix = "model/model_dict/{}" if is_multitask(cfg) else "model"
        diffs = []
        for branch, plan in self.branches.items():
            where = prefix.format(branch)
            diffs += section_diffs(sections[branch]["descriptor"],
                                   pre[plan.descriptor_from]["descriptor"], DESCRIPTOR_FREE,
                                   f"{where}/descriptor", "pretrained")
            if plan.source is not None:
                diffs += section_diffs(sections[branch]["fitting_net"],
                                       pre[plan.source]["fitting_net"], FITTING_FREE,
                                       f"{where}/fitting_net", "pretrained")
        if diffs:
            path = self.pretrained_path
            raise InputError(f"the model section of {input_path} does not match the pretrained "
                             f"model {path}: " + "; ".join(diffs),
                             hint="make these keys equal to the pretrained model's (`deepft "
                                  f"show {path} descriptor fitting-net`), or pass "
                                  "--use-pretrain-script to take the model section from it")


def _adopted(pretrained: dict, given, kept: tuple[str, ...]) -> dict:
    """The pretrained section with the keys ``kept`` taken from the input's section ``given``
    (when it is a dict that has them)."""
    out = deepcopy(pretrained)
    if isinstance(given, dict):
        out.update({k: deepcopy(given[k]) for k in kept if k in given})
    return out


# ---- building the plan --------------------------------------------------------------------
def plan_finetune(cfg: dict, pretrained_path: str, *, model_branch: str | None = None,
                  use_pretrain_script: bool = False) -> FinetunePlan:
    """The plan of fine-tuning ``cfg`` (normalized, or raw with ``use_pretrain_script``: it is
    read only for branch names, ``finetune_head`` and ``training.finetune``) from the checkpoint
    at ``pretrained_path``."""
    from deepft.checkpoint import load_checkpoint

    state = load_checkpoint(pretrained_path)
    method = _finetune_section(cfg)
    branches = plan_branches(cfg, state["config"], model_branch, method)
    return FinetunePlan(str(pretrained_path), state, branches, use_pretrain_script)


def _finetune_section(cfg: dict) -> dict:
    """``training/finetune`` as given ({} when absent); InputError when it is not an object."""
    training = cfg.get("training") if isinstance(cfg.get("training"), dict) else {}
    section = training.get("finetune") or {}
    if not isinstance(section, dict):
        raise InputError(f"training/finetune must be an object, got {type(section).__name__}",
                         hint="run `deepft doc-train-input` for its keys")
    return section


def plan_branches(cfg: dict, pre_cfg: dict, model_branch: str | None, method: dict
                  ) -> dict[str, BranchPlan]:
    pre_branches = branch_names(pre_cfg)
    inherit_from = method.get("from_branch") if method.get("method") == "inherit" else None
    if inherit_from is not None:
        check_branch(inherit_from, pre_branches, "training/finetune/from_branch",
                     allow_random=False)
    if not is_multitask(cfg):
        model = cfg.get("model") if isinstance(cfg.get("model"), dict) else {}
        requested = model_branch or model.get("finetune_head")
        if inherit_from is not None:
            if requested not in (None, inherit_from):
                raise InputError(f"--model-branch/finetune_head {requested!r} contradicts "
                                 f"training/finetune/from_branch {inherit_from!r}",
                                 hint="give the pretrained branch in one place")
            requested = inherit_from
        return {DEFAULT_BRANCH: single_plan(requested, pre_cfg, pre_branches)}
    if model_branch:
        raise InputError("--model-branch applies to a single-task input; this input is "
                         "multitask", hint="set model/model_dict/BRANCH/finetune_head instead")
    model_dict = cfg["model"]["model_dict"]
    if not isinstance(model_dict, dict) or not model_dict:
        raise InputError("model/model_dict must be a non-empty object of branches",
                         hint="run `deepft doc-train-input` for its keys")
    plans = {}
    for branch, section in model_dict.items():
        head = section.get("finetune_head") if isinstance(section, dict) else None
        if head:
            check_branch(head, pre_branches, f"model/model_dict/{branch}/finetune_head")
            source, resume = (None if head == RANDOM_BRANCH else head), False
        elif branch in pre_branches:
            source, resume = branch, True
        else:
            source, resume = inherit_from, False
        plans[branch] = BranchPlan(branch, source, source or pre_branches[0], resume)
    return plans


def single_plan(requested: str | None, pre_cfg: dict, pre_branches: list[str]) -> BranchPlan:
    if not is_multitask(pre_cfg):
        if requested in (None, "", DEFAULT_BRANCH):
            return BranchPlan(DEFAULT_BRANCH, DEFAULT_BRANCH, DEFAULT_BRANCH)
        if requested == RANDOM_BRANCH:
            return BranchPlan(DEFAULT_BRANCH, None, DEFAULT_BRANCH)
        raise InputError(f"--model-branch {requested!r}: the pretrained model is single-task "
                         "and has no branches",
                         hint="omit --model-branch (or give Default) to inherit its fitting "
                              "net, or RANDOM for a fresh one")
    if requested in (None, ""):
        log.warning("fine-tuning from a multitask model without --model-branch: the fitting "
                    "net starts fresh (RANDOM, set-by-statistic bias); available branches are "
                    "%s", pre_branches)
        return BranchPlan(DEFAULT_BRANCH, None, pre_branches[0])
    check_branch(requested, pre_branches, "--model-branch")
    if requested == RANDOM_BRANCH:
        return BranchPlan(DEFAULT_BRANCH, None, pre_branches[0])
    return BranchPlan(DEFAULT_BRANCH, requested, requested)


def check_branch(name: str, pre_branches: list[str], where: str, allow_random: bool = True
                 ) -> None:
    valid = pre_branches + ([RANDOM_BRANCH] if allow_random else [])
    if name not in valid:
        raise InputError(f"{where}: the pretrained model has no branch {name!r}; available "
                         f"branches are {valid}",
                         hint="pick one of them (RANDOM: a freshly initialized fitting net)"
                         if allow_random else "pick one of them")
