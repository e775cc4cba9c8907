"""The torch oracle of a compressed model (``deepft compress``): the torch model whose tabulated
embedding nets (se_e2_a: every net; DPA-1 strip: the geometric net g(ŝ)) are replaced by the
same piecewise quintics, evaluated through the model's own code path.

:func:`assert_core_equals_table_oracle` compares it with the C++ core on the compressed file.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch

from deepft.compress.model import tabulated_nets
from deepft.compress.table import Grid
from deepft.infer import DeepPot
from deepft.io.model_file import read_model_file

from .models import torch_predict
from .tolerances import STRICT

KEYS = ("energy", "force", "virial", "atom_energy", "atom_virial")
#: ``--step`` of the oracle tests: 7 fine intervals over the water data's range of ŝ, forces
#: ~1e-5 eV/Å from the nets' (step 1: ~3e-7), far above STRICT
COARSE_STEP = 2.0


class TableNet(torch.nn.Module):
    """Torch oracle of one tabulated net (deepft.compress.table's layout): G and dG/dŝ, held
    at the end values outside [lower, xmax) (dG/dŝ = 0 there), as the C++ core does."""

    def __init__(self, coef: np.ndarray, grid: Grid):
        super().__init__()
        self.grid, self.starts = grid, grid.starts()
        self.coef = torch.as_tensor(np.array(coef))  # a writable copy

    def forward_tangent(self, x, fused=True):
        xd = x[..., 0].detach().numpy()
        q = np.clip(np.searchsorted(self.starts, xd, side="right") - 1, 0, len(self.starts) - 1)
        inside = torch.as_tensor((xd >= self.grid.lower) & (xd < self.grid.xmax))
        t = x[..., 0] - torch.as_tensor(self.starts[q])
        end = torch.as_tensor(np.where(xd < self.grid.lower, 0.0, self.grid.widths()[q]))
        t = torch.where(inside, t, end)[..., None]
        c = self.coef[torch.as_tensor(q)]  # ... x 6 x M
        val, der = c[..., 5, :], 5 * c[..., 5, :]
        for p in range(4, -1, -1):
            val = val * t + c[..., p, :]
            if p:
                der = der * t + p * c[..., p, :]
        return val, torch.where(inside[..., None], der, torch.zeros_like(der))

    def forward(self, x):
        return self.forward_tangent(x)[0]


@contextmanager
def table_nets(model, compressed_path):
    """Within the block, each net of ``model.descriptor`` that the compressed file tabulates
    (deepft.compress.model.tabulated_nets, in table order) is a :class:`TableNet` of its
    table; the nets are put back on exit."""
    frozen = read_model_file(compressed_path)
    entry = frozen.branch()["compression"]
    descriptor = model.descriptor
    nets = tabulated_nets(descriptor)
    assert len(nets) == len(entry["nets"]), (len(nets), entry["nets"])
    slots = {id(m): name for name, m in descriptor.named_modules()}
    swaps = []  # (parent module, attribute, net)
    for k, (net, e) in enumerate(zip(nets, entry["nets"], strict=True)):
        parent, _, attr = slots[id(net)].rpartition(".")
        table = TableNet(frozen.tensors[f"{entry['table_prefix']}table.{k}"],
                         Grid(e["lower"], entry["step"], e["n_fine"], e["n_coarse"]))
        swaps.append((descriptor.get_submodule(parent), attr, net))
        setattr(swaps[-1][0], attr, table)  # ModuleList entries are attributes "0", "1", ...
    try:
        yield model
    finally:
        for parent, attr, net in swaps:
            setattr(parent, attr, net)


def assert_core_equals_table_oracle(model, compressed_path, frames, case: str) -> dict:
    """The C++ core (DeepPot) on ``compressed_path`` equals the table oracle of ``model``
    (the model that was frozen and compressed): energy, forces, virial, atomic energies and
    atomic virials, to STRICT (energy and virial: STRICT per atom). Also checks that the table
    is coarse enough to differ from the nets (forces by > 100 STRICT). Returns the max
    absolute difference per key."""
    coord, box, atype = frames
    natoms = len(atype)
    plain = torch_predict(model, coord, box, atype)
    with table_nets(model, compressed_path):
        want = torch_predict(model, coord, box, atype)
    got = dict(zip(KEYS, DeepPot(compressed_path).eval(coord, box, atype, atomic=True),
                   strict=True))
    coarse = np.abs(plain["force"] - want["force"]).max()
    assert coarse > 100 * STRICT, f"{case}: table too fine (forces differ by {coarse:.2e})"
    errors = {k: float(np.abs(got[k] - want[k].reshape(got[k].shape)).max()) for k in KEYS}
    print(f"{case}: " + ", ".join(f"d{k} {v:.2e}" for k, v in errors.items()))
    for key, err in errors.items():
        atol = STRICT * natoms if key in ("energy", "virial") else STRICT
        assert err <= atol, f"{case}: {key} differs by {err:.2e} (tolerance {atol:.0e})"
    return errors
