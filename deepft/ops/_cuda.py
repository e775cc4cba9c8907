"""CUDA entry points: torch CUDA tensors in and out, kernels run on torch's current stream.
The bindings receive the tensors themselves (``__cuda_array_interface__``) and check device,
dtype, shape and contiguity before any launch (TypeError / ValueError naming the argument).
Only imported for CUDA tensors."""

from __future__ import annotations

import numpy as np
import torch


def _suffix(dtype: torch.dtype) -> str:
    if dtype == torch.float64:
        return "f64"
    if dtype == torch.float32:
        return "f32"
    raise TypeError(f"CUDA kernels support float64 and float32, got {dtype}")


def _stream(device: torch.device) -> int:
    return torch.cuda.current_stream(device).cuda_stream


def _core():
    from deepft import _core

    if not _core.cuda_compiled():
        raise RuntimeError(
            "deepft was built without CUDA kernels; rebuild with nvcc available "
            "(DEEPFT_CUDA=ON) or use CPU tensors"
        )
    return _core


def build_nlist_cuda(coord, box, atype, rcut: float, sel: tuple[int, ...]):
    """build_nlist for CUDA tensors: ``(nlist, image, max_neighbors, type_counts)``, all CUDA
    tensors (nothing is read back), for deepft.ops.neighbor.build_nlist to wrap."""
    core = _core()
    dev = coord.device
    coord = coord.detach().contiguous()
    if coord.dtype not in (torch.float64, torch.float32):
        coord = coord.to(torch.float64)
    nframes, nloc = coord.shape[:2]
    if atype.dim() == 2:
        if not bool((atype == atype[:1]).all()):
            raise ValueError("the CUDA neighbor list needs the same atom types in every frame")
        atype = atype[0]
    atype = atype.to(device=dev, dtype=torch.int32).contiguous()
    if box is not None:
        box = box.detach().to(device=dev, dtype=coord.dtype).reshape(nframes, 9).contiguous()
    ntypes, nnei = len(sel), int(sum(sel))
    nlist = torch.empty((nframes, nloc, nnei), dtype=torch.int64, device=dev)
    image = torch.empty((nframes, nloc, nnei, 3), dtype=torch.int32, device=dev)
    max_nei = torch.empty((ntypes,), dtype=torch.int64, device=dev)
    counts = torch.empty((nframes, nloc, ntypes), dtype=torch.int64, device=dev)
    fn = getattr(core, f"build_nlist_cuda_{_suffix(coord.dtype)}")
    with torch.cuda.device(dev):
        fn(coord, box, atype, rcut, np.asarray(sel, dtype=np.int64), nlist, image=image,
           max_neighbors=max_nei, type_counts=counts, stream=_stream(dev))
    return nlist, image, max_nei, counts


def env_mat_call(op: int, rij, mask, center_type, davg, dstd, rcut, rcut_smth, a=None, b=None):
    """Runs one env-matrix kernel (op: 0 forward, 1 vjp, 2 jvp, 3 hvp) and returns its output.

    Shapes as in deepft.ops.env_mat; rij etc. are already flattened to ncenter x nnei.
    """
    core = _core()
    ncenter, nnei = rij.shape[:2]
    dev, dt = rij.device, rij.dtype
    width = {0: 4, 1: 3, 2: 4, 3: 3}[op]
    out = torch.empty((ncenter, nnei, width), dtype=dt, device=dev)
    fn = getattr(core, f"env_mat_se_a_cuda_{_suffix(dt)}")
    args = (rij.detach(), mask.detach(), center_type.detach(), davg.detach(), dstd.detach(),
            rcut, rcut_smth)
    a = None if a is None else a.detach().contiguous()
    b = None if b is None else b.detach().contiguous()
    stream = _stream(dev)
    with torch.cuda.device(dev):
        if op == 0:  # a = em, b = deriv (none)
            fn(0, *args, out, None, None, stream)
        elif op in (1, 2):  # a = incoming vector, b = output
            fn(op, *args, a, out, None, stream)
        else:  # a = grad_em, b = tangent_rij, c = output
            fn(3, *args, a, b, out, stream)
    return out


def prod_call(virial: bool, grad_rij, rij, nlist, nall: int, atomic: bool):
    """prod_force / prod_virial on CUDA tensors (nframes x nloc x nnei [x 3])."""
    core = _core()
    nframes = nlist.shape[0]
    dev, dt = grad_rij.device, grad_rij.dtype
    fn = getattr(core, f"prod_cuda_{_suffix(dt)}")
    grad_rij, nlist = grad_rij.detach().contiguous(), nlist.detach()
    with torch.cuda.device(dev):
        if not virial:
            force = torch.empty((nframes, nall, 3), dtype=dt, device=dev)
            fn(False, grad_rij, None, nlist, nall, force, None, _stream(dev))
            return force
        vir = torch.empty((nframes, 9), dtype=dt, device=dev)
        atom = torch.empty((nframes, nall, 9), dtype=dt, device=dev) if atomic else None
        fn(True, grad_rij, rij.detach().contiguous(), nlist, nall, vir, atom, _stream(dev))
    return (vir, atom) if atomic else vir
