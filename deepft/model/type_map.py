"""Type-map change (fine-tuning onto a different element list): growth, slimming, reordering.

One mechanism (docs/deepmd-compatibility.md): for every element of the new map take the old row
``old.index(name)`` when the element is known, else a fresh default row. Applied to every
per-type object of the model:

* descriptor embedding nets (per neighbor type, or per (center, neighbor) pair): known -> the
  same module object (weights bit-exact), new -> a fresh net seeded by (seed, element names);
* descriptor davg/dstd rows: known -> copied, new -> 0 / 1 placeholders listed in
  ``descriptor.types_without_stats`` (the trainer computes fresh statistics for them);
* fitting nets: known -> kept, new -> fresh; ``bias_atom_e``: known -> copied, new -> 0 listed
  in ``fitting.types_without_bias`` (the trainer refits them).

DeePMD-kit refuses a type-map change for se_e2_a; deepft does it. Because se_e2_a normalizes by
nnei = sum(sel) and counts empty slots (davg != 0), dropping or adding neighbor types changes the
descriptor of an unchanged structure unless sum(sel) and davg allow otherwise; fine-tuning then
adapts the weights.
"""

from __future__ import annotations

from collections.abc import Sequence


def index_map(old_type_map: Sequence[str], new_type_map: Sequence[str]) -> list[int | None]:
    """For each new element its index in the old map, or None if it is new."""
    old, new = list(old_type_map), list(new_type_map)
    if len(set(new)) != len(new):
        raise ValueError(f"new type map {new} repeats an element")
    return [old.index(name) if name in old else None for name in new]


def change_type_map(model, new_type_map: Sequence[str], *, sel: Sequence[int] | None = None,
                    seed: int | None = None) -> dict[str, list[int]]:
    """Remap an EnergyModel or every branch of a MultiTaskModel to ``new_type_map`` (in place).

    Shared components (one object in several branches) are remapped once. Returns, per
    component path, the indices of new types: ``{"descriptor": [...], "fitting": [...]}`` for a
    single model, ``{"<branch>/descriptor": [...], ...}`` for a multitask model.
    """
    branches = getattr(model, "branches", None)
    if branches is None:
        return model.change_type_map(new_type_map, sel=sel, seed=seed)
    done: dict[int, list[int]] = {}
    report: dict[str, list[int]] = {}
    for name, branch in branches.items():
        old = branch.type_map
        for attr in ("descriptor", "fitting"):
            module = getattr(branch, attr)
            if id(module) not in done:
                kwargs = {"sel": sel} if attr == "descriptor" else {}
                done[id(module)] = module.change_type_map(old, new_type_map, seed=seed, **kwargs)
            report[f"{name}/{attr}"] = done[id(module)]
        branch.type_map = list(new_type_map)
    return report
