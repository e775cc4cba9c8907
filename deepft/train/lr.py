"""Learning-rate schedules.

``exp`` (DeePMD-kit): ``lr(t) = start_lr * r ** floor(t / decay_steps)`` with
``r = (stop_lr / start_lr) ** (decay_steps / numb_steps)`` unless ``decay_rate`` is given, so the
rate reaches ``stop_lr`` at ``numb_steps``. As in DeePMD-kit, a ``decay_steps`` not smaller than
``numb_steps`` is reduced so the schedule still decays.
"""

from __future__ import annotations

import math


class ExpDecayLR:
    """Stepwise exponential decay; ``value(step)`` in the optimizer's units (1/step)."""

    def __init__(self, start_lr: float, stop_lr: float, decay_steps: int, numb_steps: int,
                 decay_rate: float | None = None):
        self.start_lr = float(start_lr)
        self.stop_lr = float(stop_lr)
        if decay_steps >= numb_steps:  # DeePMD-kit's default when decay_steps is too long
            decay_steps = 100 if numb_steps // 10 > 100 else numb_steps // 100 + 1
        self.decay_steps = int(decay_steps)
        if decay_rate is None:
            decay_rate = math.exp(math.log(self.stop_lr / self.start_lr)
                                  * self.decay_steps / max(numb_steps, 1))
        self.decay_rate = float(decay_rate)

    def value(self, step: int) -> float:
        return self.start_lr * self.decay_rate ** (step // self.decay_steps)


class WarmupLR:
    """Linear warm-up ``start_lr * t / warmup_steps``, then ``inner`` shifted by warmup_steps.

    As DeePMD-kit's pt trainer: the decay schedule is built for ``numb_steps - warmup_steps``.
    """

    def __init__(self, inner: ExpDecayLR, warmup_steps: int):
        self.inner = inner
        self.warmup_steps = int(warmup_steps)
        self.start_lr = inner.start_lr

    def value(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.start_lr * step / self.warmup_steps
        return self.inner.value(step - self.warmup_steps)


def build_lr(lr_cfg: dict, numb_steps: int, warmup_steps: int = 0) -> ExpDecayLR | WarmupLR:
    """Build the schedule from the normalized ``learning_rate`` section."""
    kind = lr_cfg["type"]
    if kind != "exp":  # the schema only admits "exp"; keep the failure explicit anyway
        raise ValueError(f"unsupported learning_rate type {kind!r}")
    decay = ExpDecayLR(lr_cfg["start_lr"], lr_cfg["stop_lr"], lr_cfg["decay_steps"],
                       numb_steps - warmup_steps, lr_cfg.get("decay_rate"))
    return WarmupLR(decay, warmup_steps) if warmup_steps > 0 else decay
