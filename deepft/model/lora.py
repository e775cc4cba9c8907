"""LoRA adapters on :class:`~deepft.model.network.Layer` (low-rank fine-tuning).

A wrapped layer uses ``W_eff = matrix + (alpha / rank) * lora_a @ lora_b`` with ``lora_a``
(``in x rank``) drawn from N(0, (init_scale / sqrt(in))²) and ``lora_b`` (``rank x out``) zero,
so at step 0 the model is exactly the base model. The base ``matrix``/``bias``/
``idt`` keep their names (and are frozen by :func:`apply_lora` unless asked otherwise), so the
state dict gains only ``lora_a``/``lora_b`` entries. :func:`merge_lora` folds the update into
plain Layers, giving a model with the original tensor names that a frozen model file can hold.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from deepft.model.network import Layer, derive_seed, make_generator


class LoRALayer(Layer):
    """A Layer whose weight is ``matrix + scale * lora_a @ lora_b`` (scale = alpha / rank)."""

    def __init__(self, base: Layer, rank: int, alpha: float, *, seed: int | None = None,
                 init_scale: float = 1.0, freeze_base: bool = True):
        nn.Module.__init__(self)
        if rank < 1:
            raise ValueError(f"LoRA rank must be >= 1, got {rank}")
        for name in ("num_in", "num_out", "activation_function", "activate", "resnet", "skip",
                     "precision"):
            setattr(self, name, getattr(base, name))
        self.matrix = base.matrix
        if base.bias is not None:
            self.bias = base.bias
        else:
            self.register_parameter("bias", None)
        if base.idt is not None:
            self.idt = base.idt
        else:
            self.register_parameter("idt", None)
        if freeze_base:
            for p in (self.matrix, self.bias, self.idt):
                if p is not None:
                    p.requires_grad_(False)
        self.rank, self.alpha = int(rank), float(alpha)
        dtype = base.matrix.dtype
        gen = make_generator(seed)
        a = torch.empty(self.num_in, self.rank, dtype=torch.float64)
        a.normal_(0.0, init_scale / np.sqrt(self.num_in), generator=gen)
        self.lora_a = nn.Parameter(a.to(dtype=dtype, device=base.matrix.device))
        self.lora_b = nn.Parameter(torch.zeros(self.rank, self.num_out, dtype=dtype,
                                               device=base.matrix.device))

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    def effective_matrix(self) -> torch.Tensor:
        return torch.addmm(self.matrix, self.lora_a, self.lora_b, alpha=self.scale)

    def merge(self) -> Layer:
        """A plain Layer with ``matrix = W_eff`` and copies of bias/idt; all its parameters are
        trainable (the frozen state of the base is not carried over)."""
        layer = Layer.__new__(Layer)
        nn.Module.__init__(layer)
        for name in ("num_in", "num_out", "activation_function", "activate", "resnet", "skip",
                     "precision"):
            setattr(layer, name, getattr(self, name))
        with torch.no_grad():
            layer.matrix = nn.Parameter(self.effective_matrix().detach().clone())
            if self.bias is not None:
                layer.bias = nn.Parameter(self.bias.detach().clone())
            else:
                layer.register_parameter("bias", None)
            if self.idt is not None:
                layer.idt = nn.Parameter(self.idt.detach().clone())
            else:
                layer.register_parameter("idt", None)
        return layer

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, lora rank={self.rank}, alpha={self.alpha}"


def _layers(module: nn.Module, prefix: str = ""):
    for name, child in module.named_children():
        path = f"{prefix}{name}"
        if isinstance(child, Layer):
            yield module, name, path, child
        else:
            yield from _layers(child, path + ".")


def apply_lora(module: nn.Module, rank: int, alpha: float | None = None, *,
               seed: int | None = None, include: tuple[str, ...] = ("",),
               min_in: int = 2, freeze_base: bool = True) -> list[str]:
    """Wrap every Layer under ``module`` whose path starts with one of ``include`` (e.g.
    ``("fitting.",)``) and has at least ``min_in`` inputs (the 1 -> n first embedding layer gains
    nothing from a low-rank update) in a :class:`LoRALayer`. alpha defaults to rank (scale 1).
    Shared Layers (one object reached twice) are wrapped once. Returns the wrapped paths.

    With ``freeze_base`` every non-LoRA parameter of ``module`` is frozen, so only the adapters
    train; the descriptor statistics and energy bias (buffers) are untouched.
    """
    alpha = float(rank if alpha is None else alpha)
    if freeze_base:
        for p in module.parameters():
            p.requires_grad_(False)
    wrapped: dict[int, LoRALayer] = {}
    paths = []
    for parent, name, path, layer in list(_layers(module)):
        if isinstance(layer, LoRALayer) or not any(path.startswith(p) for p in include):
            continue
        if layer.num_in < min_in:
            continue
        if id(layer) not in wrapped:
            wrapped[id(layer)] = LoRALayer(layer, rank, alpha, seed=derive_seed(seed, path),
                                           freeze_base=freeze_base)
        setattr(parent, name, wrapped[id(layer)])
        paths.append(path)
    return paths


def merge_lora(module: nn.Module) -> list[str]:
    """Replace every LoRALayer under ``module`` by its merged plain Layer (in place)."""
    merged: dict[int, Layer] = {}
    paths = []
    for parent, name, path, layer in list(_layers(module)):
        if isinstance(layer, LoRALayer):
            if id(layer) not in merged:
                merged[id(layer)] = layer.merge()
            setattr(parent, name, merged[id(layer)])
            paths.append(path)
    return paths
