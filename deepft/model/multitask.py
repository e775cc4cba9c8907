"""Multitask model: named branches (EnergyModel each) that may share components.

``MultiTaskModel.branches`` is an ``nn.ModuleDict`` branch -> EnergyModel. Branches whose
descriptor (or fitting net) came from the same ``shared_dict`` entry hold the SAME module object:
one set of weights, statistics and biases, updated by every branch's loss. The state dict lists a
shared tensor once per branch (``branches.<b>.descriptor.davg``...); loading writes the same
object each time. ``shared_links`` (link name -> ["branch/descriptor", ...]) records the sharing.
"""

from __future__ import annotations

import torch
from torch import nn

from deepft.model.energy_model import EnergyModel


class MultiTaskModel(nn.Module):
    """Branches of energy models; see the module docstring."""

    def __init__(self, branches: dict[str, EnergyModel],
                 shared_links: dict[str, list[str]] | None = None):
        super().__init__()
        if not branches:
            raise ValueError("a multitask model needs at least one branch")
        self.branches = nn.ModuleDict(branches)
        self.shared_links = {k: list(v) for k, v in (shared_links or {}).items()}

    def branch_names(self) -> list[str]:
        return list(self.branches.keys())

    def forward(self, coord: torch.Tensor, box: torch.Tensor | None, atype: torch.Tensor, *,
                branch: str, nlist=None, do_atomic_virial: bool = False) -> dict:
        """The predictions of branch ``branch`` (see :meth:`EnergyModel.forward`)."""
        if branch not in self.branches:
            raise KeyError(f"no branch {branch!r}; branches are {self.branch_names()}")
        return self.branches[branch](coord, box, atype, nlist=nlist,
                                     do_atomic_virial=do_atomic_virial)
