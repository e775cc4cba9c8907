"""A fitting net with an extra fresh head (the ``new_head`` fine-tuning method).

The extra head is the submodule ``new_head`` of the fitting: tensors
``<fitting prefix>new_head.nets.T.layers.L.*`` and ``<fitting prefix>new_head.bias_atom_e``. The
base prefix ``fitting.`` reads only ``nets.*`` and ``bias_atom_e``, so a reader summing the
atomic energies of both prefixes (the C++ core, through the model.dft ``fitting_prefixes``)
computes exactly this module's energy.
"""

from __future__ import annotations

import torch
from torch import nn

from deepft.model.fitting.energy import EnergyFitting


class FittingWithNewHead(EnergyFitting):
    """An inherited :class:`EnergyFitting` plus a fresh one whose atomic energies are added.

    ``E_i = nets[t_i](D_i) + bias_atom_e[t_i] + new_head(D_i, t_i)`` (eV). The inherited nets and
    bias keep their tensor names (``nets.*``, ``bias_atom_e``); the head is ``new_head.*``.
    """

    def __init__(self, base: EnergyFitting, head: EnergyFitting):
        nn.Module.__init__(self)
        for name in ("ntypes", "dim_descrpt", "neuron", "resnet_dt", "activation_function",
                     "precision", "seed", "trainable", "dtype", "mixed_types"):
            setattr(self, name, getattr(base, name))
        self.types_without_bias = list(getattr(base, "types_without_bias", []))
        self.nets = base.nets
        self.register_buffer("bias_atom_e", base.bias_atom_e)
        self.new_head = head

    def forward(self, descriptor: torch.Tensor, atype: torch.Tensor) -> torch.Tensor:
        """Atomic energies ``nframes x nloc`` (eV): inherited fitting + new head."""
        return super().forward(descriptor, atype) + self.new_head(descriptor, atype)

    def change_type_map(self, old_type_map, new_type_map, *, seed=None) -> list[int]:
        self.new_head.change_type_map(old_type_map, new_type_map, seed=seed)
        return super().change_type_map(old_type_map, new_type_map, seed=seed)


def new_head_for(base: EnergyFitting, scale_factor: float, seed: int | None) -> EnergyFitting:
    """A fresh fitting like ``base`` whose output layer (matrix, bias) is scaled by
    ``scale_factor`` and whose bias_atom_e is 0, so it adds a small correction at step 0."""
    head = EnergyFitting(base.ntypes, base.dim_descrpt, base.neuron, resnet_dt=base.resnet_dt,
                         activation_function=base.activation_function,
                         precision=base.precision, trainable=True, seed=seed,
                         mixed_types=base.mixed_types)
    head = head.to(base.bias_atom_e.device)
    with torch.no_grad():
        for net in head.nets:
            net.layers[-1].matrix.mul_(scale_factor)
            net.layers[-1].bias.mul_(scale_factor)
    return head
