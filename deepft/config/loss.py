"""Schema of ``loss`` (and of each ``loss_dict`` entry): the ``ener`` loss.

DeePMD-kit's prefactor schedule (``deepmd/pt/loss/ener.py``): each prefactor moves from its
``start_pref_*`` value to its ``limit_pref_*`` value with the learning rate,
``pref(t) = limit + (start - limit) * lr(t) / start_lr``.

deepft adds ``stage_splits``: a list of stages, each ``{"start_step" | "fraction", "pref_e",
"pref_f"}``. From its start on, a stage replaces the energy and force prefactors by fixed
values, so a run can e.g. fit forces first and energies later — usable with every fine-tuning
method. ``fraction`` (of ``training/numb_steps``) is turned into ``start_step`` during
normalization; the normalized list holds ``start_step``, ``pref_e``, ``pref_f`` sorted by
``start_step``.
"""

from __future__ import annotations

from dargs import Argument, Variant

from deepft.config._args import inert, non_negative


def start_doc(item: str, label: str, abbr: str) -> str:
    return (f"Prefactor of the {item} loss at the start of training (>= 0). If non-zero, the "
            f"{label} label must be given by {label}.npy in each data system. If both "
            f"start_pref_{abbr} and limit_pref_{abbr} are 0, the {item} term is ignored.")


def limit_doc(item: str) -> str:
    return (f"Prefactor of the {item} loss at the limit of training, i.e. when the learning "
            "rate goes to 0 (>= 0).")


PREFACTORS = (  # (abbr, item, label, start default, limit default) as in DeePMD-kit
    ("e", "energy", "energy", 0.02, 1.0),
    ("f", "force", "force", 1000.0, 1.0),
    ("v", "virial", "virial", 0.0, 0.0),
    ("ae", "atomic energy", "atom_ener", 0.0, 0.0),
    ("pf", "atomic prefactor force", "atom_pref", 0.0, 0.0),
)


def stage_args() -> list[Argument]:
    return [
        Argument("start_step", int, optional=True, extra_check=non_negative,
                 extra_check_errmsg="must be >= 0",
                 doc="First training step of this stage. Give this or ``fraction``."),
        Argument("fraction", float, optional=True,
                 extra_check=lambda v: 0.0 <= v < 1.0, extra_check_errmsg="must be in [0, 1)",
                 doc="Start of this stage as a fraction of ``training/numb_steps`` (start_step = "
                     "round(fraction * numb_steps)). Give this or ``start_step``."),
        Argument("pref_e", float, extra_check=non_negative, extra_check_errmsg="must be >= 0",
                 doc="Energy prefactor during this stage (replaces the scheduled one)."),
        Argument("pref_f", float, extra_check=non_negative, extra_check_errmsg="must be >= 0",
                 doc="Force prefactor during this stage (replaces the scheduled one)."),
    ]


def ener_args() -> list[Argument]:
    args = []
    for abbr, item, label, start, limit in PREFACTORS:
        args.append(Argument(f"start_pref_{abbr}", float, optional=True, default=start,
                             extra_check=non_negative, extra_check_errmsg="must be >= 0",
                             doc=start_doc(item, label, abbr)))
        args.append(Argument(f"limit_pref_{abbr}", float, optional=True, default=limit,
                             extra_check=non_negative, extra_check_errmsg="must be >= 0",
                             doc=limit_doc(item)))
    args.append(Argument(
        "stage_splits", list, stage_args(), repeat=True, optional=True, default=[],
        doc="(deepft) Loss-weight stages: from each stage's start step on, the energy and "
            "force prefactors are the stage's fixed ``pref_e``/``pref_f`` instead of the "
            "start/limit schedule (the other terms keep their schedule). Before the first "
            "stage the schedule applies. Example, forces first then energies: "
            "``[{\"start_step\": 0, \"pref_e\": 0.02, \"pref_f\": 1000}, "
            "{\"fraction\": 0.5, \"pref_e\": 1, \"pref_f\": 1}]``."))
    args += [
        inert("start_pref_h", float, 0.0, "Hessian loss"),
        inert("limit_pref_h", float, 0.0, "Hessian loss"),
        inert("start_pref_gf", float, 0.0, "generalized force loss"),
        inert("limit_pref_gf", float, 0.0, "generalized force loss"),
        inert("numb_generalized_coord", int, 0, "generalized force loss"),
        inert("use_default_pf", bool, False, "default atom_pref"),
        inert("relative_f", [float, None], None, "relative force error"),
        inert("enable_atom_ener_coeff", bool, False, "atomic energy coefficients"),
        inert("use_huber", bool, False, "Huber loss"),
        inert("huber_delta", [float, list[float]], 0.01, "Huber loss"),
        inert("loss_func", str, "mse", "loss function; deepft uses mse"),
        inert("f_use_norm", bool, False, "force-norm loss"),
        inert("intensive_ener_virial", bool, False, "1/N² energy/virial normalization"),
    ]
    return args


def loss_variant() -> Variant:
    return Variant("type", [
        Argument("ener", dict, ener_args(),
                 doc="Energy/force/virial loss: L = pref_e·ΔE²/N + pref_f·⟨ΔF²⟩ + "
                     "pref_v·⟨ΔΞ²⟩/N + pref_ae·⟨ΔE_atom²⟩ + pref_pf·⟨atom_pref·ΔF²⟩."),
    ], optional=True, default_tag="ener", doc="Type of the loss. deepft implements ``ener``.")


def loss_arg() -> Argument:
    return Argument("loss", dict, [], [loss_variant()], optional=True, default={},
                    doc="The loss function and its prefactor schedule.")


def loss_dict_arg() -> Argument:
    return Argument("loss_dict", dict, [], [loss_variant()], repeat=True, fold_subdoc=True,
                    doc="(multitask) Branch name -> loss (same keys as ``loss``); every branch "
                        "of model/model_dict needs one.")
