"""The memory-bound parts of the se_e2_a training step as fused loops (``deepft._core.train``).

A training step on a 192-atom water frame pushes ~20,000 neighbor rows through the embedding
nets; every element-wise torch operation on a ``rows x 100`` float64 array streams 16 MB through
memory, and the per-atom products with 4-row matrices (``torch.bmm`` with an inner size of 4)
run far below the arithmetic peak. These functions do each of those chains in one pass over
the rows, with hand-written first-order backwards; the matrix products of the layers stay with
torch. Shapes as in deepft.model.descriptor.se_e2_a: environment rows ``env`` (R̂)
``N x K x 4``, embedding rows ``g`` and their tangents ``gt = dG/dŝ`` ``N x K x M``,
``a = dE/dT`` ``N x 4 x M``.

On CPU tensors the compiled loops run; on other devices the same formulas run as torch
operations (``*_torch`` below), which are also the reference the tests compare the loops with.
The contractions use the loops only when ``env`` does not require grad (the training and
inference paths, where R̂ enters the nets detached); with a differentiable ``env`` (a caller
that needs derivatives of any order with respect to positions) they are torch operations.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

SKIP_CODES = {"none": 0, "same": 1, "double": 2}


def _core_train():
    from deepft import _core

    return _core.train


def _np(t: torch.Tensor | None):
    return None if t is None else t.detach().contiguous().numpy()


def _fold(d: torch.Tensor, skip: str, nin: int) -> torch.Tensor | None:
    """Adjoint of the skip connection: the part of dy that flows straight to x."""
    if skip == "same":
        return d
    if skip == "double":
        return d[..., :nin] + d[..., nin:]
    return None


# ---- tanh layer in forward mode ---------------------------------------------------------------

def tanh_tangent_layer(x: torch.Tensor, xt: torch.Tensor, matrix: torch.Tensor,
                       bias: torch.Tensor, idt: torch.Tensor | None, skip: str
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(h, zt, y, yt) of a tanh layer for inputs ``x`` and tangents ``xt`` (``rows x in``):
    ``z = x W + b``, ``zt = xt W``, ``h = tanh(z)``, ``y = idt h + skip(x)``,
    ``yt = idt (1 - h²) zt + skip(xt)`` (``rows x out``; skip "none", "same" or "double").
    h and zt are what :func:`tanh_tangent_layer_backward` needs. No autograd (called inside
    deepft.model.tangent's Function)."""
    if x.device.type == "cpu":
        return tuple(torch.from_numpy(a) for a in _core_train().tanh_tangent_layer(
            _np(x), _np(xt), _np(matrix), _np(bias), _np(idt), SKIP_CODES[skip]))
    return tanh_tangent_layer_torch(x, xt, matrix, bias, idt, skip)


def tanh_tangent_layer_torch(x, xt, matrix, bias, idt, skip):
    """Torch version of :func:`tanh_tangent_layer` (other devices, tests)."""
    if matrix.shape[0] == 1:
        z, zt = torch.addcmul(bias, x, matrix[0]), xt * matrix[0]
    else:
        z, zt = torch.addmm(bias, x, matrix), torch.mm(xt, matrix)
    h = torch.tanh(z)
    yt = zt - zt * h * h
    hs = h
    if idt is not None:
        hs = h * idt
        yt = yt * idt
    rows, nin = x.shape
    if skip == "same":
        return h, zt, x + hs, yt + xt
    if skip == "double":
        y = (hs.view(rows, 2, nin) + x[:, None, :]).view(rows, 2 * nin)
        yt = (yt.view(rows, 2, nin) + xt[:, None, :]).view(rows, 2 * nin)
        return h, zt, y, yt
    return h, zt, hs, yt


def tanh_tangent_layer_backward(x, xt, matrix, idt, skip: str, h, zt, dy, dyt, *,
                                want_matrix: bool, want_idt: bool, want_x: bool):
    """Backward of :func:`tanh_tangent_layer` for ``dy``, ``dyt``, with g = 1 - h²:
    ``dz = g (idt dy - 2 h zt idt dyt)``, ``dzt = g idt dyt``; returns (dx, dxt, d_matrix,
    d_bias, d_idt) with ``dx = skipᵀ(dy) + dz Wᵀ``, ``dxt = skipᵀ(dyt) + dzt Wᵀ``,
    ``d_matrix = xᵀ dz + xtᵀ dzt``, ``d_bias = Σ dz``, ``d_idt = Σ (dy h + dyt g zt)``; None
    where not wanted (d_bias is always given)."""
    if x.device.type == "cpu":
        out = _core_train().tanh_tangent_layer_backward(
            _np(x), _np(xt), _np(matrix), _np(idt), SKIP_CODES[skip], _np(h), _np(zt), _np(dy),
            _np(dyt), want_matrix, want_idt, want_x)
        return tuple(None if a is None else torch.from_numpy(a) for a in out)
    return tanh_tangent_layer_backward_torch(x, xt, matrix, idt, skip, h, zt, dy, dyt,
                                             want_matrix=want_matrix, want_idt=want_idt,
                                             want_x=want_x)


def tanh_tangent_layer_backward_torch(x, xt, matrix, idt, skip, h, zt, dy, dyt, *,
                                      want_matrix, want_idt, want_x):
    """Torch version of :func:`tanh_tangent_layer_backward` (other devices, tests)."""
    nin = x.shape[-1]
    dh, dht = (dy, dyt) if idt is None else (dy * idt, dyt * idt)
    g = 1.0 - h * h
    dz = g * (dh - 2.0 * h * zt * dht)
    dzt = g * dht
    d_idt = (dy * h).sum(0) + (dyt * (g * zt)).sum(0) if want_idt else None
    d_matrix = dx = dxt = None
    if want_matrix:
        d_matrix = (x.t() @ dz + xt.t() @ dzt) if nin > 1 else \
            ((x * dz).sum(0) + (xt * dzt).sum(0)).reshape(1, -1)
    if want_x:
        dx, dxt = (_matmul_add(_fold(d, skip, nin), e, matrix) for d, e in ((dy, dz), (dyt, dzt)))
    return dx, dxt, d_matrix, dz.sum(0), d_idt


def _matmul_add(base: torch.Tensor | None, d: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """base + d @ matrixᵀ (base None = 0)."""
    out = d @ matrix.t()
    return out if base is None else base + out


# ---- per-atom contractions of se_e2_a ----------------------------------------------------------

def env_contract(env: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """T = Σ_j R̂_jᵀ G_j per atom: ``env`` ``N x K x 4``, ``g`` ``N x K x M`` -> ``N x 4 x M``."""
    if env.device.type != "cpu" or env.requires_grad:
        return torch.bmm(env.transpose(1, 2), g)
    return _EnvContract.apply(env.contiguous(), g)


def pair_grad(env: torch.Tensor, g: torch.Tensor, gt: torch.Tensor,
              a: torch.Tensor) -> torch.Tensor:
    """dE/dR̂ ``N x K x 4`` of every slot given ``a = dE/dT``: through G directly and, on
    column 0, through ŝ = R̂[0] with the tangents ``gt = dG/dŝ``:
    ``out[j, c] = G_j · a_c + [c = 0] Σ_c' R̂_j[c'] (gt_j · a_c')``."""
    if env.device.type != "cpu" or env.requires_grad:
        return pair_grad_torch(env, g, gt, a)
    return _PairGrad.apply(env.contiguous(), g, gt, a)


def pair_grad_torch(env, g, gt, a):
    """Torch version of :func:`pair_grad` (other devices, differentiable geometry, tests)."""
    a_t = a.transpose(1, 2)  # N x M x 4
    direct = torch.bmm(g, a_t)  # N x K x 4
    through_s = (env * torch.bmm(gt, a_t)).sum(-1, keepdim=True)
    return torch.cat([direct[..., :1] + through_s, direct[..., 1:]], -1)


class _EnvContract(torch.autograd.Function):
    @staticmethod
    def forward(ctx, env, g):
        ctx.save_for_backward(env)
        return torch.from_numpy(_core_train().env_contract(_np(env), _np(g)))

    @staticmethod
    @once_differentiable
    def backward(ctx, dt):
        (env,) = ctx.saved_tensors
        return None, torch.from_numpy(_core_train().env_contract_backward(_np(env), _np(dt)))


class _PairGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, env, g, gt, a):
        ctx.save_for_backward(env, g, gt, a)
        return torch.from_numpy(_core_train().pair_grad(_np(env), _np(g), _np(gt), _np(a)))

    @staticmethod
    @once_differentiable
    def backward(ctx, v):
        env, g, gt, a = ctx.saved_tensors
        da, dg, dgt = _core_train().pair_grad_backward(_np(env), _np(g), _np(gt), _np(a), _np(v))
        return None, torch.from_numpy(dg), torch.from_numpy(dgt), torch.from_numpy(da)
