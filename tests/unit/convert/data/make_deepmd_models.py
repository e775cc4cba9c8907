"""Train the small DeePMD-kit 3.2.0 models that test_convert_deepmd.py converts (run once).

    tests/benchmarks/deepmd_env.sh DPVENV
    DPVENV/bin/python tests/unit/convert/data/make_deepmd_models.py

For each model below: `dp --pt train` for a few steps on the water and organic-molecule data
of examples/data (statistics, so davg/dstd and the output bias are not trivial), `dp --pt
freeze` (one .pth per branch of the multitask model), and DeePMD-kit's own energies, forces,
virials and per-atom terms on two water frames and two organic frames (three elements) from its
`DeepPot` (fp64). Writes, next to this script: NAME.pt (the training checkpoint as DeePMD-kit
wrote it), NAME.pth / NAME-BRANCH.pth (frozen) and deepmd_models_reference.npz. The nets are
tiny so the files stay small; the numbers are what the test compares, not their quality.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[3] / "examples" / "data"
WATER = [str(DATA / "water" / f"data_{i}") for i in range(3)]
ORGANIC = [str(DATA / "organic_nopbc" / name) for name in ("C1H4O2", "C3H3O4", "C4H3O1")]
STEPS = 8

SE_E2_A = {"type": "se_e2_a", "sel": [46, 92], "rcut": 5.0, "rcut_smth": 0.5,
           "neuron": [6, 12], "axis_neuron": 4, "resnet_dt": True, "seed": 1}
FITTING = {"neuron": [12, 12], "resnet_dt": True, "seed": 2}
DPA1 = {"type": "dpa1", "sel": 60, "rcut": 5.0, "rcut_smth": 0.5, "neuron": [6, 12],
        "axis_neuron": 4, "tebd_dim": 4, "attn": 8, "attn_layer": 1, "attn_dotr": True,
        "attn_mask": False, "type_one_side": False, "seed": 3}
SE_ATTEN_V2 = {**DPA1, "type": "se_atten_v2", "attn_layer": 2, "type_one_side": True,
               "set_davg_zero": False, "seed": 4}


def single(type_map, descriptor, systems) -> dict:
    return {"model": {"type_map": type_map, "descriptor": descriptor, "fitting_net": FITTING},
            **common(), "training": {**training(), "training_data": {"systems": systems,
                                                                      "batch_size": 1}}}


def common() -> dict:
    return {"learning_rate": {"type": "exp", "start_lr": 1e-3, "stop_lr": 1e-4,
                              "decay_steps": 4},
            "loss": {"type": "ener", "start_pref_e": 0.2, "limit_pref_e": 1,
                     "start_pref_f": 100, "limit_pref_f": 1, "start_pref_v": 0,
                     "limit_pref_v": 0}}


def training() -> dict:
    return {"numb_steps": STEPS, "seed": 10, "disp_freq": STEPS, "save_freq": STEPS}


def multitask() -> dict:
    cfg = {"model": {"shared_dict": {"type_map_all": ["O", "H", "C"],
                                     "shared_descriptor": {**SE_E2_A, "sel": [46, 92, 8]}},
                     "model_dict": {b: {"type_map": "type_map_all",
                                        "descriptor": "shared_descriptor",
                                        "fitting_net": {**FITTING, "seed": i + 5}}
                                    for i, b in enumerate(("water", "organic"))}},
           "learning_rate": common()["learning_rate"],
           "loss_dict": {b: common()["loss"] for b in ("water", "organic")},
           "training": {**training(), "model_prob": {"water": 1.0, "organic": 1.0},
                        "data_dict": {"water": {"training_data": {"systems": WATER,
                                                                  "batch_size": 1}},
                                      "organic": {"training_data": {"systems": ORGANIC,
                                                                    "batch_size": 1}}}}}
    return cfg


MODELS = {
    "se_e2_a_tos1": (single(["O", "H"], {**SE_E2_A, "type_one_side": True}, WATER), None),
    "se_e2_a_tos0": (single(["O", "H"], {**SE_E2_A, "type_one_side": False}, WATER), None),
    "se_e2_a_multitask": (multitask(), ["water", "organic"]),
    "dpa1": (single(["O", "H", "C"], DPA1, ORGANIC + WATER[:1]), None),
    "se_atten_v2": (single(["H", "C", "O"], SE_ATTEN_V2, ORGANIC), None),
}


def frames() -> dict[str, tuple]:
    """name -> (coord [nf, nat*3], box [nf, 9] or None, elements per atom)."""
    out = {}
    for name, folder, periodic in (("water", DATA / "water" / "data_3", True),
                                   ("organic", DATA / "organic_nopbc" / "C3H3O4", False)):
        coord = np.load(folder / "set.000" / "coord.npy")[:2]
        box = np.load(folder / "set.000" / "box.npy")[:2] if periodic else None
        names = (folder / "type_map.raw").read_text().split()
        elements = [names[int(t)] for t in (folder / "type.raw").read_text().split()]
        out[name] = (coord, box, elements)
    return out


def dp(*args: str, cwd: Path) -> None:
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1",
               DP_INTRA_OP_PARALLELISM_THREADS="1", DP_INTER_OP_PARALLELISM_THREADS="1")
    subprocess.run([str(Path(sys.executable).with_name("dp")), "--pt", *args], cwd=cwd,
                   env=env, check=True, capture_output=True)


def reference(pth: Path, type_map: list[str], out: dict, tag: str) -> None:
    from deepmd.infer import DeepPot

    pot = DeepPot(str(pth))
    for name, (coord, box, elements) in frames().items():
        if not set(elements) <= set(type_map):
            continue
        atype = np.array([type_map.index(e) for e in elements])
        e, f, v, ae, av = pot.eval(coord, box, atype, atomic=True)
        for key, value in (("energy", e), ("force", f), ("virial", v), ("atom_energy", ae),
                           ("atom_virial", av)):
            out[f"{tag}/{name}/{key}"] = np.asarray(value, dtype=np.float64)


def main() -> None:
    import deepmd

    out: dict[str, np.ndarray] = {}
    for name, (cfg, heads) in MODELS.items():
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            (work / "input.json").write_text(json.dumps(cfg, indent=1))
            dp("train", "input.json", cwd=work)
            shutil.copy(work / f"model.ckpt-{STEPS}.pt", HERE / f"{name}.pt")
            for head in heads or [None]:
                pth = HERE / (f"{name}-{head}.pth" if head else f"{name}.pth")
                dp("freeze", "-o", str(pth), *(["--head", head] if head else []), cwd=work)
                section = cfg["model"]
                type_map = (section["shared_dict"]["type_map_all"] if head
                            else section["type_map"])
                reference(pth, type_map, out, f"{name}/{head or 'Default'}")
        print(name, "done", flush=True)
    for name, (coord, box, elements) in frames().items():
        out[f"frames/{name}/coord"] = coord
        if box is not None:
            out[f"frames/{name}/box"] = box
        out[f"frames/{name}/elements"] = np.array(elements)
    out["deepmd_version"] = np.array(deepmd.__version__)
    np.savez_compressed(HERE / "deepmd_models_reference.npz", **out)


if __name__ == "__main__":
    main()
