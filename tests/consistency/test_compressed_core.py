"""A compressed model (``deepft compress``: tabulated embedding nets, evaluated by the C++ core
with the table fused into the contraction) against the uncompressed one, on real water frames.

Random weights with statistics from the data (support.models), both embedding layouts, float64
and float32; the table range comes from the water data's shortest neighbor distance. Also:
the error falls as --step shrinks, forces are the finite-difference gradient of the compressed
energy, neighbors closer than the training data are counted, a multitask descriptor is
tabulated once, and the core on a coarse table equals the torch model with its nets replaced
by that table (STRICT).
"""

from __future__ import annotations

import numpy as np
import pytest
from support.finite_diff import assert_forces_are_energy_gradient
from support.frames import load_frames
from support.models import ELEMENTS, build_energy_model, freeze_to, model_section
from support.table_oracle import COARSE_STEP, assert_core_equals_table_oracle
from support.tolerances import COMPRESSED, FD_STEP, FINITE_DIFF, FLOAT32_KERNEL

from deepft.commands.compress import compress
from deepft.infer import DeepPot

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def water(water_dir):
    return load_frames(water_dir / "data_0", 2, ELEMENTS)


def frozen(tmp_path, water, type_one_side: bool, precision: str = "float64", **kw):
    coord, box, atype = water
    model = build_energy_model(model_section(type_one_side, precision, **kw),
                               [{"coord": coord, "box": box, "atype": atype}], seed=3)
    return freeze_to(model, tmp_path / f"m_{type_one_side}_{precision}.dft")


def compressed(path, water_dir, step=0.01, name="c.dft"):
    return compress(path, path.parent / f"{step}_{name}", step=step,
                    systems=[str(water_dir / "data_0")])


def diffs(a, b, natoms: int) -> tuple[float, float, float]:
    """(max |dE| per atom, max |dF|, max |dV|)."""
    return (float(np.abs(a[0] - b[0]).max()) / natoms, float(np.abs(a[1] - b[1]).max()),
            float(np.abs(a[2] - b[2]).max()))


@pytest.mark.parametrize("type_one_side", [True, False])
def test_compressed_equals_uncompressed_float64(tmp_path, water, water_dir, type_one_side):
    path = frozen(tmp_path, water, type_one_side)
    small = compressed(path, water_dir)
    ref, got = DeepPot(path), DeepPot(small)
    assert got.compressed and not ref.compressed
    de, df, dv = diffs(ref.eval(*water), got.eval(*water), len(water[2]))
    case = f"type_one_side={type_one_side}"
    assert de <= COMPRESSED and df <= COMPRESSED, f"{case}: dE/atom {de:.2e}, dF {df:.2e}"
    assert dv <= COMPRESSED * len(water[2]), f"{case}: virial differs by {dv:.2e}"
    counts = got.table_counts()
    assert counts["neighbors"] > 0 and counts["beyond_data"] == 0, (case, counts)


def test_error_shrinks_with_step(tmp_path, water, water_dir):
    path = frozen(tmp_path, water, True)
    ref = DeepPot(path).eval(*water)
    errors = [diffs(ref, DeepPot(compressed(path, water_dir, step)).eval(*water),
                    len(water[2]))[1] for step in (0.4, 0.2, 0.1)]
    assert errors[0] > errors[1] > errors[2] > 0, f"force errors by step: {errors}"
    assert errors[2] < errors[0] / 100, f"force errors by step: {errors}"


def test_float32_compressed(tmp_path, water, water_dir):
    path = frozen(tmp_path, water, False, "float32")
    small = compressed(path, water_dir)
    got = DeepPot(small)
    assert got.precision == "float32" and got.compressed
    ref = DeepPot(path).eval(*water)
    de, df, _ = diffs(ref, got.eval(*water), len(water[2]))
    assert de <= FLOAT32_KERNEL * 10 and df <= FLOAT32_KERNEL * 10, f"dE {de:.2e}, dF {df:.2e}"


def test_forces_are_gradient_of_compressed_energy(tmp_path, water, water_dir):
    path = frozen(tmp_path, water, False)
    pot = DeepPot(compressed(path, water_dir, step=0.05))
    coord, box, atype = (water[0][:1].copy(), water[1][:1], water[2])
    atoms = np.random.default_rng(0).choice(len(atype), 4, replace=False)
    assert_forces_are_energy_gradient(pot, coord, box, atype, atoms)


def test_close_pair_is_counted_and_forces_stay_gradients(tmp_path, water, water_dir):
    """Two atoms pushed closer than the data's shortest distance: beyond_data counts them;
    far closer (beyond the table's end) the embedding is held and forces stay exact."""
    path = frozen(tmp_path, water, True)
    pot = DeepPot(compressed(path, water_dir, step=0.05))
    coord, box, atype = water[0][:1].copy(), water[1][:1], water[2]
    pos = coord[0]
    j = int(np.argsort(np.linalg.norm(pos - pos[0], axis=1))[1])
    for dist, key in ((0.5, "beyond_data"), (0.02, "beyond_table")):
        c = coord.copy()
        u = (pos[j] - pos[0]) / np.linalg.norm(pos[j] - pos[0])
        c[0, j] = pos[0] + dist * u
        before = pot.table_counts()[key]
        force = pot.eval(c, box, atype)[1][0]
        assert pot.table_counts()[key] >= before + 2, f"{key} not counted at {dist} Å"
        h = FD_STEP[torch.float64]
        plus, minus = c.copy(), c.copy()
        plus[0, j] += h * u
        minus[0, j] -= h * u
        fd = -(pot.eval(plus, box, atype)[0][0] - pot.eval(minus, box, atype)[0][0]) / (2 * h)
        assert abs(fd - force[j] @ u) < 1e3 * FINITE_DIFF[torch.float64] * max(1, abs(fd)), \
            f"{dist} Å: FD {fd} vs force {force[j] @ u}"


def test_ase_calculator_takes_compressed_file(tmp_path, water, water_dir):
    ase = pytest.importorskip("ase")
    from deepft.calculator import DeepFT

    path = frozen(tmp_path, water, True)
    small = compressed(path, water_dir)
    coord, box, atype = water
    atoms = ase.Atoms([ELEMENTS[t] for t in atype], positions=coord[0],
                      cell=box[0].reshape(3, 3), pbc=True)
    atoms.calc = DeepFT(small)
    e, f, _ = DeepPot(path).eval(coord[:1], box[:1], atype)
    assert abs(atoms.get_potential_energy() - e[0]) <= COMPRESSED * len(atype)
    assert np.abs(atoms.get_forces() - f[0]).max() <= COMPRESSED


@pytest.mark.parametrize("type_one_side", [True, False])
def test_core_equals_torch_oracle_of_the_table(tmp_path, water, water_dir, type_one_side):
    """A coarse table (COARSE_STEP: far from the nets) evaluated by the C++ core equals the
    torch model whose embedding nets are replaced by the same table: energy, forces, virial,
    atomic energies and virials (support.table_oracle)."""
    coord, box, atype = water
    model = build_energy_model(model_section(type_one_side),
                               [{"coord": coord, "box": box, "atype": atype}], seed=3)
    path = freeze_to(model, tmp_path / "m.dft")
    assert_core_equals_table_oracle(model, compressed(path, water_dir, step=COARSE_STEP), water,
                                    f"se_e2_a type_one_side={type_one_side}")
