"""Models from normalized configuration sections (deepft.config.normalize output)."""

from __future__ import annotations

from deepft.errors import InputError
from deepft.model.descriptor.dpa1 import DescrptDPA1
from deepft.model.descriptor.se_e2_a import DescrptSeA
from deepft.model.energy_model import EnergyModel
from deepft.model.fitting.energy import EnergyFitting
from deepft.model.multitask import MultiTaskModel

#: normalized descriptor keys -> descriptor class arguments, per class (``type`` selects it)
SE_E2_A_KEYS = ("sel", "rcut", "rcut_smth", "neuron", "axis_neuron", "resnet_dt",
                "type_one_side", "activation_function", "precision", "trainable", "seed",
                "set_davg_zero")
DPA1_KEYS = SE_E2_A_KEYS + (
    "tebd_dim", "tebd_input_mode", "attn", "attn_layer", "attn_dotr", "scaling_factor",
    "normalize", "temperature", "smooth_type_embedding", "trainable_ln", "ln_eps",
    "use_tebd_bias", "concat_output_tebd")
V2_KEYS = tuple(k for k in DPA1_KEYS if k not in ("tebd_input_mode", "smooth_type_embedding"))
DESCRIPTORS = {"se_e2_a": (DescrptSeA, SE_E2_A_KEYS), "dpa1": (DescrptDPA1, DPA1_KEYS),
               "se_atten_v2": (DescrptDPA1, V2_KEYS)}
#: what a descriptor type fixes that its keys do not say
PRESETS = {"se_atten_v2": {"tebd_input_mode": "strip", "smooth_type_embedding": True}}
#: normalized fitting_net keys -> EnergyFitting arguments
FITTING_KEYS = ("neuron", "resnet_dt", "activation_function", "precision", "trainable", "seed")


def explicit_descriptor_section(desc_cfg: dict) -> dict:
    """The descriptor section with what its type fixes spelled out: ``se_atten_v2`` becomes
    ``dpa1`` with its presets (the form a frozen model's header stores)."""
    kind = desc_cfg.get("type")
    if kind not in PRESETS:
        return dict(desc_cfg)
    return {**desc_cfg, **PRESETS[kind], "type": "dpa1"}


def _check_keys(section: dict, known: tuple[str, ...], where: str) -> None:
    extra = sorted(set(section) - set(known) - {"type"})
    if extra:
        raise InputError(f"{where} has keys the model does not understand: {extra}",
                         hint="pass the section through deepft.config.normalize first")


def build_descriptor(desc_cfg: dict, ntypes: int, *, where: str = "model/descriptor"
                     ) -> DescrptSeA | DescrptDPA1:
    """The descriptor of a normalized descriptor section (``sel`` already a list; the schema
    has mapped the aliases se_a -> se_e2_a and se_atten / se_atten_v2 -> dpa1)."""
    kind = desc_cfg.get("type", "se_e2_a")
    if kind not in DESCRIPTORS:
        raise InputError(f"{where}/type {kind!r} is not implemented",
                         hint="deepft implements se_e2_a and dpa1; pass the section through "
                              "deepft.config.normalize first")
    cls, keys = DESCRIPTORS[kind]
    _check_keys(desc_cfg, keys, where)
    sel = desc_cfg["sel"]
    if not isinstance(sel, list):
        raise InputError(f"{where}/sel is {sel!r}: it must be resolved to a list before the "
                         "model is built", hint="the trainer resolves \"auto\" from the data")
    kwargs = {k: desc_cfg[k] for k in keys if k in desc_cfg}
    return cls(ntypes, **kwargs, **PRESETS.get(kind, {}))


def build_fitting(fit_cfg: dict, ntypes: int, dim_descrpt: int, *,
                  where: str = "model/fitting_net", mixed_types: bool = False) -> EnergyFitting:
    """EnergyFitting from a normalized fitting_net section (``mixed_types``: one net for all
    types, for descriptors that carry the atom type)."""
    kind = fit_cfg.get("type", "ener")
    if kind != "ener":
        raise InputError(f"{where}/type {kind!r} is not implemented",
                         hint="deepft implements the energy fitting (type ener)")
    _check_keys(fit_cfg, FITTING_KEYS, where)
    kwargs = {k: fit_cfg[k] for k in FITTING_KEYS if k in fit_cfg}
    return EnergyFitting(ntypes, dim_descrpt, mixed_types=mixed_types, **kwargs)


def build_model(model_cfg: dict, shared: dict | None = None, *,
                where: str = "model") -> EnergyModel:
    """EnergyModel from one normalized single-task model section.

    ``shared``: optional prebuilt components to reuse, ``{"descriptor": DescrptSeA,
    "fitting_net": EnergyFitting}`` (either key may be absent).
    """
    shared = shared or {}
    type_map = list(model_cfg["type_map"])
    descriptor = shared.get("descriptor")
    if descriptor is None:
        descriptor = build_descriptor(model_cfg["descriptor"], len(type_map),
                                      where=f"{where}/descriptor")
    fitting = shared.get("fitting_net")
    if fitting is None:
        fitting = build_fitting(model_cfg["fitting_net"], len(type_map), descriptor.dim_out,
                                where=f"{where}/fitting_net",
                                mixed_types=descriptor.mixed_types)
    return EnergyModel(descriptor, fitting, type_map)


def build_multitask_model(model_section: dict) -> MultiTaskModel:
    """MultiTaskModel from a normalized multitask model section (model_dict + shared_links).

    Every ``shared_links`` entry is built once (from the first branch that lists it) and the
    same module object is handed to every branch listed.
    """
    links = model_section.get("shared_links") or {}
    owner: dict[tuple[str, str], str] = {}
    for name, entries in links.items():
        for entry in entries:
            branch, _, comp = entry.partition("/")
            owner[(branch, comp)] = name
    built: dict[str, object] = {}
    branches = {}
    for branch, section in model_section["model_dict"].items():
        shared = {comp: built[owner[(branch, comp)]]
                  for comp in ("descriptor", "fitting_net")
                  if (branch, comp) in owner and owner[(branch, comp)] in built}
        model = build_model(section, shared, where=f"model/model_dict/{branch}")
        for comp, module in (("descriptor", model.descriptor), ("fitting_net", model.fitting)):
            if (branch, comp) in owner:
                built.setdefault(owner[(branch, comp)], module)
        branches[branch] = model
    return MultiTaskModel(branches, links)


def build_from_config(cfg: dict):
    """EnergyModel (single task) or MultiTaskModel (``model_dict`` present) from a normalized
    input (the whole dict with a ``model`` key, or the model section itself)."""
    model = cfg["model"] if "model" in cfg and isinstance(cfg["model"], dict) else cfg
    if "model_dict" in model:
        return build_multitask_model(model)
    return build_model(model)
