"""A torch model -> the contents of a model.dft (header dict and named tensors).

Every branch (or the ones asked for) is written with its tensors under their state-dict names; a
module shared by several branches (a multitask descriptor) is stored once and every branch's
prefix points at it (see deepft.io.model_file for the format). The model must be
inference-ready: LoRA adapters folded (deepft.checkpoint.frozen_ready_model).
"""

from __future__ import annotations

import json

import numpy as np

from deepft import __version__


def fittings_of(energy_model) -> list:
    """The fitting nets whose atomic energies a branch sums: the model's ``fitting`` plus any
    ``extra_fittings`` (new_head fine-tuning)."""
    return [energy_model.fitting, *list(getattr(energy_model, "extra_fittings", []) or [])]


def descriptor_config(d) -> dict:
    """The header's descriptor entry: every hyper-parameter the evaluators (C++ core,
    deepft.io.to_torch) need, under the keys of the normalized input."""
    common = {"sel": [int(s) for s in d.get_sel()], "rcut": float(d.rcut),
              "rcut_smth": float(d.rcut_smth), "neuron": [int(n) for n in d.neuron],
              "axis_neuron": int(d.axis_neuron), "resnet_dt": bool(d.resnet_dt),
              "type_one_side": bool(d.type_one_side),
              "activation_function": str(d.activation_function), "precision": str(d.precision)}
    if not d.mixed_types:
        return {"type": "se_e2_a", **common}
    return {"type": "dpa1", **common, "tebd_dim": int(d.tebd_dim),
            "tebd_input_mode": str(d.tebd_input_mode), "use_tebd_bias": bool(d.use_tebd_bias),
            "attn": int(d.attn), "attn_layer": int(d.attn_layer), "attn_dotr": bool(d.attn_dotr),
            "normalize": bool(d.normalize), "temperature": d.temperature,
            "scaling_factor": float(d.scaling_factor),
            "smooth_type_embedding": bool(d.smooth), "ln_eps": float(d.ln_eps),
            "concat_output_tebd": bool(d.concat_output_tebd)}


def fitting_config(f) -> dict:
    """The header's fitting entry; ``mixed_types``: one net (``nets.0``) serves every type."""
    return {"type": "ener", "neuron": [int(n) for n in f.neuron],
            "resnet_dt": bool(f.resnet_dt), "activation_function": str(f.activation_function),
            "precision": str(f.precision), "mixed_types": bool(f.mixed_types)}


def model_to_file_contents(root, branches: dict, config: dict) -> tuple[dict, dict]:
    """(header, tensors) of a model.dft holding ``branches`` (name -> EnergyModel) of ``root``.

    Each module is named by its first path in ``root.named_modules()``, so a module shared by
    several branches is written once and every branch points at the same prefix.
    """
    paths = {id(m): name for name, m in root.named_modules()}

    def prefix(module) -> str:
        name = paths[id(module)]
        return f"{name}." if name else ""

    tensors: dict[str, np.ndarray] = {}
    entries = {}
    for name, em in branches.items():
        fits = fittings_of(em)
        for module in (em.descriptor, *fits):
            for key, value in module.state_dict().items():
                tensors.setdefault(prefix(module) + key, value.detach().cpu().numpy())
        entries[name] = {
            "type_map": list(em.get_type_map()),
            "descriptor": descriptor_config(em.descriptor),
            "fitting_net": fitting_config(em.fitting),
            "descriptor_prefix": prefix(em.descriptor),
            "fitting_prefixes": [prefix(f) for f in fits],
        }
    first = next(iter(branches.values()))
    header = {
        "deepft_version": __version__,
        "type_map": list(first.get_type_map()),
        "default_branch": next(iter(branches)),
        "branches": entries,
        "config": json.loads(json.dumps(config, default=str)),
    }
    return header, tensors
