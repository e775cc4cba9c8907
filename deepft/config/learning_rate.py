"""Schema of ``learning_rate``: DeePMD-kit's stepwise exponential decay (type ``exp``).

``lr(t) = start_lr * r ** floor(t / decay_steps)`` with
``r = (stop_lr / start_lr) ** (decay_steps / numb_steps)`` unless ``decay_rate`` is given.
"""

from __future__ import annotations

from dargs import Argument, Variant

from deepft.config._args import inert, one_of, positive


def exp_args() -> list[Argument]:
    return [
        Argument("decay_steps", int, optional=True, default=5000, extra_check=positive,
                 extra_check_errmsg="must be > 0",
                 doc="The learning rate decays every this number of training steps. If it is "
                     "not smaller than numb_steps (and decay_rate is not given), a shorter one "
                     "is chosen as in DeePMD-kit."),
        Argument("decay_rate", [float, None], optional=True, default=None,
                 extra_check=lambda v: v is None or 0.0 < v <= 1.0,
                 extra_check_errmsg="must be in (0, 1]",
                 doc="Decay factor applied every decay_steps. If given, it is used directly "
                     "instead of being derived from start_lr, stop_lr and numb_steps."),
        inert("smooth", bool, False, "continuous decay"),
    ]


def learning_rate_arg() -> Argument:
    common = [
        Argument("start_lr", float, extra_check=positive, extra_check_errmsg="must be > 0",
                 doc="The learning rate at the start of training (1/step, Adam)."),
        Argument("stop_lr", float, optional=True, default=5e-8, extra_check=positive,
                 extra_check_errmsg="must be > 0",
                 doc="The learning rate reached at the end of training (DeePMD-kit's default "
                     "5e-8)."),
        Argument("scale_by_worker", str, optional=True, default="linear",
                 extra_check=one_of("linear", "sqrt", "none"),
                 extra_check_errmsg="must be one of linear, sqrt, none",
                 doc="How DeePMD-kit scales the learning rate with the number of parallel "
                     "workers (linear, sqrt, none). deepft trains in one process, where all "
                     "three are the same; accepted for DeePMD-kit inputs."),
        inert("stop_lr_ratio", [float, None], None, "stop_lr as a ratio"),
        inert("warmup_steps", int, 0, "warmup in learning_rate; use training/warmup_steps"),
        inert("warmup_ratio", [float, None], None, "warmup as a ratio"),
        inert("warmup_start_factor", float, 0.0, "warmup start factor"),
    ]
    variant = Variant("type", [
        Argument("exp", dict, exp_args(), doc="Stepwise exponential decay."),
    ], optional=True, default_tag="exp",
        doc="Type of the learning-rate schedule. deepft implements ``exp``.")
    return Argument("learning_rate", dict, common, [variant],
                    doc="The learning-rate schedule.")
