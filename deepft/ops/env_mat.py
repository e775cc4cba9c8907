"""se_e2_a environment matrix as a torch autograd function over the C++/CUDA kernels.

Same signature and values as :func:`deepft.ops.reference.env_mat_se_a` (the oracle): with
``r = |r_ij|``, ``s = sw(r) / r`` (quintic switch between ``rcut_smth`` and ``rcut``), the row
of a neighbor is ``(s, s x/r, s y/r, s z/r)``, normalized by the center type's ``davg`` /
``dstd``, and exactly 0 in padded slots.

Differentiable with respect to ``rij`` to second order: the backward pass is itself an autograd
function whose derivative w.r.t. the incoming gradient is a Jacobian-vector product and w.r.t.
``rij`` a Hessian-vector product, so force losses train the network and ``gradgradcheck``
passes. ``davg`` / ``dstd`` are statistics, not parameters: no gradient flows to them.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

_FORWARD, _VJP, _JVP, _HVP = 0, 1, 2, 3


def _call(op: int, geo: tuple, a=None, b=None) -> torch.Tensor:
    """Runs one kernel on ``geo = (rij, mask, center_type, davg, dstd, rcut, rcut_smth)``
    (``rij``: ncenter x nnei x 3 contiguous, mask bool, center_type int32)."""
    rij, mask, ctype, davg, dstd, rcut, rcut_smth = geo
    if rij.is_cuda:
        from deepft.ops._cuda import env_mat_call

        return env_mat_call(op, rij, mask, ctype, davg, dstd, rcut, rcut_smth, a, b)
    from deepft import _core

    args = (rij.numpy(), mask.numpy(), ctype.numpy(), davg.numpy(), dstd.numpy(), rcut,
            rcut_smth)
    if op == _FORWARD:
        out = _core.env_mat_se_a(*args)
    elif op == _VJP:
        out = _core.env_mat_se_a_vjp(*args, a.contiguous().numpy())
    elif op == _JVP:
        out = _core.env_mat_se_a_jvp(*args, a.contiguous().numpy())
    else:
        out = _core.env_mat_se_a_hvp(*args, a.contiguous().numpy(), b.contiguous().numpy())
    return torch.from_numpy(out)


class _EnvMatSeA(torch.autograd.Function):
    @staticmethod
    def forward(ctx, rij, mask, ctype, davg, dstd, rcut, rcut_smth):
        geo = (rij, mask, ctype, davg, dstd, rcut, rcut_smth)
        ctx.save_for_backward(rij, mask, ctype, davg, dstd)
        ctx.cut = (rcut, rcut_smth)
        return _call(_FORWARD, geo)

    @staticmethod
    def backward(ctx, grad_em):
        rij, mask, ctype, davg, dstd = ctx.saved_tensors
        grad_rij = _EnvMatSeAVjp.apply(grad_em, rij, mask, ctype, davg, dstd, *ctx.cut)
        return grad_rij, None, None, None, None, None, None


class _EnvMatSeAVjp(torch.autograd.Function):
    """grad_rij = sum_k grad_em[k] d em[k] / d rij, differentiable in grad_em and rij."""

    @staticmethod
    def forward(ctx, grad_em, rij, mask, ctype, davg, dstd, rcut, rcut_smth):
        geo = (rij, mask, ctype, davg, dstd, rcut, rcut_smth)
        ctx.save_for_backward(grad_em, rij, mask, ctype, davg, dstd)
        ctx.cut = (rcut, rcut_smth)
        return _call(_VJP, geo, grad_em.detach())

    @staticmethod
    @once_differentiable
    def backward(ctx, v):
        grad_em, rij, mask, ctype, davg, dstd = ctx.saved_tensors
        geo = (rij, mask, ctype, davg, dstd, *ctx.cut)
        d_grad_em = _call(_JVP, geo, v) if ctx.needs_input_grad[0] else None
        d_rij = _call(_HVP, geo, grad_em, v) if ctx.needs_input_grad[1] else None
        return d_grad_em, d_rij, None, None, None, None, None, None


def env_mat_se_a(
    rij: torch.Tensor,
    mask: torch.Tensor,
    center_type: torch.Tensor,
    davg: torch.Tensor,
    dstd: torch.Tensor,
    rcut: float,
    rcut_smth: float,
) -> torch.Tensor:
    """Normalized se_e2_a environment matrix (compiled kernel; CPU or CUDA by ``rij.device``).

    Args:
        rij: ``nframes x nloc x nnei x 3`` neighbor minus center position (Å), float64 or
            float32; padded slots may hold anything.
        mask: ``nframes x nloc x nnei`` bool, True for real neighbors.
        center_type: ``nframes x nloc`` int, type of each center atom.
        davg, dstd: ``ntypes x 4`` per-center-type mean and standard deviation.
        rcut, rcut_smth: cutoff and start of the switching region (Å), ``0 <= rcut_smth < rcut``.

    Returns:
        ``nframes x nloc x nnei x 4``, 0 in padded slots.
    """
    if rij.dtype not in (torch.float64, torch.float32):
        raise TypeError(f"rij must be float64 or float32, got {rij.dtype}")
    lead = rij.shape[:-1]  # nframes x nloc x nnei
    if rij.dim() != 4 or rij.shape[-1] != 3 or tuple(mask.shape) != tuple(lead):
        raise ValueError(
            f"rij must be nframes x nloc x nnei x 3 and mask nframes x nloc x nnei, got "
            f"{tuple(rij.shape)} and {tuple(mask.shape)}"
        )
    nf, nloc, nnei = lead
    dev, dt = rij.device, rij.dtype
    flat = rij.reshape(nf * nloc, nnei, 3).contiguous()  # ncenter x nnei x 3
    mask_f = mask.reshape(nf * nloc, nnei).to(device=dev, dtype=torch.bool).contiguous()
    ctype = center_type.reshape(nf * nloc).to(device=dev, dtype=torch.int32).contiguous()
    davg = davg.detach().to(device=dev, dtype=dt).contiguous()
    dstd = dstd.detach().to(device=dev, dtype=dt).contiguous()
    em = _EnvMatSeA.apply(flat, mask_f, ctype, davg, dstd, float(rcut), float(rcut_smth))
    return em.reshape(nf, nloc, nnei, 4)
