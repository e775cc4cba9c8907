"""`pair_style deepft` on DeePMD-kit models converted by `deepft convert-from deepmd`: LAMMPS
gives DeePMD-kit 3.2.0's own energies, forces, virials and per-atom terms (fp64, 1e-10).

The water frames DeePMD-kit evaluated (tests/unit/convert/data) are written as LAMMPS data
files (orthorhombic boxes, atom IDs in frame order); pair_coeff names the elements, so the
LAMMPS types map onto each model's type map by name.
"""

from __future__ import annotations

import numpy as np
import pytest
from support.deepmd_models import CASES, expected, frames
from support.lammps_run import single_point
from support.tolerances import STRICT

from deepft.commands.convert import convert_from_deepmd

ELEMENTS = ("O", "H")  # LAMMPS types 1, 2 of the water data files
CHOSEN = [c for c in CASES if c.model in ("se_e2_a_tos0", "se_atten_v2")] + [
    c for c in CASES if c.model == "se_e2_a_multitask" and c.branch == "water"]


def water_data_file(path, coord: np.ndarray, box: np.ndarray, elements: list[str]):
    """LAMMPS data file (atomic style) of one orthorhombic frame; types by ELEMENTS."""
    lengths = np.diag(box.reshape(3, 3))
    lines = ["water frame from DeePMD-kit's reference", "", f"{len(coord)} atoms", "2 atom types",
             f"0 {float(lengths[0])!r} xlo xhi", f"0 {float(lengths[1])!r} ylo yhi",
             f"0 {float(lengths[2])!r} zlo zhi", "", "Masses", "", "1 15.999", "2 1.008", "",
             "Atoms  # atomic", ""]
    lines += [f"{i + 1} {ELEMENTS.index(e) + 1} {float(x)!r} {float(y)!r} {float(z)!r}"
              for i, (e, (x, y, z)) in enumerate(zip(elements, coord, strict=True))]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("case", CHOSEN, ids=str)
def test_lammps_matches_deepmd_kit(lmp_env, tmp_path, case):
    branch = None if case.branch == "Default" else case.branch
    model = convert_from_deepmd(case.checkpoint, tmp_path / "model.dft", model_branch=branch)
    coord, box, atype = frames("water", case.type_map)
    want = expected(case, "water")
    elements = [case.type_map[t] for t in atype]
    for f in range(len(coord)):
        data = water_data_file(tmp_path / f"frame{f}.data", coord[f], box[f], elements)
        sp = single_point(lmp_env, data, str(model), elements=" ".join(ELEMENTS))
        scale = max(1.0, abs(want["energy"][f]))
        assert abs(sp.energy - want["energy"][f]) <= STRICT * scale, f"{case} frame {f}"
        for name, got, ref in (
                ("force", sp.force, want["force"][f]),
                ("virial", sp.virial, 0.5 * (want["virial"][f] + want["virial"][f].reshape(
                    3, 3).T.reshape(9))),
                ("atom energy", sp.atom_energy, want["atom_energy"][f]),
                ("atom virial", sp.atom_virial9, want["atom_virial"][f])):
            err = np.abs(got - ref).max()
            assert err <= STRICT * max(1.0, np.abs(ref).max()), \
                f"{case} frame {f}: {name} differs from DeePMD-kit by {err:.2e}"
