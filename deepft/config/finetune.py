"""Schema of ``training/finetune`` (deepft): how ``deepft train --finetune PRETRAINED`` trains.

The pretrained descriptor is always inherited and the energy bias is refit on the new data
(``bias_mode``). ``method`` chooses which parameters train:

- ``full``: every parameter (DeePMD-kit's fine-tuning).
- ``heads``: the descriptor is frozen; the fitting net trains (only its last
  ``trainable_last_layers`` layers when given).
- ``lora``: the pretrained weights are frozen; low-rank adapters ``W + (alpha / rank) · A B`` on
  the layers of ``targets`` train.
- ``new_head``: the inherited fitting net is kept and a fresh fitting net is added whose atomic
  energies are summed with it; ``scale_factor`` scales the initial output layer of the new net.
- ``inherit``: the fitting net is copied from branch ``from_branch`` of a multitask pretrained
  model, then every parameter trains.
"""

from __future__ import annotations

from dargs import Argument, Variant

from deepft.config._args import non_negative, one_of, positive

BIAS_MODES = ("change-by-statistic", "set-by-statistic")
LORA_TARGETS = ("descriptor", "fitting")


def targets_ok(value: list[str]) -> bool:
    return bool(value) and len(set(value)) == len(value) and all(v in LORA_TARGETS for v in value)


def method_variant() -> Variant:
    return Variant("method", [
        Argument("full", dict, [], doc="Train every parameter."),
        Argument("heads", dict, [
            Argument("trainable_last_layers", [int, None], optional=True, default=None,
                     extra_check=lambda v: v is None or v > 0,
                     extra_check_errmsg="must be a positive integer or null",
                     doc="Number of last fitting-net layers that train (the output layer "
                         "counts as one); null trains the whole fitting net."),
        ], doc="Freeze the descriptor; train the fitting net (or its last layers)."),
        Argument("lora", dict, [
            Argument("rank", int, optional=True, default=8, extra_check=positive,
                     extra_check_errmsg="must be > 0",
                     doc="Rank r of the adapters A (in x r) and B (r x out)."),
            Argument("alpha", float, optional=True, default=8.0, extra_check=positive,
                     extra_check_errmsg="must be > 0",
                     doc="Adapter scale: the update is (alpha / rank) · A B."),
            Argument("targets", list[str], optional=True, default=list(LORA_TARGETS),
                     extra_check=targets_ok,
                     extra_check_errmsg="must be a non-empty list of distinct entries of "
                                        "\"descriptor\", \"fitting\"",
                     doc="Which networks get adapters: \"descriptor\" (embedding nets), "
                         "\"fitting\" (fitting nets)."),
        ], doc="Freeze the pretrained weights; train low-rank adapters."),
        Argument("new_head", dict, [
            Argument("scale_factor", float, optional=True, default=0.1,
                     extra_check=non_negative, extra_check_errmsg="must be >= 0",
                     doc="Factor on the initial weights and bias of the new net's output "
                         "layer: 0 starts exactly from the pretrained predictions."),
        ], doc="Keep the inherited fitting net and add a fresh one; energies are summed."),
        Argument("inherit", dict, [
            Argument("from_branch", str,
                     doc="Branch of the multitask pretrained model whose fitting net is "
                         "copied."),
        ], doc="Copy the fitting net of one pretrained branch, then train every parameter."),
    ], optional=True, default_tag="full", doc="Which parameters train during fine-tuning.")


def finetune_arg() -> Argument:
    return Argument("finetune", dict, [
        Argument("bias_mode", str, optional=True, default="change-by-statistic",
                 extra_check=one_of(*BIAS_MODES),
                 extra_check_errmsg=f"must be one of {', '.join(BIAS_MODES)}",
                 doc="How the energy bias is refit on the new data by least squares on the "
                     "composition: ``change-by-statistic`` adds the fit of the pretrained "
                     "model's error; ``set-by-statistic`` replaces the bias by the fit of the "
                     "raw energies."),
    ], [method_variant()], optional=True, default={},
        doc="(deepft) Fine-tuning policy, used with ``deepft train --finetune``.")
