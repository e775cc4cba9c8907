"""The energy model: descriptor -> fitting -> energy, forces and virial by autograd.

Forces and virials come from ``g_ij = dE/dr_ij`` over the pair displacements
``r_ij = x_j + image @ box - x_i`` (:meth:`DescrptSeA.pair_gradient`: autograd for dE/dT through
the fitting nets, forward-mode dG/ds for the embedding nets, the kernel's VJP for the
environment matrix), reduced as DeePMD-kit's prod_force / prod_virial (the same reductions the
C++ inference core uses):

    force[i]  = -dE/dx_i = Σ_j g_ij - Σ_{k: i is k's neighbor} g_ki           (eV/Å)
    virial    = -Σ_pairs g_ij ⊗ r_ij   (virial[a*3+b] = -Σ g_a r_b)            (eV)
    atom_virial[j] -= g_ij ⊗ r_ij      (each pair term on the NEIGHBOR atom j)

The virial equals -dE/dε for a homogeneous strain x -> x(1+ε) of positions and box together.
In training mode the gradient keeps its graph (``create_graph``) so force and virial losses train
the parameters (double backward through the environment-matrix kernel).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from deepft._device import upload
from deepft.model import _ops
from deepft.model.descriptor.se_e2_a import DescrptSeA, PairGeometry
from deepft.model.fitting.energy import EnergyFitting


class EnergyModel(nn.Module):
    """descriptor (:class:`DescrptSeA` or :class:`DescrptDPA1`) + fitting
    (:class:`EnergyFitting`) over ``type_map``."""

    def __init__(self, descriptor: DescrptSeA, fitting: EnergyFitting, type_map: Sequence[str]):
        super().__init__()
        if descriptor.get_ntypes() != len(type_map) or fitting.ntypes != len(type_map):
            raise ValueError(f"type_map {list(type_map)} does not match descriptor "
                             f"({descriptor.get_ntypes()} types) / fitting ({fitting.ntypes})")
        if fitting.dim_descrpt != descriptor.dim_out:
            raise ValueError(f"fitting expects {fitting.dim_descrpt} descriptor columns, the "
                             f"descriptor gives {descriptor.dim_out}")
        self.descriptor = descriptor
        self.fitting = fitting
        self.type_map = list(type_map)

    def get_type_map(self) -> list[str]:
        return list(self.type_map)

    def get_rcut(self) -> float:
        return self.descriptor.get_rcut()

    def get_sel(self) -> list[int]:
        return self.descriptor.get_sel()

    def build_nlist(self, coord: torch.Tensor, box: torch.Tensor | None, atype,
                    check_overflow: bool = True):
        """Neighbor list for this model's rcut/sel, built outside autograd where ``coord``
        lives: the CPU kernels for CPU tensors, the CUDA kernels for CUDA tensors (nothing
        read back to the host; see deepft.ops.build_nlist for ``check_overflow``).

        coord ``nframes x nloc x 3`` (Å), box ``nframes x 9`` or None, atype ``nloc`` or
        ``nframes x nloc`` (every frame the same types). A host atype (numpy or CPU tensor) is
        checked on the host and its per-type center counts are recorded
        (``NeighborList.center_counts``), so that a CUDA step never reads types back.
        """
        nloc = coord.shape[1]
        on_host = not torch.is_tensor(atype) or atype.device.type == "cpu"
        counts = None
        if on_host:
            at = np.asarray(atype.detach() if torch.is_tensor(atype) else atype).astype(np.int64)
            if at.ndim == 2 and not (at == at[:1]).all():
                raise ValueError("frames of one call must share atom types (one system per batch)")
            frames = coord.shape[0] if at.ndim == 1 else at.shape[0]
            at = at.reshape(-1, nloc)[0]
            if (at >= 0).all():
                per_type = np.bincount(at, minlength=self.descriptor.get_ntypes())
                counts = tuple(int(frames * c) for c in per_type)
            types = at
        else:
            types = atype.reshape(-1, nloc)[0]
        if self.descriptor.mixed_types:  # one block: every type is 0
            types = np.where(types >= 0, 0, types) if on_host else torch.clamp(types, max=0)
        if coord.is_cuda:  # float64 positions, as on the CPU: the same neighbors at ties
            x = coord.detach().to(torch.float64)
            b = None if box is None else box.detach().to(torch.float64).reshape(-1, 9)
            types = upload(types, coord.device) if on_host else types
        else:
            x = coord.detach().cpu().to(torch.float64).numpy()
            b = None if box is None else box.detach().cpu().to(torch.float64).numpy().reshape(-1, 9)
            types = types if on_host else types.cpu().numpy()
        result = _ops.build_nlist(x, b, types, self.get_rcut(), self.get_sel(), check_overflow)
        result.center_counts = counts
        return result

    def forward(self, coord: torch.Tensor, box: torch.Tensor | None, atype: torch.Tensor,
                nlist=None, do_atomic_virial: bool = False) -> dict[str, torch.Tensor]:
        """Predictions for ``nframes`` frames of ``nloc`` atoms.

        coord ``nframes x nloc x 3`` (Å); box ``nframes x 9`` (rows = lattice vectors, Å) or
        None; atype ``nloc`` or ``nframes x nloc`` (indices into type_map); nlist a
        NeighborList of this model's rcut/sel (built here when None).

        Returns energy ``nframes`` (eV, float64), atom_energy ``nframes x nloc``, force
        ``nframes x nloc x 3`` (eV/Å), virial ``nframes x 9`` (eV) and, with
        ``do_atomic_virial``, atom_virial ``nframes x nloc x 9``.
        """
        nf, nloc = coord.shape[:2]
        if nlist is None:
            nlist = self.build_nlist(coord, box, atype)
        wants_positions = coord.requires_grad or (box is not None and box.requires_grad)
        # keep the graph to train on forces, or when the caller differentiates w.r.t. positions
        create_graph = (self.training or wants_positions) and torch.is_grad_enabled()
        with torch.enable_grad():
            desc, geo = self.descriptor.compute(coord, box, atype, nlist)
            at = torch.as_tensor(atype, device=coord.device).to(torch.int64)
            atom_energy = self.fitting(desc, at.reshape(-1, nloc).expand(nf, nloc))
            energy = atom_energy.sum(dim=-1)
            grad_rij = self.descriptor.pair_gradient(energy.sum(), geo, create_graph)
        out = {"energy": energy, "atom_energy": atom_energy}
        out.update(pair_reductions(grad_rij, geo, nloc, do_atomic_virial))
        if not create_graph:
            out = {k: v.detach() for k, v in out.items()}
        return out

    def change_type_map(self, new_type_map: Sequence[str], *, sel: Sequence[int] | None = None,
                        seed: int | None = None) -> dict[str, list[int]]:
        """Remap descriptor and fitting to ``new_type_map`` in place (see deepft.model.type_map).

        Returns ``{"descriptor": new types needing statistics, "fitting": new types needing a
        bias}`` (indices into the new type map).
        """
        old = self.type_map
        fresh_d = self.descriptor.change_type_map(old, new_type_map, sel=sel, seed=seed)
        fresh_f = self.fitting.change_type_map(old, new_type_map, seed=seed)
        self.type_map = list(new_type_map)
        return {"descriptor": fresh_d, "fitting": fresh_f}


def pair_reductions(grad_rij: torch.Tensor, geo: PairGeometry, nloc: int,
                    do_atomic_virial: bool) -> dict[str, torch.Tensor]:
    """force / virial (/ atom_virial) from ``g = dE/dr_ij`` (``nframes x nloc x nnei x 3``)."""
    nf = grad_rij.shape[0]
    g = torch.where(geo.mask[..., None], grad_rij, torch.zeros_like(grad_rij))
    frame = torch.arange(nf, device=g.device).reshape(nf, 1, 1) * nloc
    flat = (torch.clamp(geo.nlist, min=0) + frame).reshape(-1)
    as_neighbor = torch.zeros(nf * nloc, 3, dtype=g.dtype, device=g.device)
    as_neighbor = as_neighbor.index_add(0, flat, g.reshape(-1, 3))
    force = g.sum(dim=2) - as_neighbor.reshape(nf, nloc, 3)
    rij = geo.rij.to(g.dtype)
    # virial[a*3+b] = -sum g_a r_b
    pair_v = -(g[..., :, None] * rij[..., None, :]).reshape(nf, nloc, -1, 9)
    out = {"force": force, "virial": pair_v.sum(dim=(1, 2))}
    if do_atomic_virial:
        av = torch.zeros(nf * nloc, 9, dtype=g.dtype, device=g.device)
        out["atom_virial"] = av.index_add(0, flat, pair_v.reshape(-1, 9)).reshape(nf, nloc, 9)
    return out
