"""deepft model-devi on data frames = pair_style deepft's model deviation file on the same
frames (LAMMPS `rerun` of a dump holding them, the plugin writing every out_freq steps).

The first 7 columns (step, virial and force deviations) and the per-atom force deviations
must agree to the 7 digits the files keep; the command's extra devi_e column is checked
against DeepPot in tests/unit/infer/test_model_devi.py.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from support.model_files import write_random_model
from support.paths import WATER_LAMMPS_DATA as WATER_DATA

from deepft.commands.model_devi import model_devi

FREQ = 5
NFRAMES = 4


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("devi_cmd_models")
    small = dict(neuron=(4, 8), axis_neuron=4, fitting=(8, 8), sel=(24, 48), rcut=4.5,
                 rcut_smth=1.0)
    return [write_random_model(d / "m1.dft", seed=41, **small),
            write_random_model(d / "m2.dft", seed=42, **small)]


@pytest.fixture(scope="module")
def frames(tmp_path_factory, water_dir):
    """A deepmd/npy system of frames 10..13 of water/data_0 (periodic, cubic boxes)."""
    sys_dir = tmp_path_factory.mktemp("devi_cmd_data") / "water"
    (sys_dir / "set.000").mkdir(parents=True)
    for name in ("type.raw", "type_map.raw"):
        shutil.copyfile(water_dir / "data_0" / name, sys_dir / name)
    for key in ("coord", "box"):
        arr = np.load(water_dir / "data_0" / "set.000" / f"{key}.npy")[10:10 + NFRAMES]
        np.save(sys_dir / "set.000" / f"{key}.npy", arr.astype(np.float64))
    return sys_dir


def write_dump(path, sys_dir) -> None:
    """The frames as a LAMMPS text dump (id type x y z, wrapped), timestep = index x FREQ."""
    coord = np.load(sys_dir / "set.000" / "coord.npy").reshape(NFRAMES, -1, 3)
    box = np.load(sys_dir / "set.000" / "box.npy").reshape(NFRAMES, 3, 3)
    types = np.loadtxt(sys_dir / "type.raw", dtype=int) + 1
    out = []
    for f in range(NFRAMES):
        assert np.allclose(box[f], np.diag(np.diag(box[f]))), "the test needs cubic boxes"
        lengths = np.diag(box[f])
        x = np.mod(coord[f], lengths)
        out += ["ITEM: TIMESTEP", str(f * FREQ), "ITEM: NUMBER OF ATOMS", str(len(x)),
                "ITEM: BOX BOUNDS pp pp pp", *(f"0 {h:.17g}" for h in lengths),
                "ITEM: ATOMS id type x y z"]
        out += [f"{i + 1} {t} {p[0]:.17g} {p[1]:.17g} {p[2]:.17g}"
                for i, (t, p) in enumerate(zip(types, x, strict=True))]
    path.write_text("\n".join(out) + "\n")


def plugin_devi(lmp_env, models, dump, out, keys: str) -> np.ndarray:
    lmp = lmp_env.lammps()
    try:
        lmp.commands_string(f"""
units           metal
boundary        p p p
atom_style      atomic
atom_modify     map array
read_data       {WATER_DATA}
pair_style      deepft {models[0]} {models[1]} out_freq {FREQ} out_file {out} atomic {keys}
pair_coeff      * * O H
neighbor        1.0 bin
rerun           {dump} dump x y z box yes
""")
    finally:
        lmp.close()
    lines = out.read_text().splitlines()
    assert lines[0].split()[:8] == ["#", "step", "max_devi_v", "min_devi_v", "avg_devi_v",
                                    "max_devi_f", "min_devi_f", "avg_devi_f"]
    return np.array([[float(x) for x in line.split()] for line in lines[1:]])


@pytest.mark.parametrize("variant", ["absolute", "relative", "relative_v"])
def test_command_equals_plugin(lmp_env, models, frames, tmp_path, variant):
    rel = 0.5 if variant == "relative" else None
    rel_v = 0.2 if variant == "relative_v" else None
    keys = {"absolute": "", "relative": "relative 0.5", "relative_v": "relative_v 0.2"}[variant]
    dump = tmp_path / "frames.dump"
    write_dump(dump, frames)
    lmp_rows = plugin_devi(lmp_env, models, dump, tmp_path / "lmp_devi.out", keys)
    res = model_devi(models=models, systems=[str(frames)], output=tmp_path / "cmd_devi.out",
                     frequency=FREQ, atomic=True, relative=rel, relative_v=rel_v)
    cmd_rows = res.devi[0]
    assert lmp_rows.shape == (NFRAMES, 7 + 192) and cmd_rows.shape == (NFRAMES, 8 + 192)
    np.testing.assert_array_equal(lmp_rows[:, 0], np.arange(NFRAMES) * FREQ)
    assert np.all(cmd_rows[:, 4] > 1e-3), "models agree too well for a meaningful test"
    # drop devi_e (column 7) that the plugin does not write
    cmd_shared = np.delete(cmd_rows, 7, axis=1)
    np.testing.assert_allclose(lmp_rows, cmd_shared, rtol=2e-6, atol=1e-12,
                               err_msg=f"{variant}: deepft model-devi differs from the plugin")
    # the data lines are the same characters, column by column
    cmd_file = (tmp_path / "cmd_devi.out").read_text().splitlines()[2:]
    lmp_file = (tmp_path / "lmp_devi.out").read_text().splitlines()[1:]
    for a, b in zip(cmd_file, lmp_file, strict=True):
        assert a[:12] == b[:12]
        assert len(a) == len(b) + 19
