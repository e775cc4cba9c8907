"""Schema of ``model/descriptor``: ``se_e2_a`` (alias ``se_a``) and DPA-1 (``dpa1``, alias
``se_atten``, and ``se_atten_v2``).

Keys, defaults and docs follow DeePMD-kit 3.2.0 (``deepmd/utils/argcheck.py``,
``descrpt_se_a_args``, ``descrpt_se_atten_args``, ``descrpt_se_atten_v2_args``) for everything
deepft implements. A DPA-1 ``sel`` is one number (a list is summed, as DeePMD-kit does); the
cross-field checks store it as a one-entry list. ``sel`` may be ``"auto"`` or
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
    one_of,
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


DOC_MIXED_SEL = (
    "Number of selected neighbors, all types together (DPA-1 keeps one neighbor list sorted by "
    "distance): the most neighbors an atom keeps within ``rcut`` (the nearest). An int; a list "
    "is summed (DeePMD-kit's rule); or ``\"auto\"`` / ``\"auto:F\"``: the largest number of "
    "neighbors within ``rcut`` over the training data, times F (1.1 for ``\"auto\"``), "
    "rounded up to a multiple of 4."
)


def mixed_sel_ok(value: Any) -> bool:
    """A positive int, a list of non-negative ints with a positive sum, or auto / auto:F."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value > 0
    return sel_ok(value)


def dpa1_args(v2: bool = False) -> list[Argument]:
    """DPA-1 keys; ``v2`` (``se_atten_v2``) fixes ``tebd_input_mode: strip`` and the smooth type
    embedding, and its ``set_davg_zero`` defaults to false (DeePMD-kit 3.2.0)."""
    common = se_e2_a_args()
    by_name = {a.name: a for a in common}
    sel = Argument("sel", [int, list[int], str], optional=True, default="auto",
                   doc=DOC_MIXED_SEL, extra_check=mixed_sel_ok,
                   extra_check_errmsg="must be a positive integer, a list of non-negative "
                                      "integers with a positive sum, \"auto\" or \"auto:F\" "
                                      "with F >= 1")
    type_one_side = Argument(
        "type_one_side", bool, optional=True, default=False,
        doc="If true, the embedding net sees only the neighbor's type embedding; otherwise the "
            "neighbor's and the center atom's.")
    set_davg_zero = Argument(
        "set_davg_zero", bool, optional=True, default=not v2,
        doc="Set the normalization average of the environment matrix to zero (statistics then "
            "only scale).")
    args = [sel, by_name["rcut"], by_name["rcut_smth"], by_name["neuron"],
            by_name["axis_neuron"], inert("lmax", int, 1, "moment basis above degree 1"),
            activation_arg("embedding net"), by_name["resnet_dt"], type_one_side,
            precision_arg("descriptor"), by_name["trainable"], seed_arg("descriptor"),
            inert("exclude_types", list[list[int]], [], "excluded type pairs"),
            inert("env_protection", float, 0.0, "division protection"),
            Argument("attn", int, optional=True, default=128, extra_check=positive,
                     extra_check_errmsg="must be > 0",
                     doc="Width of the hidden vectors (query, key, value) of the attention "
                         "layers."),
            Argument("attn_layer", int, optional=True, default=2, extra_check=non_negative,
                     extra_check_errmsg="must be >= 0",
                     doc="Number of attention layers (0: no attention, the type embedding "
                         "alone makes the descriptor type-aware)."),
            Argument("attn_dotr", bool, optional=True, default=True,
                     doc="Multiply the attention weights by the angle term r̂_i · r̂_j of the "
                         "two neighbors."),
            inert("attn_mask", bool, False, "masking the attention diagonal; DeePMD-kit "
                                            "3.2.0's PyTorch backend refuses it too")]
    if not v2:
        args += [
            Argument("stripped_type_embedding", [bool, None], optional=True, default=None,
                     doc="Deprecated spelling of ``tebd_input_mode``: true means ``strip``, "
                         "false ``concat``; it overrides ``tebd_input_mode`` and is dropped "
                         "from the normalized input."),
            Argument("smooth_type_embedding", bool, optional=True, default=False,
                     alias=["smooth_type_embdding"],
                     doc="Smooth attention: the logits are shifted and scaled by the switch "
                         "function of both neighbors, so the descriptor stays smooth when a "
                         "neighbor crosses rcut; with ``strip`` the type gate is scaled by the "
                         "switch too."),
        ]
    args += [
        set_davg_zero,
        Argument("trainable_ln", bool, optional=True, default=True,
                 doc="Whether the layer-norm scale and shift are trained."),
        Argument("ln_eps", [float, None], optional=True, default=None,
                 doc="Epsilon of the layer norm; null means 1e-5 (DeePMD-kit's PyTorch "
                     "default)."),
        Argument("tebd_dim", int, optional=True, default=8, extra_check=positive,
                 extra_check_errmsg="must be > 0",
                 doc="Width of the atom-type embedding."),
        inert("use_econf_tebd", bool, False, "electronic-configuration type embedding"),
        Argument("use_tebd_bias", bool, optional=True, default=False,
                 doc="Whether the type-embedding layer has a bias."),
    ]
    if not v2:
        args.append(Argument(
            "tebd_input_mode", str, optional=True, default="concat",
            extra_check=one_of("concat", "strip"),
            extra_check_errmsg="must be \"concat\" or \"strip\"",
            doc="How the type embedding enters: ``concat`` (appended to the embedding-net "
                "input) or ``strip`` (a separate net of the type embeddings gates the radial "
                "embedding net's output)."))
    args += [
        Argument("scaling_factor", float, optional=True, default=1.0, extra_check=positive,
                 extra_check_errmsg="must be > 0",
                 doc="Attention logits are scaled by (attn * scaling_factor)^-1/2 unless "
                     "``temperature`` is given."),
        Argument("normalize", bool, optional=True, default=True,
                 doc="Normalize query, key and value vectors to unit length."),
        Argument("temperature", [float, None], optional=True, default=None,
                 doc="If given, the attention logits are scaled by this number instead."),
        Argument("concat_output_tebd", bool, optional=True, default=True,
                 doc="Append the center atom's type embedding to its descriptor."),
    ]
    return args


def descriptor_variant() -> Variant:
    doc_se = ("Smooth edition of DeepPot-SE using the full (radial and angular) environment "
              "matrix: D = (Gᵀ R̂)(R̂ᵀ G<) / Nc².")
    doc_dpa1 = ("DPA-1: a type embedding and gated self-attention over one mixed-type neighbor "
                "list; scales to many elements (one set of nets for all of them).")
    doc_v2 = ("DPA-1 with ``tebd_input_mode: strip`` and the smooth type embedding (DeePMD-kit's "
              "se_atten_v2).")
    return Variant("type", [
        Argument("se_e2_a", dict, se_e2_a_args(), alias=["se_a"], doc=doc_se),
        Argument("dpa1", dict, dpa1_args(), alias=["se_atten"], doc=doc_dpa1),
        Argument("se_atten_v2", dict, dpa1_args(v2=True), doc=doc_v2),
    ], optional=False, doc="Type of the descriptor. deepft implements ``se_e2_a`` (alias "
                           "``se_a``), ``dpa1`` (alias ``se_atten``) and ``se_atten_v2``.")


def descriptor_arg() -> Argument:
    return Argument("descriptor", dict, [], [descriptor_variant()],
                    doc="The descriptor of the atomic environment.")
