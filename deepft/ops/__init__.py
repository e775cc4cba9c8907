"""Torch/numpy layer over the compiled kernels of ``deepft._core`` (source/lib).

- :func:`build_nlist`: formatted neighbor table ``nframes x nloc x sum(sel)`` (cell list, PBC).
- :func:`neighbor_list`: ASE-compatible full pair list ``(i, j, S)``.
- :func:`env_mat_se_a`: se_e2_a environment matrix as a twice-differentiable autograd function.
- :func:`pair_displacements`: ``r_ij`` from coordinates with a fast, twice-differentiable
  backward (forces and virial through the compiled force reduction).
- :func:`prod_force`, :func:`prod_virial`: pair gradients -> forces and virials (inference).
- ``deepft.ops.embedding``: fused loops of the training step (tanh layer in forward mode,
  se_e2_a contractions) with first-order backwards.

``deepft.ops.reference`` holds the pure-torch oracle the kernels are tested against.
"""

from __future__ import annotations

from deepft.ops.neighbor import NeighborList, build_nlist, neighbor_list

__all__ = [
    "NeighborList",
    "build_nlist",
    "env_mat_se_a",
    "neighbor_list",
    "pair_displacements",
    "prod_force",
    "prod_virial",
]


def __getattr__(name):
    # torch is imported only when the torch-facing functions are used
    if name == "env_mat_se_a":
        from deepft.ops.env_mat import env_mat_se_a

        return env_mat_se_a
    if name == "pair_displacements":
        from deepft.ops.pairs import pair_displacements

        return pair_displacements
    if name in ("prod_force", "prod_virial"):
        from deepft.ops import prod

        return getattr(prod, name)
    raise AttributeError(f"module 'deepft.ops' has no attribute {name!r}")
