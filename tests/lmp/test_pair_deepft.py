"""pair_style deepft = deepft.infer.DeepPot on the same model (single points, one MPI rank).

Energy, forces, global virial, per-atom energy (compute pe/atom) and per-atom virial
(compute stress/atom and centroid/stress/atom, ghost contributions summed by LAMMPS) agree
to STRICT in float64, on the cubic water box and on a triclinic deformation of it, for an
se_e2_a and a DPA-1 model (whose mixed-type neighbor list is built from LAMMPS's). Then the
element mapping of pair_coeff (by name, NULL, reordered types), branch selection, and the
user errors (unknown element, missing model file, wrong pair_coeff, newton off).
"""

from __future__ import annotations

import numpy as np
import pytest
from support.lammps_run import single_point
from support.model_files import write_random_model
from support.models import write_dpa1_model
from support.paths import WATER_LAMMPS_DATA
from support.tolerances import STRICT  # float64, same C++ core: summation order

from deepft.infer import DeepPot

TRICLINIC = """
change_box all triclinic
change_box all xy final 1.7 xz final -0.9 yz final 1.2 remap units box
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("lmp_models")
    return {
        "m1": write_random_model(d / "m1.dft", seed=11),
        "multi": write_random_model(d / "multi.dft", seed=12, branches=("water", "other")),
        "dpa1": write_dpa1_model(d / "dpa1.dft", seed=13, rcut=6.0, sel=120),
        "dpa1_multi": write_dpa1_model(d / "dpa1_multi.dft", seed=14,
                                       branches=("water", "other")),
        "dir": d,
    }


def reference(path, sp, branch=None, types=None):
    """DeepPot on the configuration LAMMPS evaluated (atoms by ID, types 0-based)."""
    dp = DeepPot(path, branch=branch)
    atype = sp.types - 1 if types is None else types
    e, f, v, ae, av = dp.eval(sp.coord[None], sp.box[None], atype, atomic=True)
    return e[0], f[0], v[0], ae[0], av[0]


def assert_close(name, case, got, want, tol=STRICT):
    err = float(np.max(np.abs(np.asarray(got) - np.asarray(want))))
    assert err <= tol, f"{case}: {name} differs from DeepPot by {err:.3e} (> {tol:g})"


@pytest.mark.parametrize("model", ["m1", "dpa1"])
@pytest.mark.parametrize("case", ["cubic", "triclinic"])
def test_single_point_matches_deeppot(lmp_env, models, case, model):
    extra = TRICLINIC if case == "triclinic" else ""
    sp = single_point(lmp_env, WATER_LAMMPS_DATA, str(models[model]), extra=extra)
    e, f, v, ae, av = reference(models[model], sp)
    case = f"{model}, {case}"
    assert len(sp.force) == 192
    assert np.abs(sp.force).max() > 1e-3, f"{case}: forces are suspiciously zero"
    assert abs(sp.energy - e) <= STRICT * max(1.0, abs(e)), \
        f"{case}: energy {sp.energy!r} vs DeepPot {e!r}"
    assert_close("forces", case, sp.force, f)
    assert_close("virial", case, sp.virial, 0.5 * (v + v.reshape(3, 3).T.reshape(9)))
    assert_close("atom energy", case, sp.atom_energy, ae)
    assert_close("atom virial (centroid, 9)", case, sp.atom_virial9, av)
    # stress/atom's 6 components: xx yy zz and DeePMD-kit's yx zx zy in LAMMPS' xy xz yz
    assert_close("atom virial (6)", case, sp.atom_virial6, av[:, [0, 4, 8, 3, 6, 7]])
    assert abs(sp.atom_energy.sum() - sp.energy) < 1e-8


@pytest.mark.parametrize("model", ["m1", "dpa1"])
def test_null_type_excludes_atoms(lmp_env, models, model):
    """pair_coeff * * O NULL: H atoms neither have nor are neighbors (= O-only system)."""
    sp = single_point(lmp_env, WATER_LAMMPS_DATA, str(models[model]), elements="O NULL")
    oxygen = sp.types == 1
    dp = DeepPot(models[model])
    e, f, v = dp.eval(sp.coord[oxygen][None], sp.box[None], np.zeros(oxygen.sum(), dtype=int))
    assert abs(sp.energy - e[0]) <= STRICT * abs(e[0])
    assert_close("O forces", "O NULL", sp.force[oxygen], f[0])
    assert_close("H forces", "O NULL", sp.force[~oxygen], 0.0)


def test_types_are_mapped_by_name(lmp_env, models, tmp_path):
    """The same water with LAMMPS types swapped (1 = H, 2 = O) and `pair_coeff * * H O`."""
    lines = WATER_LAMMPS_DATA.read_text().splitlines()
    start = lines.index("Atoms  # atomic") + 2
    for k in range(start, start + 192):
        p = lines[k].split()
        p[1] = "2" if p[1] == "1" else "1"
        lines[k] = " ".join(p)
    masses = lines.index("Masses") + 2
    lines[masses], lines[masses + 1] = "1 1.00794  # H", "2 15.9994  # O"
    swapped = tmp_path / "swapped.data"
    swapped.write_text("\n".join(lines) + "\n")
    ref = single_point(lmp_env, WATER_LAMMPS_DATA, str(models["m1"]))
    sp = single_point(lmp_env, swapped, str(models["m1"]), elements="H O")
    assert abs(sp.energy - ref.energy) <= STRICT * abs(ref.energy)
    assert_close("forces", "swapped types", sp.force, ref.force)


@pytest.mark.parametrize("model", ["multi", "dpa1_multi"])
@pytest.mark.parametrize("branch", ["water", "other"])
def test_branch_keyword(lmp_env, models, branch, model):
    sp = single_point(lmp_env, WATER_LAMMPS_DATA, f"{models[model]} branch {branch}")
    e, f, _, _, _ = reference(models[model], sp, branch=branch)
    assert abs(sp.energy - e) <= STRICT * abs(e), f"{model}: branch {branch}"
    assert_close("forces", f"{model}: branch {branch}", sp.force, f)


def test_default_branch_is_the_files(lmp_env, models):
    sp = single_point(lmp_env, WATER_LAMMPS_DATA, str(models["multi"]))
    e, _, _, _, _ = reference(models["multi"], sp, branch="water")
    assert abs(sp.energy - e) <= STRICT * abs(e)


# ---- user errors -----------------------------------------------------------------------------

def lammps_error(lmp_env, commands: str) -> str:
    """The message of the LAMMPS error raised by `commands` after reading the water box."""
    lmp = lmp_env.lammps()
    try:
        lmp.commands_string(f"units metal\natom_style atomic\nread_data {WATER_LAMMPS_DATA}\n")
        with pytest.raises(Exception) as info:
            lmp.commands_string(commands)
        return str(info.value)
    finally:
        lmp.close()


def test_unknown_element_names_it_and_the_type_map(lmp_env, models):
    msg = lammps_error(lmp_env, f"pair_style deepft {models['m1']}\npair_coeff * * O C")
    assert "element C" in msg and "[O H]" in msg and str(models["m1"]) in msg, msg


def test_missing_model_file_is_named(lmp_env, models):
    missing = models["dir"] / "no_such_model.dft"
    msg = lammps_error(lmp_env, f"pair_style deepft {models['m1']} {missing}")
    assert str(missing) in msg and "cannot read model file" in msg, msg


def test_corrupt_model_file_is_named(lmp_env, models):
    bad = models["dir"] / "corrupt.dft"
    bad.write_bytes(b"not a model")
    msg = lammps_error(lmp_env, f"pair_style deepft {bad}")
    assert str(bad) in msg and "cannot load model file" in msg, msg


def test_unknown_branch_lists_branches(lmp_env, models):
    msg = lammps_error(lmp_env, f"pair_style deepft {models['multi']} branch nope")
    assert "nope" in msg and "water" in msg and "other" in msg, msg


def test_wrong_number_of_elements(lmp_env, models):
    msg = lammps_error(lmp_env, f"pair_style deepft {models['m1']}\npair_coeff * * O")
    assert "1 element names given for 2 LAMMPS atom types" in msg, msg


def test_unknown_keyword(lmp_env, models):
    msg = lammps_error(lmp_env, f"pair_style deepft {models['m1']} out_freq 10 bogus")
    assert "unknown argument 'bogus'" in msg, msg


def test_newton_off_is_refused(lmp_env, models):
    msg = lammps_error(lmp_env, f"newton off on\npair_style deepft {models['m1']}\n"
                                "pair_coeff * * O H\nrun 0")
    assert "newton on" in msg, msg


def test_sel_overflow_is_reported(lmp_env, tmp_path):
    """A model whose sel is smaller than the real neighbor count: LAMMPS warns (once)."""
    from support.lammps_run import run_lmp

    model = write_random_model(tmp_path / "tiny_sel.dft", seed=5, sel=(5, 10))
    log = run_lmp(lmp_env, f"units metal\natom_style atomic\nread_data {WATER_LAMMPS_DATA}\n"
                           f"pair_style deepft {model}\npair_coeff * * O H\nrun 2\n", tmp_path)
    assert log.count("keeps sel = 5") == 1 and "O neighbors within the cutoff" in log, log


def test_dpa1_sel_overflow_is_reported_for_all_types(lmp_env, tmp_path):
    """A DPA-1 model has one neighbor list for all types: the warning counts all of them."""
    from support.lammps_run import run_lmp

    model = write_dpa1_model(tmp_path / "dpa1_tiny_sel.dft", seed=6, sel=20)
    log = run_lmp(lmp_env, f"units metal\natom_style atomic\nread_data {WATER_LAMMPS_DATA}\n"
                           f"pair_style deepft {model}\npair_coeff * * O H\nrun 2\n", tmp_path)
    assert "deepft: dpa1 descriptor" in log, log
    assert log.count("keeps sel = 20 for all types") == 1, log
    assert "neighbors (all types) within the cutoff" in log, log


def test_special_bonds_do_not_change_the_model(lmp_env, models, tmp_path):
    """Water as a bonded system (O-H bonds, special_bonds 0.5): LAMMPS marks bonded neighbors
    with special bits in the neighbor list; deepft must still see every neighbor."""
    lines = WATER_LAMMPS_DATA.read_text().splitlines()
    start = lines.index("Atoms  # atomic") + 2
    atoms = [line.split() for line in lines[start:start + 192]]
    xyz = np.array([[float(v) for v in a[2:5]] for a in atoms])
    box = float(lines[5].split()[1])
    oxygens = [i for i, a in enumerate(atoms) if a[1] == "1"]
    bonds = []
    for i, a in enumerate(atoms):
        if a[1] == "2":
            d = xyz[oxygens] - xyz[i]
            d -= box * np.round(d / box)
            bonds.append((oxygens[int(np.argmin((d ** 2).sum(1)))] + 1, i + 1))
    head = lines[:start - 2]
    head.insert(4, f"{len(bonds)} bonds\n1 bond types")
    body = ["Atoms  # bond", ""] + [f"{a[0]} 1 {a[1]} {a[2]} {a[3]} {a[4]}" for a in atoms]
    body += ["", "Bonds", ""] + [f"{k + 1} 1 {o} {h}" for k, (o, h) in enumerate(bonds)]
    data = tmp_path / "bonded.data"
    data.write_text("\n".join(head + body) + "\n")
    ref = single_point(lmp_env, WATER_LAMMPS_DATA, str(models["m1"]))
    lmp = lmp_env.lammps()
    try:
        lmp.commands_string(f"units metal\natom_style bond\nbond_style zero\nread_data {data}\n"
                            "bond_coeff 1\nspecial_bonds lj 0.5 0.5 0.5\n"
                            f"pair_style deepft {models['m1']}\npair_coeff * * O H\nrun 0\n")
        energy = lmp.get_thermo("pe")
        n = lmp.extract_global("nlocal")
        ids = np.array(lmp.numpy.extract_atom("id")[:n])
        force = np.array(lmp.numpy.extract_atom("f")[:n])[np.argsort(ids)]
    finally:
        lmp.close()
    assert abs(energy - ref.energy) <= STRICT * abs(ref.energy)
    assert_close("forces", "special bonds", force, ref.force)


def test_overlapping_atoms_are_named_by_id(lmp_env, models):
    """Two atoms at the same position: an error naming both atom IDs, never a NaN energy."""
    msg = lammps_error(lmp_env, f"pair_style deepft {models['m1']}\npair_coeff * * O H\n"
                                "set atom 5 x 1.0 y 1.0 z 1.0\nset atom 9 x 1.0 y 1.0 z 1.0\n"
                                "run 0")
    assert ("IDs 5 and 9" in msg or "IDs 9 and 5" in msg) and "0 Å apart" in msg, msg
    assert str(models["m1"]) in msg, msg


def test_crafted_model_file_is_refused_by_field(lmp_env, models):
    """A header edited behind a re-stamped checksum (sel = 0) is refused naming the field."""
    import json
    import struct

    from deepft.io.model_file import assemble_model_file

    data = models["m1"].read_bytes()
    header = json.loads(data[24:24 + struct.unpack_from("<Q", data, 16)[0]])
    next(iter(header["branches"].values()))["descriptor"]["sel"][1] = 0
    bad = models["dir"] / "sel0.dft"
    bad.write_bytes(assemble_model_file(header, data[len(data) - header["blob_nbytes"]:]))
    msg = lammps_error(lmp_env, f"pair_style deepft {bad}")
    assert str(bad) in msg and "descriptor.sel[1]': 0 is outside" in msg, msg


def test_version_1_model_warns_about_the_missing_checksum(lmp_env, models, tmp_path):
    from support.lammps_run import run_lmp

    from deepft.io.model_file import encode_model_file, read_model_file

    src = read_model_file(models["m1"])
    header = {k: v for k, v in src.header.items()
              if k not in ("tensors", "blob_nbytes", "format_version")}
    old = tmp_path / "v1.dft"
    old.write_bytes(encode_model_file(header, src.tensors, version=1))
    log = run_lmp(lmp_env, f"units metal\natom_style atomic\nread_data {WATER_LAMMPS_DATA}\n"
                           f"pair_style deepft {old}\npair_coeff * * O H\nrun 0\n", tmp_path)
    assert "format version 1 carries no checksum" in log, log[-3000:]
