"""Random se_e2_a ``model.dft`` files written with numpy alone (no torch), and a water box.

The inference, ASE and LAMMPS tests compare two evaluations of the same file (DeepPot, the
plugin, the torch model), so the weights only need to be reproducible and non-trivial: random
layers with the DeePMD-kit layer rule, descriptor statistics of water-like magnitude and
energy biases. The agreement with the torch model is tested in tests/consistency.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepft.io.model_file import write_model_file

#: the water-sized model of the LAMMPS tests and benchmark: DeePMD-kit's water se_e2_a
#: architecture (rcut 6 Å, sel 46/92) with smaller nets, statistics and biases (eV) like the
#: water data, the descriptor of a multi-branch file stored once under ``shared.``.
LAMMPS_WATER = {
    "sel": (46, 92), "rcut": 6.0, "neuron": (8, 16, 32), "fitting": (32, 32, 32),
    "davg_range": (0.05, 0.15), "dstd_radial_range": (0.15, 0.25),
    "dstd_angular_range": (0.08, 0.12), "bias_mean": (-93.5, -187.2, -40.0, -10.0),
    "bias_spread": 0.1, "shared_prefix": "shared.", "config": "type_map",
    "float32_bias": True,
}


def _layers(rng, prefix: str, widths: list[int], resnet_dt: bool, final: bool, dtype) -> dict:
    """Tensors of one network: layer k maps widths[k] -> widths[k+1]; ``final`` marks the
    last layer as the linear output layer (no idt)."""
    out = {}
    for k in range(len(widths) - 1):
        n_in, n_out = widths[k], widths[k + 1]
        last = final and k == len(widths) - 2
        out[f"{prefix}layers.{k}.matrix"] = rng.normal(0, 1 / np.sqrt(n_in + n_out),
                                                       (n_in, n_out)).astype(dtype)
        out[f"{prefix}layers.{k}.bias"] = rng.normal(0, 1, n_out).astype(dtype)
        if resnet_dt and not last and n_out in (n_in, 2 * n_in):
            out[f"{prefix}layers.{k}.idt"] = rng.normal(0.1, 0.001, n_out).astype(dtype)
    return out


def write_model(path, *, type_map=("O", "H"), sel=(24, 48), rcut=4.0, rcut_smth=0.5,
                neuron=(4, 8, 16), axis_neuron=4, fitting=(16, 16), branches=("Default",),
                precision="float64", type_one_side=True, seed=0, activation="tanh",
                davg_range=(0.1, 0.3), dstd_radial_range=(0.2, 0.4),
                dstd_angular_range=(0.1, 0.2), bias_mean=-50.0, bias_spread=20.0,
                shared_prefix=None, config="empty", float32_bias=False) -> Path:
    """Write a random single- or multi-branch model; returns ``path``.

    Several branch names share one descriptor (a multitask file), stored under
    ``shared_prefix`` or, by default, under the first branch. ``davg`` (ntypes x 4) has
    ``davg_range`` in its radial column; ``dstd`` has ``dstd_radial_range`` and one angular
    value per type in ``dstd_angular_range``. Each branch's bias_atom_e (eV, ntypes) is
    ``bias_mean`` (scalar or per type) + ``bias_spread`` x N(0, 1); it stays float64 in a
    float32 model unless ``float32_bias``. ``config`` is the header's config: "empty" or
    "type_map" (``{"model": {"type_map": ...}}``).
    """
    rng = np.random.default_rng(seed)
    dtype = np.float32 if precision == "float32" else np.float64
    nt = len(type_map)
    desc = {"type": "se_e2_a", "sel": list(sel), "rcut": rcut, "rcut_smth": rcut_smth,
            "neuron": list(neuron), "axis_neuron": axis_neuron, "resnet_dt": False,
            "type_one_side": type_one_side, "activation_function": activation,
            "precision": precision}
    fit = {"type": "ener", "neuron": list(fitting), "resnet_dt": True,
           "activation_function": activation, "precision": precision}
    multi = len(branches) > 1
    dp = "descriptor."
    if multi:
        dp = f"{shared_prefix or f'branches.{branches[0]}.'}descriptor."
    davg = np.zeros((nt, 4))
    davg[:, 0] = rng.uniform(*davg_range, nt)
    dstd = np.ones((nt, 4))
    dstd[:, 0] = rng.uniform(*dstd_radial_range, nt)
    dstd[:, 1:] = rng.uniform(*dstd_angular_range, (nt, 1))
    tensors = {dp + "davg": davg.astype(dtype), dp + "dstd": dstd.astype(dtype)}
    for k in range(nt if type_one_side else nt * nt):
        tensors.update(_layers(rng, f"{dp}embeddings.{k}.", [1, *neuron], False, False, dtype))
    bias_dtype = dtype if float32_bias else np.float64
    mean = np.full(nt, bias_mean, dtype=np.float64) if np.ndim(bias_mean) == 0 \
        else np.asarray(bias_mean, dtype=np.float64)[:nt]
    entries = {}
    for name in branches:
        fp = f"branches.{name}.fitting." if multi else "fitting."
        for t in range(nt):
            tensors.update(_layers(rng, f"{fp}nets.{t}.", [neuron[-1] * axis_neuron, *fitting, 1],
                                   True, True, dtype))
        tensors[fp + "bias_atom_e"] = (mean + rng.normal(0, bias_spread, nt)).astype(bias_dtype)
        entries[name] = {"type_map": list(type_map), "descriptor": desc, "fitting_net": fit,
                         "descriptor_prefix": dp, "fitting_prefixes": [fp]}
    header = {"deepft_version": "test", "type_map": list(type_map),
              "default_branch": branches[0], "branches": entries,
              "config": {"model": {"type_map": list(type_map)}} if config == "type_map" else {}}
    return write_model_file(path, header, tensors)


def write_random_model(path, **overrides) -> Path:
    """:func:`write_model` with the :data:`LAMMPS_WATER` preset (``overrides`` win)."""
    return write_model(path, **{**LAMMPS_WATER, **overrides})


def water_box(nmol: int = 8, box: float = 6.5, seed: int = 1):
    """A small periodic water-like box: coord [natoms, 3] (Å), cell [3, 3] (Å, triclinic),
    types [natoms] (O=0, H=1); molecules on a jittered grid with O-H ~ 1 Å."""
    rng = np.random.default_rng(seed)
    n = int(np.ceil(nmol ** (1 / 3)))
    grid = np.array([[i, j, k] for i in range(n) for j in range(n) for k in range(n)])[:nmol]
    centers = (grid + 0.5) * box / n + rng.normal(0, 0.15, (nmol, 3))
    coords, types = [], []
    for c in centers:
        d1, d2 = rng.normal(size=3), rng.normal(size=3)
        coords += [c, c + d1 / np.linalg.norm(d1), c + d2 / np.linalg.norm(d2)]
        types += [0, 1, 1]
    cell = np.diag([box, box, box]) + rng.normal(0, 0.1, (3, 3))  # triclinic
    return np.array(coords), cell, np.array(types)
