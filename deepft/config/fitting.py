"""Schema of ``model/fitting_net``: the energy fitting net (type ``ener``).

One net per atom type maps the descriptor of an atom to its atomic energy (eV); the energy bias
per type is added on top. Keys, defaults and docs follow DeePMD-kit 3 (``fitting_ener``).
"""

from __future__ import annotations

from dargs import Argument, Variant

from deepft.config._args import (
    activation_arg,
    all_positive,
    inert,
    precision_arg,
    seed_arg,
)

DOC_TRAINABLE = (
    "Whether the fitting net is trained: a bool for the whole net, or a list of bools, one per "
    "layer (``len(neuron) + 1`` entries: the hidden layers, then the output layer)."
)


def ener_args() -> list[Argument]:
    return [
        Argument("neuron", list[int], optional=True, default=[120, 120, 120], alias=["n_neuron"],
                 extra_check=all_positive, extra_check_errmsg="must hold positive integers",
                 doc="Widths of the hidden layers of the fitting net. When two consecutive "
                     "hidden layers have the same width, a skip connection is built."),
        activation_arg("fitting net"),
        precision_arg("fitting net"),
        Argument("resnet_dt", bool, optional=True, default=True,
                 doc="Whether to use a \"Timestep\" (a trainable per-neuron scale ``idt``) in "
                     "the skip connections of the fitting net."),
        Argument("trainable", [list[bool], bool], optional=True, default=True,
                 doc=DOC_TRAINABLE),
        seed_arg("fitting net"),
        inert("numb_fparam", int, 0, "frame parameters"),
        inert("numb_aparam", int, 0, "atomic parameters"),
        inert("default_fparam", [list[float], None], None, "frame parameters"),
        inert("dim_case_embd", int, 0, "case embedding"),
        inert("rcond", [float, None], None, "lstsq cut-off of the energy bias"),
        inert("atom_ener", list, [], "fixed atomic energies"),
        inert("use_aparam_as_mask", bool, False, "atomic-parameter mask"),
    ]


def fitting_variant() -> Variant:
    return Variant("type", [
        Argument("ener", dict, ener_args(),
                 doc="Energy fitting: atomic energy = net[type](descriptor) + bias[type] (eV)."),
    ], optional=True, default_tag="ener",
        doc="Type of the fitting net. deepft implements ``ener``.")


def fitting_arg() -> Argument:
    return Argument("fitting_net", dict, [], [fitting_variant()],
                    doc="The fitting net: descriptor -> atomic energy.")
