"""Forward-mode evaluation of an embedding layer: (y, dy/ds) for a scalar input s per row.

The se_e2_a embedding nets see one scalar ŝ per neighbor pair, so dG/dŝ is obtained by
carrying a tangent through the layers (one extra GEMM per layer) instead of a backward pass.
For tanh layers (DeePMD-kit's default and the bulk of the training cost: tens of thousands of
rows times 100 columns) this module provides one autograd Function per layer with a hand-written
backward that touches each large array as few times as possible; other activations use the
generic composition in :meth:`deepft.model.network.Layer.forward_tangent`.

Math of one layer with x (rows x in), tangent xt, W (in x out), bias b, optional idt:

    z = x W + b,  h = tanh(z),  zt = xt W,  ht = (1 - h²) zt
    y = skip(x) + idt h,  yt = skip(xt) + idt ht

Backward, with dy, dyt and g = 1 - h²:

    dh_ = idt dy,  dht_ = idt dyt
    dzt = g dht_
    dz  = g (dh_ - 2 h zt dht_)
    dW  = xᵀ dz + xtᵀ dzt,  db = Σ dz,  d idt = Σ (dy h + dyt ht)
    dx  = fold(dy) + dz Wᵀ,  dxt = fold(dyt) + dzt Wᵀ     (fold: the skip's adjoint)

On the CPU each layer is one compiled loop over blocks of rows (deepft.ops.embedding): the
matrix products and the element-wise work around them (activation, tangent, skip connections;
in the backward dz, dzt, the input and parameter gradients) on a block that stays in cache,
instead of a dozen torch operations that each streamed a ``rows x width`` array through memory.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from deepft.ops import embedding as ops


class TanhTangentLayer(torch.autograd.Function):
    """One tanh layer with its tangent; inputs/outputs are 2-D (rows x width)."""

    @staticmethod
    def forward(ctx, x, xt, matrix, bias, idt, skip: str):
        h, zt, y, yt = ops.tanh_tangent_layer(x, xt, matrix, bias, idt, skip)
        ctx.save_for_backward(x, xt, matrix, idt, h, zt)
        ctx.skip = skip
        return y, yt

    @staticmethod
    @once_differentiable
    def backward(ctx, dy, dyt):
        x, xt, matrix, idt, h, zt = ctx.saved_tensors
        need = ctx.needs_input_grad
        dx, dxt, d_matrix, d_bias, d_idt = ops.tanh_tangent_layer_backward(
            x, xt, matrix, idt, ctx.skip, h, zt, dy, dyt, want_matrix=need[2],
            want_idt=idt is not None and need[4], want_x=need[0] or need[1])
        return (dx if need[0] else None, dxt if need[1] else None, d_matrix,
                d_bias if need[3] else None, d_idt, None)


def tanh_tangent(layer, x: torch.Tensor, xt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(y, yt) of a tanh :class:`~deepft.model.network.Layer` for ``... x in`` inputs."""
    lead = x.shape[:-1]
    x2, xt2 = x.reshape(-1, layer.num_in), xt.reshape(-1, layer.num_in)
    y, yt = TanhTangentLayer.apply(x2, xt2, layer.effective_matrix(), layer.bias, layer.idt,
                                   layer.skip)
    return y.reshape(*lead, layer.num_out), yt.reshape(*lead, layer.num_out)
