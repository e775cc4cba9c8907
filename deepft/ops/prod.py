"""Force and virial reductions from pair gradients (inference path; no autograd).

With ``g = dE/d r_ij`` (``nframes x nloc x nnei x 3``) and ``r_ij = x_j - x_i``:
``force[i] += sum_j g_ij``, ``force[j] -= g_ij`` (F = -dE/dx); DeePMD-kit's virial
``virial[a * 3 + b] = -sum_pairs g_ij[a] r_ij[b]`` (eV), per-atom terms on the neighbor j.
Accepts numpy arrays or torch tensors (CPU or CUDA) and returns the same kind.
"""

from __future__ import annotations

import numpy as np


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def prod_force(grad_rij, nlist, nall: int):
    """``force``: ``nframes x nall x 3`` (eV/Å) from ``grad_rij`` and ``nlist`` (int64,
    ``nframes x nloc x nnei``, -1 padded, indices < nall)."""
    if _is_torch(grad_rij) and grad_rij.is_cuda:
        from deepft.ops._cuda import prod_call

        return prod_call(False, grad_rij.detach().contiguous(), None,
                         nlist.to(grad_rij.device).long().contiguous(),
                         int(nall), False)
    from deepft import _core

    if _is_torch(grad_rij):
        import torch

        out = _core.prod_force(grad_rij.detach().cpu().numpy(),
                               np.asarray(nlist.cpu().numpy(), dtype=np.int64), int(nall))
        return torch.from_numpy(out)
    return _core.prod_force(np.asarray(grad_rij), np.asarray(nlist, dtype=np.int64), int(nall))


def prod_virial(grad_rij, rij, nlist, nall: int, atomic: bool = False):
    """``virial``: ``nframes x 9`` (eV), and with ``atomic`` also ``atom_virial``:
    ``nframes x nall x 9`` (each pair term on its neighbor atom j)."""
    if _is_torch(grad_rij) and grad_rij.is_cuda:
        from deepft.ops._cuda import prod_call

        return prod_call(True, grad_rij.detach().contiguous(),
                         rij.detach().to(grad_rij.dtype).contiguous(),
                         nlist.to(grad_rij.device).long().contiguous(), int(nall), atomic)
    from deepft import _core

    if _is_torch(grad_rij):
        import torch

        out = _core.prod_virial(grad_rij.detach().cpu().numpy(), rij.detach().cpu().numpy(),
                                np.asarray(nlist.cpu().numpy(), dtype=np.int64), int(nall), atomic)
        if atomic:
            return torch.from_numpy(out[0]), torch.from_numpy(out[1])
        return torch.from_numpy(out)
    grad_rij = np.asarray(grad_rij)
    return _core.prod_virial(grad_rij, np.asarray(rij, dtype=grad_rij.dtype),
                             np.asarray(nlist, dtype=np.int64), int(nall), atomic)
