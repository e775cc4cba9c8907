"""Random se_e2_a models written straight to model.dft with numpy (no torch), and frames.

The unit tests of DeepPot / the ASE calculator only need a reproducible, non-trivial model:
the agreement with the torch model is tested in tests/consistency/test_core_*.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepft.io.model_file import write_model_file


def _net(rng, prefix: str, widths: list[int], resnet_dt: bool, final: bool, dtype) -> dict:
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
                precision="float64", type_one_side=True, seed=0,
                activation="tanh") -> Path:
    """A random model; several branch names share the descriptor (a multitask file)."""
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
    dp = f"branches.{branches[0]}.descriptor." if multi else "descriptor."
    davg = np.zeros((nt, 4))
    davg[:, 0] = rng.uniform(0.1, 0.3, nt)
    dstd = np.ones((nt, 4))
    dstd[:, 0] = rng.uniform(0.2, 0.4, nt)
    dstd[:, 1:] = rng.uniform(0.1, 0.2, (nt, 1))
    tensors = {dp + "davg": davg.astype(dtype), dp + "dstd": dstd.astype(dtype)}
    for k in range(nt if type_one_side else nt * nt):
        tensors.update(_net(rng, f"{dp}embeddings.{k}.", [1, *neuron], False, False, dtype))
    entries = {}
    for name in branches:
        fp = f"branches.{name}.fitting." if multi else "fitting."
        for t in range(nt):
            tensors.update(_net(rng, f"{fp}nets.{t}.", [neuron[-1] * axis_neuron, *fitting, 1],
                                True, True, dtype))
        tensors[fp + "bias_atom_e"] = rng.normal(-50, 20, nt)
        entries[name] = {"type_map": list(type_map), "descriptor": desc, "fitting_net": fit,
                         "descriptor_prefix": dp, "fitting_prefixes": [fp]}
    header = {"deepft_version": "test", "type_map": list(type_map),
              "default_branch": branches[0], "branches": entries, "config": {}}
    return write_model_file(path, header, tensors)


def water_box(nmol: int = 8, box: float = 6.5, seed: int = 1):
    """A small periodic water-like box: coord [natoms, 3], cell [3, 3], types [natoms] (O=0,
    H=1), molecules on a jittered grid with O-H ~ 1 Å."""
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
