"""A frozen model -> the same model with its embedding nets tabulated.

se_e2_a: every embedding net. DPA-1 (``dpa1`` / ``se_atten_v2``) with ``attn_layer: 0`` and
``tebd_input_mode: "strip"``: the one geometric net g(ŝ) (1 -> M, shared by all types); the
type part E(τ_j (, τ_i)) of G = g (1 + w E) is a constant per type pair that the C++ core
computes at load from the ``embedding_strip`` net kept in the file (no table).

The compressed file keeps every tensor of the original (the nets too: a reader that ignores the
table still evaluates the model exactly) and adds, per branch, the header entry
``compression`` and one coefficient tensor per embedding net::

    compression  {"type": "tabulated_quintic", "step": float, "extrapolate": float,
                  "min_nbor_dist": Å, "check_frequency": int (-1: no check),
                  "table_prefix": str, "nets": [{"lower": float, "n_fine": int,
                  "n_coarse": int}, ...]}       one entry per embedding net, in net order
                                                (DPA-1: one entry, the net g)
    <table_prefix>table.K  [n_fine + n_coarse, 6, M] float64, see deepft.compress.table

Branches sharing a descriptor (multitask) share its tables (one ``table_prefix``).
"""

from __future__ import annotations

import copy
import logging

import numpy as np

from deepft.compress.table import Grid, input_range, make_grid, tabulate
from deepft.errors import InputError
from deepft.io.model_file import FrozenModel

log = logging.getLogger("deepft.compress")

TABLE_TYPE = "tabulated_quintic"


def net_derivatives(net):
    """A function x ``[n]`` -> (G, dG/dx, d²G/dx²), each ``[n, M]`` float64, of one embedding
    net (a torch module ``[n, 1] -> [n, M]``), evaluated in float64 whatever its precision."""
    import torch
    from torch.func import jacfwd, vmap

    net64 = copy.deepcopy(net).double().eval()

    def value(x):
        return net64(x.reshape(1, 1)).reshape(-1)

    first = jacfwd(value)
    second = jacfwd(first)

    def run(x: np.ndarray):
        xt = torch.as_tensor(np.asarray(x, dtype=np.float64))
        with torch.no_grad():
            out = [vmap(f)(xt).numpy() for f in (value, first, second)]
        return tuple(out)

    return run


def tabulated_nets(descriptor) -> list:
    """The nets a compressed branch tabulates, in table order: se_e2_a's embedding nets, or
    DPA-1's geometric net ``embedding`` (strip, no attention)."""
    if getattr(descriptor, "mixed_types", False):
        return [descriptor.embedding]
    return list(descriptor.embeddings)


def net_grids(descriptor, davg: np.ndarray, dstd: np.ndarray, min_nbor_dist: float,
              step: float, extrapolate: float) -> list[Grid]:
    """The grid of each tabulated net: the input range over the center types that use it
    (DPA-1 or type_one_side: every type; otherwise the pair's center type)."""
    lower, upper = input_range(davg[:, 0], dstd[:, 0], min_nbor_dist,
                               float(descriptor.rcut_smth), float(descriptor.rcut))
    ntypes = descriptor.get_ntypes()
    shared = descriptor.type_one_side or getattr(descriptor, "mixed_types", False)
    grids = []
    for k in range(len(tabulated_nets(descriptor))):
        centers = list(range(ntypes)) if shared else [k // ntypes]
        lo, up = float(lower[centers].min()), float(upper[centers].max())
        try:
            grids.append(make_grid(lo, up, step, extrapolate))
        except ValueError as err:
            raise InputError(f"cannot tabulate embedding net {k}: {err}",
                             hint="check --step, --extrapolate and the shortest neighbor "
                                  "distance") from None
    return grids


def compress_frozen(frozen: FrozenModel, *, min_nbor_dist: float, step: float,
                    extrapolate: float, check_frequency: int) -> tuple[dict, dict]:
    """(header, tensors) of the compressed model (every branch; see the module docstring)."""
    from deepft.io.to_torch import frozen_branch_model

    header = {k: v for k, v in frozen.header.items()
              if k not in ("tensors", "blob_nbytes", "format_version")}
    header["branches"] = copy.deepcopy(header["branches"])
    tensors = {k: v for k, v in frozen.tensors.items() if not k.startswith("compressed.")}
    done: dict[str, list[dict]] = {}  # descriptor prefix -> net entries
    for name, br in header["branches"].items():
        check_compressible(frozen, name, br["descriptor"])
        prefix = br["descriptor_prefix"]
        table_prefix = "compressed." + prefix
        if prefix not in done:
            model = frozen_branch_model(frozen, name, allow_compressed=True)
            d = model.descriptor
            davg = np.asarray(frozen.tensors[prefix + "davg"], dtype=np.float64)
            dstd = np.asarray(frozen.tensors[prefix + "dstd"], dtype=np.float64)
            grids = net_grids(d, davg, dstd, min_nbor_dist, step, extrapolate)
            entries = []
            for k, (net, grid) in enumerate(zip(tabulated_nets(d), grids, strict=True)):
                tensors[f"{table_prefix}table.{k}"] = tabulate(net_derivatives(net), grid)
                entries.append({"lower": grid.lower, "n_fine": grid.n_fine,
                                "n_coarse": grid.n_coarse})
                log.info("branch %s, embedding net %d: table [%g, %g] step %g, to %g step %g "
                         "(%d intervals)", name, k, grid.lower, grid.upper, step, grid.xmax,
                         grid.stride1, grid.n_fine + grid.n_coarse)
            done[prefix] = entries
        br["compression"] = {"type": TABLE_TYPE, "step": float(step),
                             "extrapolate": float(extrapolate),
                             "min_nbor_dist": float(min_nbor_dist),
                             "check_frequency": int(check_frequency),
                             "table_prefix": table_prefix, "nets": done[prefix]}
    return header, tensors


def check_compressible(frozen: FrozenModel, name: str, desc: dict) -> None:
    """One-line InputError unless branch ``name``'s descriptor (header entry ``desc``) can be
    tabulated: se_e2_a, or DPA-1 with attn_layer 0 and tebd_input_mode "strip"."""
    kind = desc.get("type")
    where = f"{frozen.path}: branch {name}"
    if kind == "se_e2_a":
        return
    if kind != "dpa1":
        raise InputError(f"{where} has a {kind!r} descriptor; deepft compress tabulates se_e2_a "
                         "and DPA-1 (attn_layer 0, strip) embedding nets only",
                         hint="compress a model with an se_e2_a or DPA-1 descriptor")
    if int(desc.get("attn_layer", 0)) != 0:
        raise InputError(f"{where} is a DPA-1 descriptor with attn_layer {desc['attn_layer']}: "
                         "the attention mixes neighbors, so G cannot be tabulated per neighbor",
                         hint="only DPA-1 models trained with attn_layer 0 can be compressed")
    if desc.get("tebd_input_mode") != "strip":
        raise InputError(f"{where} is a DPA-1 descriptor with tebd_input_mode "
                         f"{desc.get('tebd_input_mode')!r}: its embedding net takes the type "
                         "embedding as input, so it is not a function of ŝ alone",
                         hint='only DPA-1 models trained with tebd_input_mode "strip" can be '
                              "compressed")


def is_compressed(frozen: FrozenModel) -> bool:
    """Whether any branch of ``frozen`` carries a tabulated embedding."""
    return any("compression" in br for br in frozen.header["branches"].values())
