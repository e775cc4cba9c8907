"""Small random se_e2_a energy models written straight to model.dft (tests and benchmarks).

The LAMMPS tests compare the plugin with deepft.infer.DeepPot on the same file, so the
weights only need to be reproducible and non-trivial: random layers with the DeePMD-kit layer
rule, statistics of water-like magnitude, and energy biases.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepft.io.model_file import write_model_file


def _layers(rng, prefix: str, widths: list[int], resnet_dt: bool, final: bool) -> dict:
    """Tensors of one network: layer L maps widths[L] -> widths[L+1]; `final` marks the last
    layer as the linear output layer (no idt)."""
    out = {}
    for k in range(len(widths) - 1):
        n_in, n_out = widths[k], widths[k + 1]
        last = final and k == len(widths) - 2
        scale = 1.0 / np.sqrt(n_in + n_out)
        out[f"{prefix}layers.{k}.matrix"] = rng.normal(0, scale, (n_in, n_out))
        out[f"{prefix}layers.{k}.bias"] = rng.normal(0, 1.0, (n_out,))
        if resnet_dt and not last and n_out in (n_in, 2 * n_in):
            out[f"{prefix}layers.{k}.idt"] = rng.normal(0.1, 0.001, (n_out,))
    return out


def write_random_model(
    path: str | Path,
    *,
    type_map=("O", "H"),
    sel=(46, 92),
    rcut=6.0,
    rcut_smth=0.5,
    neuron=(8, 16, 32),
    axis_neuron=4,
    fitting=(32, 32, 32),
    seed=0,
    branches=("Default",),
    precision="float64",
) -> Path:
    """Write a random single- or multi-branch se_e2_a model; returns ``path``.

    With several branch names the descriptor is shared and every branch has its own fitting
    net (a multitask model.dft). Energies are in eV with biases ~ -93 eV (O) / -187 eV (H)
    like the water data.
    """
    rng = np.random.default_rng(seed)
    ntypes = len(type_map)
    descriptor = {
        "type": "se_e2_a", "sel": list(sel), "rcut": rcut, "rcut_smth": rcut_smth,
        "neuron": list(neuron), "axis_neuron": axis_neuron, "resnet_dt": False,
        "type_one_side": True, "activation_function": "tanh", "precision": precision,
    }
    fitting_net = {"type": "ener", "neuron": list(fitting), "resnet_dt": True,
                   "activation_function": "tanh", "precision": precision}
    tensors = {}
    dp = "shared.descriptor." if len(branches) > 1 else "descriptor."
    davg = np.zeros((ntypes, 4))
    davg[:, 0] = rng.uniform(0.05, 0.15, ntypes)
    dstd = np.empty((ntypes, 4))
    dstd[:, 0] = rng.uniform(0.15, 0.25, ntypes)
    dstd[:, 1:] = rng.uniform(0.08, 0.12, (ntypes, 1))
    tensors[dp + "davg"] = davg
    tensors[dp + "dstd"] = dstd
    for t in range(ntypes):
        tensors.update(_layers(rng, f"{dp}embeddings.{t}.", [1, *neuron], False, False))
    dim = neuron[-1] * axis_neuron
    header_branches = {}
    for name in branches:
        fp = f"branches.{name}.fitting." if len(branches) > 1 else "fitting."
        for t in range(ntypes):
            tensors.update(_layers(rng, f"{fp}nets.{t}.", [dim, *fitting, 1], True, True))
        tensors[fp + "bias_atom_e"] = np.array([-93.5, -187.2, -40.0, -10.0][:ntypes]) + \
            rng.normal(0, 0.1, ntypes)
        header_branches[name] = {
            "type_map": list(type_map), "descriptor": descriptor, "fitting_net": fitting_net,
            "descriptor_prefix": dp, "fitting_prefixes": [fp],
        }
    if precision == "float32":
        tensors = {k: v.astype(np.float32) for k, v in tensors.items()}
    header = {
        "type_map": list(type_map), "branches": header_branches,
        "default_branch": branches[0], "config": {"model": {"type_map": list(type_map)}},
        "deepft_version": "test",
    }
    return write_model_file(path, header, tensors)
