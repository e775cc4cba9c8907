"""Fine-tuning from a pretrained checkpoint (``deepft train --finetune``).

Public API::

    plan_finetune(cfg, pretrained_path, model_branch=None, use_pretrain_script=False)
        -> FinetunePlan                      # decided once: each branch's source
    FinetunePlan.adopt_into(raw) -> raw      # --use-pretrain-script, before validation
    FinetunePlan.check_input(cfg, path)      # otherwise: the input must match the checkpoint
    build_finetuned_model(plan, cfg, tasks) -> (model, FinetuneReport)

The rules: :mod:`deepft.finetune.plan`; the model: :mod:`deepft.finetune.build`; the methods'
structure and trainability: :mod:`deepft.model.structure`.
"""

from deepft.finetune.plan import BranchPlan, FinetunePlan, plan_finetune

__all__ = ["BranchPlan", "FinetunePlan", "build_finetuned_model", "plan_finetune"]


def build_finetuned_model(plan, cfg, tasks):
    """See :func:`deepft.finetune.build.build_finetuned_model` (imported lazily: torch)."""
    from deepft.finetune.build import build_finetuned_model as build

    return build(plan, cfg, tasks)
