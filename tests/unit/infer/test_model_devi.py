"""deepft model-devi (deepft.commands.model_devi) = a direct numpy computation from DeepPot.

Three random models (O, H, C) on 5 water frames split over two sets (periodic) and an organic
system (no PBC): every column of every row, the step numbering (frame index x frequency,
counted across sets, from 0 per system), the file layout, the relative variants.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from support.model_files import write_model

from deepft.commands.model_devi import model_devi
from deepft.infer import DeepPot

TYPE_MAP = ("O", "H", "C")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("devi_models")
    return [write_model(d / f"m{k}.dft", type_map=TYPE_MAP, sel=(24, 48, 8), seed=30 + k)
            for k in range(3)]


@pytest.fixture(scope="module")
def systems(tmp_path_factory, water_dir, organic_dir):
    """[water: 5 frames of data_0 in set.000 (3) + set.001 (2), organic C4H3O1 (15 frames)]."""
    root = tmp_path_factory.mktemp("devi_data")
    water = root / "water"
    for name, sl in (("set.000", slice(0, 3)), ("set.001", slice(3, 5))):
        (water / name).mkdir(parents=True)
        for key in ("coord", "box", "energy", "force"):
            arr = np.load(water_dir / "data_0" / "set.000" / f"{key}.npy")
            np.save(water / name / f"{key}.npy", arr[sl])
    for name in ("type.raw", "type_map.raw"):
        shutil.copyfile(water_dir / "data_0" / name, water / name)
    return [water, organic_dir / "C4H3O1"]


def expected(models, system_path, frequency, relative=None, relative_v=None):
    """Rows recomputed frame by frame: step, 7 columns, per-atom force deviations."""
    from deepft.data import System

    system = System(system_path, list(TYPE_MAP))
    pots = [DeepPot(m) for m in models]
    rows = []
    for f in range(system.nframes):
        fr = system.get_frames([f])
        outs = [p.eval(fr["coord"], fr["box"], system.atype) for p in pots]
        n = system.natoms
        e = np.array([o[0][0] for o in outs]) / n  # models
        force = np.array([o[1][0] for o in outs])  # models x n x 3
        vir = np.array([o[2][0] for o in outs]) / n  # models x 9
        mean_f = force.mean(0)
        dev_f = np.sqrt(np.mean(np.sum((force - mean_f) ** 2, axis=-1), axis=0))
        if relative is not None:
            dev_f /= np.sqrt(np.sum(mean_f ** 2, axis=-1)) + relative
        dev_v = np.sqrt(np.mean((vir - vir.mean(0)) ** 2, axis=0))
        if relative_v is not None:
            dev_v /= np.abs(vir.mean(0)) + relative_v
        rows.append([f * frequency, dev_v.max(), dev_v.min(), np.linalg.norm(dev_v) / 3,
                     dev_f.max(), dev_f.min(), dev_f.mean(), np.sqrt(np.mean((e - e.mean()) ** 2)),
                     *dev_f])
    return np.array(rows)


def read_blocks(path):
    """{system: (header line, rows)} of a model deviation file."""
    blocks, name = {}, None
    for line in path.read_text().splitlines():
        if line.startswith("#") and "max_devi_v" in line:
            blocks[name][0] = line
        elif line.startswith("# "):
            name = line[2:]
            blocks[name] = [None, []]
        else:
            blocks[name][1].append([float(x) for x in line.split()])
    return {k: (h, np.array(r)) for k, (h, r) in blocks.items()}


@pytest.mark.parametrize("variant", ["absolute", "relative", "relative_v"])
def test_rows_match_numpy(models, systems, tmp_path, variant):
    rel = 0.5 if variant == "relative" else None
    rel_v = 0.2 if variant == "relative_v" else None
    out = tmp_path / "devi.out"
    res = model_devi(models=models, systems=[str(s) for s in systems], output=out,
                     frequency=10, atomic=True, relative=rel, relative_v=rel_v)
    assert res.systems == [str(s) for s in systems]
    blocks = read_blocks(out)
    assert list(blocks) == res.systems
    for path, devi in zip(res.systems, res.devi, strict=True):
        want = expected(models, path, 10, rel, rel_v)
        natoms = want.shape[1] - 8
        assert devi.shape == want.shape == (5 if "water" in path else 15, 8 + natoms)
        np.testing.assert_array_equal(devi[:, 0], np.arange(len(want)) * 10)
        assert np.all(want[:, 4] > 1e-3), "models agree too well for a meaningful test"
        np.testing.assert_allclose(devi, want, rtol=1e-10, atol=1e-13,
                                   err_msg=f"{variant}: {path}")
        header, rows = blocks[path]
        assert header.split() == ["#", "step", "max_devi_v", "min_devi_v", "avg_devi_v",
                                  "max_devi_f", "min_devi_f", "avg_devi_f", "devi_e",
                                  "atm_devi_f(N)"]
        np.testing.assert_allclose(rows, want, rtol=1e-6, atol=1e-12)  # 7 digits in the file


def test_file_layout_without_atomic(models, systems, tmp_path):
    out = tmp_path / "devi.out"
    res = model_devi(models=models[:2], systems=[systems[0]], output=out, frequency=3)
    lines = out.read_text().splitlines()
    assert lines[0] == f"# {systems[0]}"
    assert lines[1] == ("#       step         max_devi_v         min_devi_v         avg_devi_v"
                        "         max_devi_f         min_devi_f         avg_devi_f"
                        "             devi_e")
    assert len(lines) == 2 + 5
    for k, line in enumerate(lines[2:]):
        assert len(line) == 12 + 7 * 19 and line[:12] == f"{3 * k:12d}"
        assert line[12:31] == f"{res.devi[0][k, 1]:19.6e}"
    np.testing.assert_allclose(res.devi[0][:, 1:], expected(models[:2], systems[0], 3)[:, 1:8],
                               rtol=1e-10, atol=1e-13)


def test_hdf5_group_equals_npy_folder(models, systems, tmp_path):
    """`-s file.h5#/water` reads the same frames as the deepmd/npy folder."""
    import h5py

    water = systems[0]
    h5 = tmp_path / "data.h5"
    with h5py.File(h5, "w") as f:
        g = f.create_group("water")
        g.create_dataset("type.raw", data=np.loadtxt(water / "type.raw", dtype=np.int64))
        g.create_dataset("type_map.raw",
                         data=np.array((water / "type_map.raw").read_text().split(), dtype="S"))
        for set_dir in sorted(water.glob("set.*")):
            s = g.create_group(set_dir.name)
            for npy in sorted(set_dir.glob("*.npy")):
                s.create_dataset(npy.name, data=np.load(npy))
    from_h5 = model_devi(models=models, systems=[f"{h5}#/water"], output=None, frequency=2)
    from_npy = model_devi(models=models, systems=[water], output=None, frequency=2)
    assert from_h5.systems == [f"{h5}#/water"]
    assert from_h5.devi[0].shape == (5, 8)
    np.testing.assert_allclose(from_h5.devi[0], from_npy.devi[0], rtol=1e-13, atol=0)
