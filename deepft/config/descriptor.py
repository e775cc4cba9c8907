"""Schema of ``model/descriptor``: the ``se_e2_a`` descriptor (alias ``se_a``).

Keys, defaults and docs follow DeePMD-kit 3 (``deepmd/utils/argcheck.py``,
``descrpt_se_a_args``) for everything deepft implements. ``sel`` may be ``"auto"`` or
``"auto:F"``: the trainer then counts the largest number of neighbors of each type within
``rcut`` over the training data, multiplies by F (1.1 for ``"auto"``) and rounds up to a
multiple of 4; the config layer only validates the spelling.
"""

from __future__ import annotations

from typing import Any

from dargs import Argument, Variant

from deepft.config._args import (
    activation_arg,
    all_non_negative,
    all_positive,
    inert,
    non_negative,
    positive,
    precision_arg,
    seed_arg,
)

DOC_SEL = (
    "Number of selected neighbors of each type (``list[int]``, one entry per element of "
    "``type_map``): ``sel[i]`` is the most type-i neighbors an atom keeps within ``rcut`` (the "
    "nearest ones). It should be at least the largest count in the data. Or a string: "
    "``\"auto\"`` or ``\"auto:F\"`` (F a number >= 1): count the largest number of neighbors of "
    "each type within ``rcut`` over the training data, multiply by F and round up to a multiple "
    "of 4; ``\"auto\"`` is ``\"auto:1.1\"``."
)


def sel_ok(value: Any) -> bool:
    """``list[int]`` of non-negative counts with a positive sum, or ``auto`` / ``auto:F``."""
    if isinstance(value, list):
        return all_non_negative(value) and sum(value) > 0
    return parse_auto_sel(value) is not None


def parse_auto_sel(value: str) -> float | None:
    """Factor of ``"auto"`` (1.1) or ``"auto:F"``; None when the string is malformed."""
    if value == "auto":
        return 1.1
    head, _, factor = value.partition(":")
    if head != "auto" or not factor:
        return None
    try:
        number = float(factor)
    except ValueError:
        return None
    return number if number >= 1.0 else None


def se_e2_a_args() -> list[Argument]:
    return [
        Argument("sel", [list[int], str], optional=True, default="auto", doc=DOC_SEL,
                 extra_check=sel_ok,
                 extra_check_errmsg="must be a list of non-negative integers with a positive "
                                    "sum, \"auto\" or \"auto:F\" with a number F >= 1"),
        Argument("rcut", float, optional=True, default=6.0, extra_check=positive,
                 extra_check_errmsg="must be > 0",
                 doc="Cut-off radius (Å): neighbors farther than this are not seen."),
        Argument("rcut_smth", float, optional=True, default=0.5, extra_check=non_negative,
                 extra_check_errmsg="must be >= 0 (and < rcut)",
                 doc="Where smoothing starts (Å): s(r) = 1/r below ``rcut_smth`` and goes "
                     "smoothly to 0 at ``rcut``. Requires 0 <= rcut_smth < rcut."),
        Argument("neuron", list[int], optional=True, default=[10, 20, 40],
                 extra_check=lambda v: len(v) > 0 and all_positive(v),
                 extra_check_errmsg="must be a non-empty list of positive integers",
                 doc="Widths of the hidden layers of the embedding net. When a layer is as wide "
                     "as the previous one, or twice as wide, a skip connection is built."),
        Argument("axis_neuron", int, optional=True, default=4, alias=["n_axis_neuron"],
                 extra_check=positive, extra_check_errmsg="must be > 0",
                 doc="Number of columns of the embedding matrix G used as the second factor of "
                     "the descriptor (the size of the submatrix G<); at most neuron[-1]."),
        activation_arg("embedding net"),
        Argument("resnet_dt", bool, optional=True, default=False,
                 doc="Whether to use a \"Timestep\" (a trainable per-neuron scale ``idt``) in "
                     "the skip connections of the embedding net."),
        Argument("type_one_side", bool, optional=True, default=False,
                 doc="If true, the embedding net depends only on the neighbor type (ntypes "
                     "nets); otherwise on the pair (center type, neighbor type) (ntypes² nets)."),
        precision_arg("embedding net"),
        Argument("trainable", bool, optional=True, default=True,
                 doc="Whether the parameters of the embedding nets are trained."),
        seed_arg("embedding nets"),
        Argument("set_davg_zero", bool, optional=True, default=False,
                 doc="Set the average of the environment-matrix normalization to zero "
                     "(statistics then only scale)."),
        inert("exclude_types", list[list[int]], [], "excluded type pairs"),
        inert("env_protection", float, 0.0, "division protection"),
    ]


def descriptor_variant() -> Variant:
    doc_se = ("Smooth edition of DeepPot-SE using the full (radial and angular) environment "
              "matrix: D = (Gᵀ R̂)(R̂ᵀ G<) / Nc².")
    return Variant("type", [
        Argument("se_e2_a", dict, se_e2_a_args(), alias=["se_a"], doc=doc_se),
    ], optional=False, doc="Type of the descriptor. deepft implements ``se_e2_a`` (alias "
                           "``se_a``).")


def descriptor_arg() -> Argument:
    return Argument("descriptor", dict, [], [descriptor_variant()],
                    doc="The descriptor of the atomic environment.")
