"""Write deepmd_dpa1_reference.npz with DeePMD-kit (run in an environment that has it).

    CUDA_VISIBLE_DEVICES="" python make_deepmd_dpa1_reference.py   # deepmd-kit 3.x (pt), torch

Seven randomly initialized DeePMD-kit DPA-1 (se_atten) + energy-fitting models, cases A-G, in
float64 with small nets, covering tebd_input_mode concat/strip, 0/1/2 attention layers,
type_one_side, smooth_type_embedding, set_davg_zero, attn_dotr, normalize, temperature,
scaling_factor, trainable_ln, ln_eps, use_tebd_bias, resnet_dt, concat_output_tebd, gelu and a
three-layer embedding net. Cases A-D run on frames 0 and 1 of the periodic water data, E-G on
frames 0 and 1 of the non-periodic organic molecule C3H3O4 (box=None). Every floating-point
parameter and buffer of the descriptor and fitting (type embedding, layer norms, idt, bias_atom_e)
is shifted by N(0, 0.1) noise so that no initial ones/zeros remain, except the empty compression
placeholders; davg/dstd get per-type values shaped like real statistics (davg zero where
set_davg_zero) and out_bias N(-3, 1).

Stored per case X: X/config (the normalized model section, json), X/system, X/energy,
X/atom_energy, X/force, X/virial, X/atom_virial as DeePMD-kit returns them, and every non-empty
state_dict entry under X/sd/<DeePMD-kit key> (including the aliased "_networks" copies).
The systems are stored under water/ and organic/ (coord, atype, type_map; water also box).
stats/<name>/{mean,stddev} (ntypes x 4) are DeePMD-kit's own input statistics
(EnvMatStatSe via compute_input_stats) of a fresh dpa1 descriptor with set_davg_zero false:
water_sel120 and water_sel40 over the first 5 water frames, organic_sel12 over the first 20
organic frames. The cases with set_davg_zero false (A, D: sel 40; F: sel 4) use frames in which
every atom has at least sel neighbors within rcut, so no padded neighbor slot (which DeePMD-kit
fills with -davg/dstd) enters them; the script asserts this. F uses sel 4 rather than 6: in organic
frame 0 one atom's 5th neighbor is at 6.10 and in both frames some atom's 6th is beyond 6.0.
"""

import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
from deepmd.pt.model.model import get_model
from deepmd.utils.argcheck import normalize

DATA = Path(__file__).resolve().parents[4] / "examples" / "data"
WATER = DATA / "water" / "data_0"
ORGANIC = DATA / "organic_nopbc" / "C3H3O4"
OUT = Path(__file__).with_name("deepmd_dpa1_reference.npz")

BASE = {"type": "dpa1", "rcut": 6.0, "rcut_smth": 0.5, "neuron": [8, 16], "axis_neuron": 4,
        "attn": 16, "tebd_dim": 8, "precision": "float64"}
CASES = {
    "A": ("water", {"tebd_input_mode": "concat", "attn_layer": 2, "type_one_side": False,
                    "smooth_type_embedding": False, "sel": 40, "set_davg_zero": False,
                    "attn_dotr": True, "normalize": True, "concat_output_tebd": True}),
    "B": ("water", {"tebd_input_mode": "strip", "attn_layer": 2, "type_one_side": True,
                    "smooth_type_embedding": True, "sel": 120, "set_davg_zero": True}),
    "C": ("water", {"tebd_input_mode": "concat", "attn_layer": 0, "type_one_side": True,
                    "smooth_type_embedding": True, "sel": 120, "set_davg_zero": True}),
    "D": ("water", {"tebd_input_mode": "strip", "attn_layer": 0, "type_one_side": False,
                    "smooth_type_embedding": False, "sel": 40, "set_davg_zero": False,
                    "resnet_dt": True, "use_tebd_bias": True, "concat_output_tebd": False}),
    "E": ("organic", {"tebd_input_mode": "concat", "attn_layer": 2, "type_one_side": False,
                      "smooth_type_embedding": True, "sel": 12, "set_davg_zero": True,
                      "normalize": False, "temperature": 0.7, "scaling_factor": 2.0,
                      "trainable_ln": False}),
    "F": ("organic", {"tebd_input_mode": "strip", "attn_layer": 2, "type_one_side": False,
                      "smooth_type_embedding": False, "sel": 4, "set_davg_zero": False,
                      "attn_dotr": False, "ln_eps": 1e-3}),
    "G": ("organic", {"tebd_input_mode": "strip", "attn_layer": 1, "type_one_side": True,
                      "smooth_type_embedding": True, "sel": 12, "set_davg_zero": True,
                      "use_tebd_bias": True, "activation_function": "gelu",
                      "neuron": [8, 16, 16]}),
}
# compression placeholders (empty until enable_compression) are never perturbed
PLACEHOLDERS = ("compress_info", "compress_data", "type_embd_data")
PRE = "atomic_model.descriptor.se_atten."


def load_systems() -> dict:
    """Frames 0 and 1 of the water and organic data, plus the stat frames."""
    water_type_map = (WATER / "type_map.raw").read_text().split()
    assert water_type_map == ["O", "H"]
    organic_type_map = (ORGANIC / "type_map.raw").read_text().split()
    assert (ORGANIC / "nopbc").is_file()
    systems = {
        "water": {"coord": np.load(WATER / "set.000" / "coord.npy").reshape(-1, 192, 3),
                  "box": np.load(WATER / "set.000" / "box.npy").reshape(-1, 9),
                  "atype": np.loadtxt(WATER / "type.raw", dtype=np.int64).reshape(-1),
                  "type_map": water_type_map},
        "organic": {"coord": np.load(ORGANIC / "set.000" / "coord.npy").reshape(-1, 10, 3),
                    "box": None,
                    "atype": np.loadtxt(ORGANIC / "type.raw", dtype=np.int64).reshape(-1),
                    "type_map": organic_type_map},
    }
    for sys in systems.values():
        sys["coord"] = sys["coord"].astype(np.float64)
        if sys["box"] is not None:
            sys["box"] = sys["box"].astype(np.float64)
    return systems


def neighbor_distances(coord: np.ndarray, box: np.ndarray | None) -> np.ndarray:
    """Sorted distances to all other atoms, one row per atom (minimum image if periodic)."""
    diff = coord[None, :, :] - coord[:, None, :]
    if box is not None:
        cell = box.reshape(3, 3)
        frac = diff @ np.linalg.inv(cell)
        diff = (frac - np.round(frac)) @ cell
    dist = np.linalg.norm(diff, axis=-1)
    np.fill_diagonal(dist, np.inf)
    return np.sort(dist, axis=-1)


def check_full_nlist(sys: dict, sel: int, rcut: float) -> None:
    """Every atom has at least sel neighbors within rcut and the sel-th one is not tied."""
    if sys["box"] is not None:
        cell = sys["box"][:2].reshape(-1, 3, 3)
        diag = np.diagonal(cell, axis1=1, axis2=2)
        assert np.all(cell[:, ~np.eye(3, dtype=bool)] == 0)  # orthorhombic
        assert np.all(diag > 2 * rcut)  # so the minimum image is exact
    for ff in range(2):
        dist = neighbor_distances(sys["coord"][ff], None if sys["box"] is None else sys["box"][ff])
        assert np.all(dist[:, sel - 1] < rcut), (ff, sel, dist[:, sel - 1].max())
        if dist.shape[1] > sel:  # truncation by distance must be unambiguous
            assert np.all(dist[:, sel] - dist[:, sel - 1] > 1e-8), (ff, sel)


def model_section(case: str, type_map: list[str]) -> dict:
    """The model section as DeePMD-kit normalizes it (argcheck.normalize on a full input)."""
    opts = CASES[case][1]
    seed = 100 + 2 * (ord(case) - ord("A"))
    desc = {**BASE, **opts, "seed": seed}
    fit = {"neuron": [16, 16], "resnet_dt": True, "precision": "float64", "seed": seed + 1}
    full = {"model": {"type_map": list(type_map), "descriptor": desc, "fitting_net": fit},
            "learning_rate": {"type": "exp", "start_lr": 1e-3, "stop_lr": 1e-8,
                              "decay_steps": 100},
            "loss": {"type": "ener"},
            "training": {"training_data": {"systems": ["unused"]}, "numb_steps": 1}}
    model = normalize(full)["model"]
    # argcheck renames the alias "dpa1" to "se_atten"; keep the name the case was written with
    assert model["descriptor"]["type"] in ("dpa1", "se_atten")
    model["descriptor"]["type"] = "dpa1"
    for key, value in opts.items():
        assert model["descriptor"][key] == value, (case, key)
    return model


def perturbed_state_dict(model, case: str, set_davg_zero: bool) -> dict:
    rng = np.random.default_rng(1000 + ord(case))
    sd = model.state_dict()
    done = {}  # data_ptr -> new tensor, so aliased entries (networks/_networks) stay equal
    for key, value in sd.items():
        if not key.startswith(("atomic_model.descriptor.", "atomic_model.fitting_net.")):
            continue
        if value.numel() == 0 or not value.is_floating_point() or any(
                p in key for p in PLACEHOLDERS):
            continue
        ptr = value.data_ptr()
        if ptr not in done:
            done[ptr] = value + torch.tensor(rng.normal(0, 0.1, tuple(value.shape)),
                                             dtype=value.dtype)
        sd[key] = done[ptr]
    mean = torch.zeros_like(sd[PRE + "mean"])
    ntypes = mean.shape[0]
    if not set_davg_zero:
        mean[..., 0] = torch.tensor(rng.uniform(0.05, 0.2, (ntypes, 1)))
    std = torch.ones_like(sd[PRE + "stddev"])
    std[..., 0] = torch.tensor(rng.uniform(0.1, 0.2, (ntypes, 1)))
    std[..., 1:] = torch.tensor(rng.uniform(0.05, 0.1, (ntypes, 1, 1)))
    sd[PRE + "mean"], sd[PRE + "stddev"] = mean, std
    sd["atomic_model.out_bias"] = torch.tensor(
        rng.normal(-3, 1, tuple(sd["atomic_model.out_bias"].shape)))
    return sd


def one(case: str, sys: dict, out: dict, show_keys: bool) -> None:
    sysname, opts = CASES[case]
    cfg = model_section(case, sys["type_map"])
    if not opts["set_davg_zero"]:
        check_full_nlist(sys, opts["sel"], BASE["rcut"])
    model = get_model(copy.deepcopy(cfg)).to("cpu").double()
    sd = perturbed_state_dict(model, case, opts["set_davg_zero"])
    model.load_state_dict(sd)
    model.eval()
    sd = model.state_dict()
    coord = torch.tensor(sys["coord"][:2])
    atype = torch.tensor(np.tile(sys["atype"], (2, 1)))
    box = None if sys["box"] is None else torch.tensor(sys["box"][:2])
    res = model(coord, atype, box=box, do_atomic_virial=True)
    tag = case + "/"
    out[tag + "config"] = np.array(json.dumps(cfg))
    out[tag + "system"] = np.array(sysname)
    for key in ("energy", "atom_energy", "force", "virial", "atom_virial"):
        out[tag + key] = res[key].detach().numpy().astype(np.float64)
    for key, value in sd.items():
        if value.numel() == 0:
            continue
        out[f"{tag}sd/{key}"] = value.detach().cpu().numpy()
    if show_keys:
        print(f"case {case} state_dict:")
        for key, value in sd.items():
            print(f"  {key} {tuple(value.shape)}")
    print(f"case {case} ({sysname}): energy[0] = {out[tag + 'energy'][0, 0]:.10f}, "
          f"max|force| = {np.abs(out[tag + 'force']).max():.6f}")


def input_stats(name: str, sys: dict, nframes: int, sel: int, out: dict) -> None:
    """DeePMD-kit's descriptor statistics (EnvMatStatSe) of a fresh dpa1 model."""
    cfg = {"type_map": sys["type_map"],
           "descriptor": {**BASE, "sel": sel, "attn_layer": 0, "set_davg_zero": False, "seed": 1},
           "fitting_net": {"neuron": [16, 16], "precision": "float64", "seed": 2}}
    model = get_model(cfg).to("cpu")
    coord = np.load(sys["path"] / "set.000" / "coord.npy")[:nframes].reshape(nframes, -1, 3)
    natoms = coord.shape[1]
    atype = np.tile(sys["atype"], (nframes, 1))
    counts = [natoms, natoms] + [int((sys["atype"] == t).sum())
                                 for t in range(len(sys["type_map"]))]
    sample = {"coord": torch.tensor(coord, dtype=torch.float64),
              "atype": torch.tensor(atype),
              "natoms": torch.tensor([counts] * nframes)}
    # the pt data loader hands box=None for a system with a "nopbc" marker file
    sample["box"] = None if sys["box"] is None else torch.tensor(
        np.load(sys["path"] / "set.000" / "box.npy")[:nframes], dtype=torch.float64)
    desc = model.atomic_model.descriptor
    desc.compute_input_stats(lambda: [sample])
    mean, std = (desc.get_stat_mean_and_stddev()[i].detach().cpu().numpy() for i in (0, 1))
    assert mean.shape == std.shape == (len(sys["type_map"]), sel, 4)
    assert np.all(mean == mean[:, :1]) and np.all(std == std[:, :1])
    out[f"stats/{name}/mean"] = mean[:, 0]
    out[f"stats/{name}/stddev"] = std[:, 0]
    print(f"stats {name}: mean[:, 0] = {mean[:, 0, 0]}, stddev[:, 0] = {std[:, 0, 0]}, "
          f"stddev[:, 1] = {std[:, 0, 1]}")


def main() -> None:
    start = time.time()
    torch.set_num_threads(1)
    systems = load_systems()
    systems["water"]["path"], systems["organic"]["path"] = WATER, ORGANIC
    out = {}
    for name, sys in systems.items():
        out[name + "/coord"] = sys["coord"][:2]
        out[name + "/atype"] = sys["atype"]
        out[name + "/type_map"] = np.array(sys["type_map"])
        if sys["box"] is not None:
            out[name + "/box"] = sys["box"][:2]
    for case, (sysname, _) in CASES.items():
        one(case, systems[sysname], out, show_keys=case in ("A", "B"))
    input_stats("water_sel120", systems["water"], 5, 120, out)
    input_stats("water_sel40", systems["water"], 5, 40, out)
    input_stats("organic_sel12", systems["organic"], 20, 12, out)
    import deepmd

    out["deepmd_version"] = np.array(deepmd.__version__)
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT.name}: {len(out)} arrays, {OUT.stat().st_size / 1024:.1f} KiB, "
          f"{time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
