"""Write deepmd_se_e2_a_reference.npz with DeePMD-kit (run in an environment that has it).

    python make_deepmd_reference.py      # needs deepmd-kit 3.x (pt backend) and torch

A randomly initialized DeePMD-kit se_e2_a + energy-fitting model (small nets, resnet_dt, both
type_one_side settings) with nonzero davg/dstd and output bias, evaluated on frame 0 of the water
data in examples/data. The weights are stored under deepft's tensor names (DeePMD-kit's pair-net
index center + neighbor * ntypes becomes deepft's center * ntypes + neighbor; its out_bias plus the
fitting's bias_atom_e becomes fitting.bias_atom_e), with DeePMD-kit's energy, atomic energy, force,
virial and atomic virial. test_model_deepmd_reference.py checks deepft against them.
"""

from pathlib import Path

import numpy as np
import torch
from deepmd.pt.model.model import get_model

WATER = Path(__file__).resolve().parents[4] / "examples" / "data" / "water" / "data_0"
CFG = {"type_map": ["O", "H"],
       "descriptor": {"type": "se_e2_a", "sel": [46, 92], "rcut": 6.0, "rcut_smth": 0.5,
                      "neuron": [8, 16, 16], "axis_neuron": 2, "resnet_dt": True, "seed": 1},
       "fitting_net": {"neuron": [16, 16], "resnet_dt": True, "seed": 2}}


def one(type_one_side: bool, coord, box, atype, out: dict) -> None:
    cfg = {**CFG, "descriptor": {**CFG["descriptor"], "type_one_side": type_one_side}}
    model = get_model(cfg).to("cpu").double()
    sd = model.state_dict()
    rng = np.random.default_rng(0)
    pre = "atomic_model.descriptor.sea."
    mean = torch.zeros_like(sd[pre + "mean"])
    mean[..., 0] = torch.tensor(rng.uniform(0.05, 0.2, (2, 1)))
    std = torch.ones_like(sd[pre + "stddev"])
    std[..., 0] = torch.tensor(rng.uniform(0.1, 0.2, (2, 1)))
    std[..., 1:] = torch.tensor(rng.uniform(0.05, 0.1, (2, 1, 1)))
    sd[pre + "mean"], sd[pre + "stddev"] = mean, std
    sd["atomic_model.out_bias"] = torch.tensor(rng.normal(-3, 1, sd["atomic_model.out_bias"].shape))
    model.load_state_dict(sd)
    res = model(torch.tensor(coord), torch.tensor(atype[None]), box=torch.tensor(box),
                do_atomic_virial=True)
    tag = f"tos{int(type_one_side)}/"
    out[tag + "sd/descriptor.davg"] = mean[:, 0].numpy()
    out[tag + "sd/descriptor.dstd"] = std[:, 0].numpy()
    for key, value in sd.items():
        for src, dst in ((pre + "filter_layers.networks.", "descriptor.embeddings."),
                         ("atomic_model.fitting_net.filter_layers.networks.", "fitting.nets.")):
            if key.startswith(src):
                idx, rest = key[len(src):].split(".", 1)
                idx = int(idx)
                if dst.startswith("descriptor") and not type_one_side:
                    idx = (idx % 2) * 2 + idx // 2
                out[f"{tag}sd/{dst}{idx}.{rest}"] = value.numpy()
    out[tag + "sd/fitting.bias_atom_e"] = (
        sd["atomic_model.out_bias"].reshape(-1)
        + sd["atomic_model.fitting_net.bias_atom_e"].reshape(-1)).numpy()
    for key in ("energy", "atom_energy", "force", "virial", "atom_virial"):
        out[tag + key] = res[key].detach().numpy()


def input_stats(out: dict) -> None:
    """DeePMD-kit's descriptor statistics (EnvMatStatSe) over the first 5 water frames."""
    model = get_model(CFG).to("cpu")
    coord = np.load(WATER / "set.000" / "coord.npy")[:5].reshape(5, -1, 3)
    box = np.load(WATER / "set.000" / "box.npy")[:5]
    atype = np.loadtxt(WATER / "type.raw", dtype=np.int64)
    sample = [{"coord": torch.tensor(coord, dtype=torch.float64),
               "atype": torch.tensor(np.tile(atype, (5, 1))),
               "box": torch.tensor(box, dtype=torch.float64),
               "natoms": torch.tensor([[192, 192, 64, 128]] * 5)}]
    desc = model.atomic_model.descriptor
    desc.compute_input_stats(lambda: sample)
    sd = desc.state_dict()
    out["stats/davg"] = sd["sea.mean"][:, 0].numpy()
    out["stats/dstd"] = sd["sea.stddev"][:, 0].numpy()


def main() -> None:
    coord = np.load(WATER / "set.000" / "coord.npy")[:1].reshape(1, -1, 3).astype(np.float64)
    box = np.load(WATER / "set.000" / "box.npy")[:1].astype(np.float64)
    atype = np.loadtxt(WATER / "type.raw", dtype=np.int64)
    out = {"coord": coord, "box": box, "atype": atype}
    for tos in (True, False):
        one(tos, coord, box, atype, out)
    input_stats(out)
    import deepmd

    out["deepmd_version"] = np.array(deepmd.__version__)
    np.savez_compressed(Path(__file__).with_name("deepmd_se_e2_a_reference.npz"), **out)


if __name__ == "__main__":
    main()
