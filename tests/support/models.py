"""Small torch energy models (deepft.model) with random weights and non-trivial statistics.

Three families, each tuned for what its tests need:

- :func:`small_model_cfg` + :func:`set_random_stats`: tiny nets (unit tests of the model).
- :func:`physics_model`: an O/H/C model whose weights give smooth, non-trivial energies
  (physics tests: invariances, derivatives, smoothness).
- :func:`model_section` + :func:`build_energy_model`: data-sized nets with statistics from real
  frames, frozen with :func:`freeze_to` (C++ core against torch consistency tests).

Units: energies eV, coordinates Å; ``davg``/``dstd`` are ntypes x 4.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from deepft.model import build_model

ELEMENTS = ["O", "H", "C"]  # one type map for water and organic frames
PHYSICS_TYPE_MAP = ("O", "H", "C")


def small_model_cfg(type_map, *, type_one_side=True, seed=7, resnet_dt=False,
                    activation="tanh", precision="float64", sel=None):
    """A normalized single-task model section with small nets (every resnet path present)."""
    return {
        "type_map": list(type_map),
        "descriptor": {"type": "se_e2_a", "sel": sel or [20, 40, 12][:len(type_map)],
                       "rcut": 4.0, "rcut_smth": 0.5, "neuron": [4, 8, 8],
                       "axis_neuron": 3, "activation_function": activation,
                       "resnet_dt": resnet_dt, "type_one_side": type_one_side,
                       "precision": precision, "trainable": True, "seed": seed,
                       "set_davg_zero": False},
        "fitting_net": {"type": "ener", "neuron": [10, 10], "activation_function": activation,
                        "precision": precision, "resnet_dt": True, "trainable": True,
                        "seed": seed + 1},
    }


def set_random_stats(model, seed=0, angular=False):
    """Non-trivial davg/dstd (and bias) so that normalization and empty slots matter."""
    rng = np.random.default_rng(seed)
    n = model.descriptor.get_ntypes()
    davg = np.zeros((n, 4))
    davg[:, 0] = rng.uniform(0.05, 0.3, n)
    if angular:
        davg[:, 1:] = rng.uniform(-0.05, 0.05, (n, 3))
    dstd = rng.uniform(0.08, 0.3, (n, 4))
    model.descriptor.set_stats(davg, dstd)
    with torch.no_grad():
        model.fitting.bias_atom_e.copy_(torch.as_tensor(rng.normal(-5, 2, n)))
    return model


#: the descriptors every physics test runs on
PHYSICS_DESCRIPTORS = ("se_e2_a", "dpa1")


def physics_descriptor(kind: str, type_one_side: bool, precision: str, seed: int) -> dict:
    """se_e2_a, or DPA-1 in its smooth setting (strip + smooth type embedding, two attention
    layers): with nonzero davg that is the DPA-1 form that stays smooth at rcut."""
    common = {"rcut": 4.5, "rcut_smth": 1.0, "neuron": [6, 12, 12], "axis_neuron": 4,
              "resnet_dt": True, "type_one_side": type_one_side, "precision": precision,
              "seed": seed}
    if kind == "se_e2_a":
        return {"type": "se_e2_a", "sel": [24, 48, 8], **common}
    return {"type": "dpa1", "sel": [60], "tebd_dim": 4, "attn": 8, "attn_layer": 2,
            "tebd_input_mode": "strip", "smooth_type_embedding": True,
            "set_davg_zero": False, **common}


def physics_model(type_one_side: bool = True, precision: str = "float64", seed: int = 3,
                  descriptor: str = "se_e2_a"):
    """A randomly initialized model over O/H/C with data-like davg/dstd and a random bias
    (``descriptor``: one of PHYSICS_DESCRIPTORS)."""
    cfg = {
        "type_map": list(PHYSICS_TYPE_MAP),
        "descriptor": physics_descriptor(descriptor, type_one_side, precision, seed),
        "fitting_net": {"type": "ener", "neuron": [16, 16], "precision": precision,
                        "seed": seed + 1},
    }
    model = build_model(cfg)
    rng = np.random.default_rng(seed)
    davg = np.zeros((3, 4))
    davg[:, 0] = rng.uniform(0.05, 0.2, 3)
    dstd = np.concatenate([rng.uniform(0.1, 0.2, (3, 1)), rng.uniform(0.05, 0.1, (3, 1)).repeat(
        3, axis=1)], axis=1)
    model.descriptor.set_stats(davg, dstd)
    with torch.no_grad():
        model.fitting.bias_atom_e.copy_(torch.as_tensor(rng.normal(-3.0, 1.0, 3)))
    return model.eval()


def random_rotation(seed: int) -> torch.Tensor:
    """A proper rotation matrix (3 x 3, det +1), float64."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return torch.as_tensor(q)


def model_section(type_one_side: bool, precision: str = "float64", *, type_map=ELEMENTS,
                  sel=(48, 96, 8), neuron=(8, 16, 32), axis_neuron=4, fitting=(32, 32, 32),
                  rcut=6.0, rcut_smth=1.0, seed=1, activation="tanh") -> dict:
    """A normalized single-task model section (skip connections of both kinds: 8->16->32
    doubles, 32->32 keeps the width; resnet_dt on the fitting net)."""
    return {
        "type_map": list(type_map),
        "descriptor": {"type": "se_e2_a", "sel": list(sel), "rcut": rcut,
                       "rcut_smth": rcut_smth, "neuron": list(neuron),
                       "axis_neuron": axis_neuron, "resnet_dt": True,
                       "type_one_side": type_one_side, "activation_function": activation,
                       "precision": precision, "seed": seed},
        "fitting_net": {"type": "ener", "neuron": list(fitting), "resnet_dt": True,
                        "activation_function": activation, "precision": precision,
                        "seed": seed + 1},
    }


def dpa1_model_section(precision: str = "float64", *, type_map=ELEMENTS, sel=120,
                       tebd_input_mode="strip", attn_layer=2, type_one_side=False,
                       smooth_type_embedding=True, seed=1, **descriptor) -> dict:
    """A normalized single-task DPA-1 model section with data-sized nets (rcut 6 Å, sel 120
    over all types, 8 -> 16 -> 32 embedding: both skip rules; attention width 16, tebd 6;
    nonzero davg: ``set_davg_zero`` false); ``descriptor`` overrides any DPA-1 key."""
    desc = {"type": "dpa1", "sel": [sel], "rcut": 6.0, "rcut_smth": 1.0, "neuron": [8, 16, 32],
            "axis_neuron": 4, "tebd_dim": 6, "tebd_input_mode": tebd_input_mode, "attn": 16,
            "attn_layer": attn_layer, "type_one_side": type_one_side,
            "smooth_type_embedding": smooth_type_embedding, "resnet_dt": True,
            "set_davg_zero": False, "precision": precision, "seed": seed, **descriptor}
    return {"type_map": list(type_map), "descriptor": desc,
            "fitting_net": {"type": "ener", "neuron": [32, 32], "resnet_dt": True,
                            "precision": precision, "seed": seed + 1}}


def random_dpa1_model(type_map=("O", "H"), *, seed=0, branches=("Default",), **descriptor):
    """A DPA-1 model (EnergyModel, or MultiTaskModel over ``branches`` sharing the
    descriptor) with random weights and water-like statistics (nonzero davg) and biases,
    without data: the LAMMPS and inference tests compare evaluations of the same file.
    Default: the smooth form (strip + smooth type embedding, 2 attention layers), rcut 4.5 Å,
    sel 60, small nets; ``descriptor`` overrides dpa1_model_section's keys."""
    from deepft.model import build_multitask_model

    keys = {"rcut": 4.5, "sel": 60, "neuron": [4, 8], "attn": 8, "tebd_dim": 4, **descriptor}
    sel = keys.pop("sel")
    section = dpa1_model_section(type_map=type_map, sel=sel, seed=seed, **keys)
    if len(branches) == 1:
        models = {branches[0]: build_model(section)}
        root = models[branches[0]]
    else:
        root = build_multitask_model({
            "model_dict": {b: dict(section, fitting_net=dict(section["fitting_net"], seed=k))
                           for k, b in enumerate(branches)},
            "shared_links": {"descriptor": [f"{b}/descriptor" for b in branches]}})
        models = dict(root.branches.items())
    rng = np.random.default_rng(seed)
    nt = len(type_map)
    davg = np.zeros((nt, 4))
    davg[:, 0] = rng.uniform(0.05, 0.15, nt)
    dstd = np.concatenate([rng.uniform(0.15, 0.25, (nt, 1)),
                           rng.uniform(0.08, 0.12, (nt, 1)).repeat(3, axis=1)], axis=1)
    for model in models.values():
        model.descriptor.set_stats(davg, dstd)
        with torch.no_grad():
            model.fitting.bias_atom_e.copy_(torch.as_tensor(
                np.array([-93.5, -187.2, -40.0][:nt]) + rng.normal(0, 0.1, nt)))
    return root.eval()


def write_dpa1_model(path: Path, **kwargs) -> Path:
    """:func:`random_dpa1_model` frozen to ``path`` (see there for ``kwargs``)."""
    return freeze_to(random_dpa1_model(**kwargs), path)


def randomize_stats(model, samples: list[dict], seed: int) -> None:
    """Statistics from real frames, then energy biases ~ -93 / -187 / -40 eV per type."""
    descriptor = model.descriptor
    stats = descriptor.compute_input_stats(samples)
    descriptor.set_stats(stats["davg"], stats["dstd"])
    rng = np.random.default_rng(seed)
    bias = np.array([-93.5, -187.2, -40.0, -10.0][:model.fitting.ntypes])
    with torch.no_grad():
        model.fitting.bias_atom_e.copy_(torch.as_tensor(bias + rng.normal(0, 0.5, bias.shape)))


def build_energy_model(section: dict, samples: list[dict], seed: int = 0):
    """:func:`build_model` of ``section`` with :func:`randomize_stats`, in eval mode."""
    model = build_model(section)
    randomize_stats(model, samples, seed)
    return model.eval()


def freeze_to(model, path: Path, branches: dict | None = None, config: dict | None = None):
    """Write ``model`` (EnergyModel or MultiTaskModel) with the freeze serializer."""
    from deepft.io.export import model_to_file_contents
    from deepft.io.model_file import write_model_file

    if branches is None:
        branches = dict(model.branches.items()) if hasattr(model, "branches") \
            else {"Default": model}
    header, tensors = model_to_file_contents(model, branches, config or {})
    return write_model_file(path, header, tensors)


def torch_predict(model, coord, box, atype) -> dict:
    """The torch model's predictions as float64 numpy arrays (atomic virial included)."""
    dtype = torch.float64
    c = torch.as_tensor(coord, dtype=dtype)
    b = None if box is None else torch.as_tensor(box, dtype=dtype)
    out = model(c, b, torch.as_tensor(atype), do_atomic_virial=True)
    return {k: v.detach().double().numpy() for k, v in out.items()}
