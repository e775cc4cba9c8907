"""Dense layers and the two MLPs of DeePMD-kit: the embedding net and the fitting net.

Layer rule (DeePMD-kit, ``deepmd/pt/model/network/mlp.py``), with ``x`` of width ``in``::

    h = act(x @ matrix + bias)          # matrix: in x out, bias: out
    h = h * idt                         # only with resnet_dt on a skip layer (idt: out)
    y = x + h            if out == in   and resnet
    y = cat(x, x) + h    if out == 2 in and resnet
    y = h                otherwise

``idt`` exists only when ``resnet_dt`` is set AND the layer has a skip connection (out == in or
out == 2 in), as in DeePMD-kit; its absence is visible in the state dict (no ``idt`` key). A layer
built with ``use_bias=False`` (DPA-1's type embedding without ``use_tebd_bias``) has no ``bias``.

Initialization (DeePMD-kit's pt backend, ``MLPLayer._default_normal_init``): ``matrix ~
N(0, 1/sqrt(in + out))``, ``bias ~ N(0, 1)``, ``idt ~ N(0.1, 0.001)``, drawn in that order from
one ``torch.Generator`` per layer whose seed is derived deterministically from the net's
``seed`` and the layer's position (:func:`derive_seed`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

PRECISIONS = {"float64": torch.float64, "float32": torch.float32}


def _linear(x: torch.Tensor) -> torch.Tensor:
    return x


def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "gelu": _gelu_tanh,  # DeePMD-kit's "gelu" is the tanh approximation
    "relu": F.relu,
    "silu": F.silu,
    "linear": _linear,
    "none": _linear,
}


def _tanh_grad(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 1.0 - y * y


def _gelu_grad(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # d/dz [z/2 (1 + tanh(c (z + a z^3)))]
    c, a = 0.7978845608028654, 0.044715
    th = torch.tanh(c * (z + a * z * z * z))
    return 0.5 * (1.0 + th) + 0.5 * z * (1.0 - th * th) * c * (1.0 + 3.0 * a * z * z)


def _relu_grad(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (z > 0).to(z.dtype)


def _silu_grad(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    sig = torch.sigmoid(z)
    return sig * (1.0 + z * (1.0 - sig))


#: derivative of each activation, as a function of (pre-activation z, activation y)
ACTIVATION_GRADS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None] = {
    "tanh": _tanh_grad,
    "gelu": _gelu_grad,
    "relu": _relu_grad,
    "silu": _silu_grad,
    "linear": None,  # derivative 1
    "none": None,
}


def get_activation(name: str | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation function called ``name`` (None means linear)."""
    key = "linear" if name is None else str(name)
    if key not in ACTIVATIONS:
        raise ValueError(f"unknown activation_function {name!r}; known: {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[key]


def get_dtype(precision: str | torch.dtype) -> torch.dtype:
    """torch dtype of a precision name (``float64``/``float32``; ``default`` = float64)."""
    if isinstance(precision, torch.dtype):
        return precision
    key = "float64" if precision == "default" else precision
    if key not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; known: {sorted(PRECISIONS)}")
    return PRECISIONS[key]


def derive_seed(seed: int | None, *path: int | str) -> int | None:
    """A 63-bit seed for the component at ``path`` (ints/strings) under ``seed``; None stays None.

    Deterministic across runs and platforms (numpy SeedSequence over the seed and the path, with
    strings hashed as their UTF-8 bytes), so each layer of each net gets its own stream.
    """
    if seed is None:
        return None
    words = [int(seed) & 0xFFFFFFFFFFFFFFFF]
    for p in path:
        if isinstance(p, str):
            words.extend(p.encode("utf-8"))
            words.append(0x1F)  # separator so ("ab",) != ("a", "b")
        else:
            words.append(int(p) & 0xFFFFFFFF)
    state = np.random.SeedSequence(words).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def make_generator(seed: int | None) -> torch.Generator:
    """A CPU generator seeded by ``seed``; with None, seeded from torch's global RNG."""
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    gen = torch.Generator()
    gen.manual_seed(int(seed))
    return gen


class Layer(nn.Module):
    """One dense layer with DeePMD-kit's activation / timestep / resnet rule (module docstring).

    Input ``... x in``, output ``... x out``, computed in the layer's precision (the input must
    already be in it).
    """

    def __init__(self, num_in: int, num_out: int, *, activation_function: str | None = "tanh",
                 resnet: bool = True, resnet_dt: bool = False, precision: str = "float64",
                 trainable: bool = True, seed: int | None = None, use_bias: bool = True):
        super().__init__()
        self.num_in, self.num_out = int(num_in), int(num_out)
        self.activation_function = "linear" if activation_function is None else \
            str(activation_function)
        self.activate = get_activation(self.activation_function)
        self.resnet = bool(resnet)
        skip = self.resnet and num_out in (num_in, 2 * num_in)
        self.skip = "same" if skip and num_out == num_in else ("double" if skip else "none")
        dtype = get_dtype(precision)
        self.precision = str(precision)
        gen = make_generator(seed)
        matrix = torch.empty(num_in, num_out, dtype=torch.float64)
        matrix.normal_(0.0, 1.0 / np.sqrt(num_in + num_out), generator=gen)
        bias = torch.empty(num_out, dtype=torch.float64).normal_(0.0, 1.0, generator=gen)
        self.matrix = nn.Parameter(matrix.to(dtype), requires_grad=trainable)
        if use_bias:
            self.bias = nn.Parameter(bias.to(dtype), requires_grad=trainable)
        else:
            self.register_parameter("bias", None)
        if resnet_dt and skip:
            idt = torch.empty(num_out, dtype=torch.float64).normal_(0.1, 0.001, generator=gen)
            self.idt = nn.Parameter(idt.to(dtype), requires_grad=trainable)
        else:
            self.register_parameter("idt", None)

    def effective_matrix(self) -> torch.Tensor:
        """The ``in x out`` weight used in forward (LoRA subclasses add their update)."""
        return self.matrix

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        matrix = self.effective_matrix()
        if self.bias is None:
            h = torch.matmul(x, matrix)
        elif self.num_in == 1:  # outer product: cheaper as a broadcast than a K=1 GEMM
            h = torch.addcmul(self.bias, x, matrix[0])
        else:
            h = torch.addmm(self.bias, x.reshape(-1, self.num_in), matrix)
            h = h.reshape(*x.shape[:-1], self.num_out)
        h = self.activate(h)
        if self.idt is not None:
            h = h * self.idt
        if self.skip == "same":
            return x + h
        if self.skip == "double":
            return torch.cat([x, x], dim=-1) + h
        return h

    def forward_tangent(self, x: torch.Tensor, xt: torch.Tensor, fused: bool = True
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """(y, dy/ds) given x and its derivative xt = dx/ds w.r.t. one scalar s per row.

        Forward-mode differentiation of the layer (same shapes as forward); used by the
        descriptor to get dG/ds together with G, so forces need no backward pass through the
        embedding net and force losses need only a first-order backward. ``fused`` (tanh
        only) uses the hand-written autograd Function of deepft.model.tangent, whose backward
        is first order; pass False when higher derivatives through this layer are needed.
        """
        if self.bias is None:
            raise NotImplementedError("forward_tangent needs a layer with a bias")
        if fused and self.activation_function == "tanh":
            from deepft.model.tangent import tanh_tangent

            return tanh_tangent(self, x, xt)
        matrix = self.effective_matrix()
        if self.num_in == 1:
            z = torch.addcmul(self.bias, x, matrix[0])
            zt = xt * matrix[0]
        else:
            lead = x.shape[:-1]
            z = torch.addmm(self.bias, x.reshape(-1, self.num_in), matrix)
            zt = torch.mm(xt.reshape(-1, self.num_in), matrix)
            z, zt = z.reshape(*lead, self.num_out), zt.reshape(*lead, self.num_out)
        h = self.activate(z)
        grad = ACTIVATION_GRADS[self.activation_function]
        ht = zt if grad is None else zt * grad(z, h)
        if self.idt is not None:
            h, ht = h * self.idt, ht * self.idt
        if self.skip == "same":
            return x + h, xt + ht
        if self.skip == "double":
            return torch.cat([x, x], dim=-1) + h, torch.cat([xt, xt], dim=-1) + ht
        return h, ht

    def extra_repr(self) -> str:
        return (f"{self.num_in} -> {self.num_out}, {self.activation_function}, "
                f"skip={self.skip}, idt={self.idt is not None}")


def _per_layer(flag: bool | Sequence[bool], n: int, what: str) -> list[bool]:
    if isinstance(flag, bool | int):
        return [bool(flag)] * n
    flags = [bool(f) for f in flag]
    if len(flags) != n:
        raise ValueError(f"{what}: trainable has {len(flags)} entries for {n} layers")
    return flags


class MLP(nn.Module):
    """A stack of :class:`Layer` in ``self.layers`` (the frozen-model tensor names)."""

    def __init__(self, layers: Sequence[Layer]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    @property
    def dtype(self) -> torch.dtype:
        return self.layers[0].matrix.dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def forward_tangent(self, x: torch.Tensor, fused: bool = True
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """(y, dy/dx) for a width-1 input ``... x 1``: both ``... x out`` (see
        :meth:`Layer.forward_tangent` for ``fused``)."""
        xt = torch.ones_like(x)
        for layer in self.layers:
            x, xt = layer.forward_tangent(x, xt, fused)
        return x, xt


class EmbeddingNet(MLP):
    """Embedding net ``num_in -> neuron[0] -> ... -> neuron[-1]``, every layer with the resnet
    rule (``use_bias=False``: no bias in any layer)."""

    def __init__(self, neuron: Sequence[int], *, num_in: int = 1,
                 activation_function: str = "tanh", resnet_dt: bool = False,
                 precision: str = "float64", trainable: bool | Sequence[bool] = True,
                 seed: int | None = None, use_bias: bool = True):
        widths = [int(num_in), *[int(n) for n in neuron]]
        flags = _per_layer(trainable, len(neuron), "embedding net")
        super().__init__([
            Layer(widths[i], widths[i + 1], activation_function=activation_function,
                  resnet=True, resnet_dt=resnet_dt, precision=precision, trainable=flags[i],
                  seed=derive_seed(seed, i), use_bias=use_bias)
            for i in range(len(neuron))])


class FittingNet(MLP):
    """Fitting net ``num_in -> neuron... -> 1``: hidden layers with the resnet rule, then a
    linear output layer (no activation, no skip, no idt)."""

    def __init__(self, num_in: int, neuron: Sequence[int], *, activation_function: str = "tanh",
                 resnet_dt: bool = True, precision: str = "float64",
                 trainable: bool | Sequence[bool] = True, seed: int | None = None):
        widths = [int(num_in), *[int(n) for n in neuron]]
        flags = _per_layer(trainable, len(neuron) + 1, "fitting net")
        layers = [Layer(widths[i], widths[i + 1], activation_function=activation_function,
                        resnet=True, resnet_dt=resnet_dt, precision=precision,
                        trainable=flags[i], seed=derive_seed(seed, i))
                  for i in range(len(neuron))]
        layers.append(Layer(widths[-1], 1, activation_function="linear", resnet=False,
                            resnet_dt=False, precision=precision, trainable=flags[-1],
                            seed=derive_seed(seed, len(neuron))))
        super().__init__(layers)
