"""A compressed DPA-1 model (``attn_layer: 0``, ``tebd_input_mode: "strip"``: the geometric net
g(ŝ) tabulated, the type gate E(τ) a constant per type pair) against the uncompressed one, on
real water frames: both type_one_side layouts, smooth_type_embedding on and off (the smooth
gate w = sw(r) adds a dependence on r), concat_output_tebd on and off, float64 and float32;
forces are the finite-difference gradient of the compressed energy. Exactly (STRICT): the C++
core on a coarse table equals the torch model with g replaced by that table, both
type_one_side layouts, smooth or not."""

from __future__ import annotations

import numpy as np
import pytest
from support.finite_diff import assert_forces_are_energy_gradient
from support.frames import load_frames
from support.models import ELEMENTS, build_energy_model, dpa1_model_section, freeze_to
from support.table_oracle import COARSE_STEP, assert_core_equals_table_oracle
from support.tolerances import COMPRESSED, FLOAT32_KERNEL

from deepft.commands.compress import compress
from deepft.infer import DeepPot

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def water(water_dir):
    return load_frames(water_dir / "data_0", 2, ELEMENTS)


def dpa1_model(water, precision="float64", **descriptor):
    """A DPA-1 strip model without attention, statistics from the water frames."""
    coord, box, atype = water
    section = dpa1_model_section(precision, attn_layer=0, tebd_input_mode="strip",
                                 **descriptor)
    return build_energy_model(section, [{"coord": coord, "box": box, "atype": atype}], seed=5)


def frozen_dpa1(tmp_path, water, precision="float64", **descriptor):
    return freeze_to(dpa1_model(water, precision, **descriptor),
                     tmp_path / f"dpa1_{precision}.dft")


def compressed(path, water_dir, step=0.01):
    return compress(path, path.parent / f"c{step}_{path.name}", step=step,
                    systems=[str(water_dir / "data_0")])


def diffs(a, b, natoms: int) -> tuple[float, float, float]:
    """(max |dE| per atom, max |dF|, max |dV|)."""
    return (float(np.abs(a[0] - b[0]).max()) / natoms, float(np.abs(a[1] - b[1]).max()),
            float(np.abs(a[2] - b[2]).max()))


@pytest.mark.parametrize("type_one_side, smooth, concat_tebd", [
    (False, True, True), (True, False, True), (True, True, False), (False, False, False)])
def test_compressed_dpa1_equals_uncompressed_float64(tmp_path, water, water_dir, type_one_side,
                                                     smooth, concat_tebd):
    path = frozen_dpa1(tmp_path, water, type_one_side=type_one_side,
                       smooth_type_embedding=smooth, concat_output_tebd=concat_tebd)
    ref, got = DeepPot(path), DeepPot(compressed(path, water_dir))
    assert got.compressed and not ref.compressed
    want = ref.eval(*water)
    de, df, dv = diffs(want, got.eval(*water), len(water[2]))
    case = f"type_one_side={type_one_side} smooth={smooth} concat_output_tebd={concat_tebd}"
    print(f"{case}: dE/atom {de:.2e}, dF {df:.2e}, dV {dv:.2e}")
    assert de <= COMPRESSED and df <= COMPRESSED, f"{case}: dE/atom {de:.2e}, dF {df:.2e}"
    assert dv <= COMPRESSED * len(water[2]), f"{case}: virial differs by {dv:.2e}"
    assert np.abs(want[1]).max() > 1e-2, "forces too small to test anything"
    counts = got.table_counts()
    assert counts["neighbors"] > 0 and counts["beyond_data"] == 0, (case, counts)


def test_compressed_dpa1_float32(tmp_path, water, water_dir):
    path = frozen_dpa1(tmp_path, water, "float32", smooth_type_embedding=True)
    got = DeepPot(compressed(path, water_dir))
    assert got.precision == "float32" and got.compressed
    de, df, _ = diffs(DeepPot(path).eval(*water), got.eval(*water), len(water[2]))
    assert de <= FLOAT32_KERNEL * 10 and df <= FLOAT32_KERNEL * 10, f"dE {de:.2e}, dF {df:.2e}"


@pytest.mark.parametrize("smooth", [True, False])
def test_dpa1_forces_are_gradient_of_compressed_energy(tmp_path, water, water_dir, smooth):
    path = frozen_dpa1(tmp_path, water, smooth_type_embedding=smooth)
    pot = DeepPot(compressed(path, water_dir, step=0.05))
    coord, box, atype = (water[0][:1].copy(), water[1][:1], water[2])
    atoms = np.random.default_rng(1).choice(len(atype), 3, replace=False)
    assert_forces_are_energy_gradient(pot, coord, box, atype, atoms, f"smooth={smooth}")


def test_dpa1_error_shrinks_with_step(tmp_path, water, water_dir):
    """The table is what is evaluated: its force error grows with the step (at 0.01 it is
    below the energy's rounding)."""
    path = frozen_dpa1(tmp_path, water, smooth_type_embedding=True)
    ref = DeepPot(path).eval(*water)
    errors = [diffs(ref, DeepPot(compressed(path, water_dir, step)).eval(*water),
                    len(water[2]))[1] for step in (0.4, 0.1)]
    assert errors[0] > 100 * errors[1] > 0, f"force errors by step: {errors}"


@pytest.mark.parametrize("smooth", [True, False])
@pytest.mark.parametrize("type_one_side", [True, False])
def test_core_equals_torch_oracle_of_the_table(tmp_path, water, water_dir, type_one_side,
                                               smooth):
    """A coarse table of g(ŝ) (COARSE_STEP: far from the net) evaluated by the C++ core
    (type gate fused into the table kernel) equals the torch DPA-1 model whose geometric net
    g is replaced by the same table (the model's own strip gate, sw factor and contraction):
    energy, forces, virial, atomic energies and virials (support.table_oracle)."""
    model = dpa1_model(water, type_one_side=type_one_side, smooth_type_embedding=smooth)
    path = freeze_to(model, tmp_path / "dpa1.dft")
    assert_core_equals_table_oracle(model, compressed(path, water_dir, step=COARSE_STEP), water,
                                    f"dpa1 type_one_side={type_one_side} smooth={smooth}")
