"""Energy fitting: one fitting net per atom type, plus a per-type energy bias.

    E_i = nets[t_i](D_i) + bias_atom_e[t_i]          (eV)

With ``mixed_types`` (descriptors that already carry the atom type, DPA-1; DeePMD-kit's
``mixed_types`` fitting) one net serves all types: ``E_i = nets[0](D_i) + bias_atom_e[t_i]``.

Tensor names (frozen model): ``nets.<t>.layers.<l>.{matrix,bias,idt}`` (fitting precision) and
``bias_atom_e`` (``ntypes``, always float64, as DeePMD-kit's ``out_bias``: per-atom energies of
hundreds of eV must not be rounded to float32). Atomic energies are returned in float64.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from deepft.model.network import FittingNet, derive_seed, get_dtype


class EnergyFitting(nn.Module):
    """Atomic energies from descriptors; see the module docstring."""

    def __init__(self, ntypes: int, dim_descrpt: int, neuron: Sequence[int],
                 resnet_dt: bool = True, activation_function: str = "tanh",
                 precision: str = "float64", trainable: bool | Sequence[bool] = True,
                 seed: int | None = None, mixed_types: bool = False):
        super().__init__()
        self.mixed_types = bool(mixed_types)
        self.ntypes, self.dim_descrpt = int(ntypes), int(dim_descrpt)
        self.neuron = [int(n) for n in neuron]
        self.resnet_dt, self.activation_function = bool(resnet_dt), activation_function
        self.precision, self.seed = precision, seed
        self.trainable = trainable if isinstance(trainable, bool) else list(trainable)
        self.dtype = get_dtype(precision)
        nnets = 1 if self.mixed_types else ntypes
        self.nets = nn.ModuleList([self._new_net(derive_seed(seed, t)) for t in range(nnets)])
        self.register_buffer("bias_atom_e", torch.zeros(ntypes, dtype=torch.float64))
        #: types whose bias is a placeholder (after a type-map change) until refit
        self.types_without_bias: list[int] = []

    def _new_net(self, seed: int | None) -> FittingNet:
        return FittingNet(self.dim_descrpt, self.neuron,
                          activation_function=self.activation_function,
                          resnet_dt=self.resnet_dt, precision=self.precision,
                          trainable=self.trainable, seed=seed)

    def parameters_of_types(self, types: Sequence[int]) -> list[nn.Parameter]:
        """The parameters used only for atoms of ``types``: their fitting nets (none with
        ``mixed_types``: the one net serves every type)."""
        if self.mixed_types:
            return []
        return [p for t in sorted(set(types)) for p in self.nets[t].parameters()]

    def forward(self, descriptor: torch.Tensor, atype: torch.Tensor) -> torch.Tensor:
        """Atomic energies ``nframes x nloc`` (eV, float64) from ``nframes x nloc x dim_descrpt``.

        atype: ``nframes x nloc`` int64 (or ``nloc``). The nets run in the fitting precision.
        """
        nf, nloc = descriptor.shape[:2]
        x = descriptor.reshape(nf * nloc, self.dim_descrpt).to(self.dtype)
        at = atype.reshape(-1, nloc).expand(nf, nloc).reshape(-1)
        if self.mixed_types:
            energy = self.nets[0](x).reshape(-1).to(torch.float64)
            return (energy + self.bias_atom_e.index_select(0, at)).reshape(nf, nloc)
        order = torch.argsort(at, stable=True)
        counts = np.bincount(at.cpu().numpy(), minlength=self.ntypes).tolist()  # tiny: no threads
        xs = x.index_select(0, order)
        outs, start = [], 0
        for t in range(self.ntypes):
            if counts[t]:
                outs.append(self.nets[t](xs[start:start + counts[t]]).reshape(-1))
            start += counts[t]
        energy = torch.cat(outs).index_select(0, torch.argsort(order)).to(torch.float64)
        energy = energy + self.bias_atom_e.index_select(0, at)
        return energy.reshape(nf, nloc)

    def change_type_map(self, old_type_map: Sequence[str], new_type_map: Sequence[str], *,
                        seed: int | None = None) -> list[int]:
        """Remap in place; returns the new types (fresh nets seeded by name, bias 0 flagged in
        ``types_without_bias``). Known types keep net and bias bit-exact."""
        from deepft.model.type_map import index_map

        old, new = list(old_type_map), list(new_type_map)
        if len(old) != self.ntypes:
            raise ValueError(f"old type map {old} has {len(old)} types, fitting {self.ntypes}")
        idx = index_map(old, new)
        seed = self.seed if seed is None else seed
        if self.mixed_types:
            nets = list(self.nets)
        else:
            nets = [self.nets[i] if i is not None
                    else self._new_net(derive_seed(seed, "type_map", new[t]))
                    for t, i in enumerate(idx)]
        bias = torch.zeros(len(new), dtype=self.bias_atom_e.dtype, device=self.bias_atom_e.device)
        with torch.no_grad():
            for t, i in enumerate(idx):
                if i is not None:
                    bias[t] = self.bias_atom_e[i]
        self.ntypes = len(new)
        self.nets = nn.ModuleList(nets)
        self.bias_atom_e = bias
        self.types_without_bias = [t for t, i in enumerate(idx) if i is None]
        return self.types_without_bias
