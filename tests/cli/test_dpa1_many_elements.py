"""DPA-1 across many elements, the workflow DeePMD-kit's fine-tuning guide is built on: a
multitask model pre-trained on two element subsets (one shared DPA-1 descriptor, one type
embedding over 9 elements, one fitting net per dataset), fine-tuned onto a third subset that
mixes elements never seen together and adds a new one.

The data are real energies and forces of ASE's EMT calculator on rattled fcc alloy cells (32
atoms, periodic), written as deepmd/npy systems.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from support.cli import run_deepft

from deepft.checkpoint import load_checkpoint

PRETRAIN_MAP = ["Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt", "H", "O"]
SUBSETS = {"coinage": ["Al", "Cu", "Ag", "Au"], "platinum": ["Ni", "Pd", "Pt"]}
TARGET = ["Cu", "Ni", "Pt", "C"]
PRETRAIN_STEPS = 200  # Cu and Ni/Pt never met in pre-training; C is new
DESCRIPTOR = {"type": "dpa1", "sel": "auto", "rcut": 4.5, "rcut_smth": 2.0, "neuron": [8, 16],
              "axis_neuron": 4, "tebd_dim": 8, "attn": 16, "attn_layer": 1, "seed": 3}


def emt_system(folder, elements, nframes, seed):
    """``nframes`` rattled 2x2x2 fcc cells (a = 3.9 Å, 32 atoms) of a random alloy of
    ``elements`` (fixed composition per system), labelled with EMT."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    rng = np.random.default_rng(seed)
    atoms = bulk("Cu", "fcc", a=3.9, cubic=True).repeat((2, 2, 2))
    atoms.set_chemical_symbols(rng.choice(elements, len(atoms)).tolist())
    names = sorted(set(atoms.get_chemical_symbols()))
    types = [names.index(s) for s in atoms.get_chemical_symbols()]
    coords, boxes, energies, forces = [], [], [], []
    for _ in range(nframes):
        frame = atoms.copy()
        frame.set_cell(frame.cell * rng.uniform(0.97, 1.03), scale_atoms=True)
        frame.rattle(stdev=0.08, seed=int(rng.integers(1 << 31)))
        frame.calc = EMT()
        coords.append(frame.get_positions().reshape(-1))
        boxes.append(frame.cell.array.reshape(-1))
        energies.append(frame.get_potential_energy())
        forces.append(frame.get_forces().reshape(-1))
    (folder / "set.000").mkdir(parents=True)
    (folder / "type_map.raw").write_text("\n".join(names) + "\n")
    (folder / "type.raw").write_text("\n".join(map(str, types)) + "\n")
    for name, rows in (("coord", coords), ("box", boxes), ("energy", energies),
                       ("force", forces)):
        np.save(folder / "set.000" / f"{name}.npy", np.asarray(rows, dtype=np.float64))
    return folder


def data_section(systems, batch_size=2) -> dict:
    return {"training_data": {"systems": [str(s) for s in systems], "batch_size": batch_size},
            "validation_data": {"systems": [str(s) for s in systems[:1]],
                                "batch_size": batch_size, "numb_btch": 1}}


def common(numb_steps: int, start_lr: float) -> dict:
    return {"learning_rate": {"type": "exp", "decay_steps": 20, "start_lr": start_lr,
                              "stop_lr": start_lr / 20},
            "training": {"numb_steps": numb_steps, "seed": 1, "disp_freq": numb_steps // 2,
                         "save_freq": numb_steps}}


LOSS = {"type": "ener", "start_pref_e": 0.02, "limit_pref_e": 1, "start_pref_f": 1000,
        "limit_pref_f": 10}


def lcurve_columns(lcurve, prefix: str) -> np.ndarray:
    """The columns of an lcurve.out whose name starts with ``prefix`` (one per branch)."""
    header = lcurve.read_text().splitlines()[0].lstrip("#").split()
    rows = np.loadtxt(lcurve, ndmin=2)
    return rows[:, [i for i, name in enumerate(header) if name.startswith(prefix)]]


@pytest.mark.slow
def test_multitask_pretrain_on_two_subsets_then_finetune_onto_a_third(tmp_path):
    data = tmp_path / "data"
    systems = {name: [emt_system(data / f"{name}{k}", elements, 12, seed=10 * i + k)
                      for k in range(2)]
               for i, (name, elements) in enumerate(SUBSETS.items())}
    target = [emt_system(data / f"target{k}", TARGET, 12, seed=100 + k) for k in range(2)]

    pre = tmp_path / "pretrain"
    pre.mkdir()
    cfg = common(PRETRAIN_STEPS, 4e-3)
    cfg["model"] = {"shared_dict": {"tmap": PRETRAIN_MAP, "desc": DESCRIPTOR},
                    "model_dict": {name: {"type_map": "tmap", "descriptor": "desc",
                                          "fitting_net": {"neuron": [16, 16], "seed": i}}
                                   for i, name in enumerate(SUBSETS)}}
    cfg["loss_dict"] = {name: dict(LOSS) for name in SUBSETS}
    cfg["training"]["data_dict"] = {name: data_section(systems[name]) for name in SUBSETS}
    (pre / "input.json").write_text(json.dumps(cfg))
    run_deepft("train", "input.json", cwd=pre)
    state = load_checkpoint(pre / "model.ckpt.pt")["model"]
    embeddings = {k: v for k, v in state.items() if k.endswith("type_embedding.layers.0.matrix")}
    assert embeddings and all(v.shape == (len(PRETRAIN_MAP), 8) for v in embeddings.values())
    loss = lcurve_columns(pre / "lcurve.out", "rmse_val")  # the weighted loss, per branch
    assert loss.shape[1] == 2 and (loss[-1] < loss[0]).all(), loss

    ft = tmp_path / "finetune"
    ft.mkdir()
    cfg = common(100, 1e-3)
    cfg["model"] = {"type_map": TARGET, "descriptor": dict(DESCRIPTOR),
                    "fitting_net": {"neuron": [16, 16], "seed": 5}}
    cfg["loss"] = dict(LOSS)
    cfg["training"].update(data_section(target))
    (ft / "input.json").write_text(json.dumps(cfg))
    out = run_deepft("train", "input.json", "--finetune", str(pre / "model.ckpt.pt"),
                     "--model-branch", "platinum", cwd=ft).stdout
    assert "descriptor statistics of new elements ['C'] from the new data" in out
    tuned = load_checkpoint(ft / "model.ckpt.pt")
    assert tuned["config"]["model"]["type_map"] == TARGET
    assert tuned["model"]["descriptor.type_embedding.layers.0.matrix"].shape == (4, 8)
    loss = lcurve_columns(ft / "lcurve.out", "rmse_val")
    assert loss[-1, 0] < loss[0, 0], loss
