"""pair_style deepft in MD runs of the lmp executable: 2 MPI ranks = 1 rank, NVE energy
conservation, and the model deviation file = a direct computation with DeepPot (se_e2_a and
DPA-1 models, and an ensemble mixing both).
"""

from __future__ import annotations

import numpy as np
import pytest
from support.lammps_run import run_lmp, thermo_table
from support.model_files import write_random_model
from support.models import write_dpa1_model
from support.paths import WATER_LAMMPS_DATA
from support.tolerances import TIGHT

from deepft.infer import DeepPot

DEVI_HEADER = ("#       step         max_devi_v         min_devi_v         avg_devi_v"
               "         max_devi_f         min_devi_f         avg_devi_f")

MD = """
units           metal
boundary        p p p
atom_style      atomic
atom_modify     map array
read_data       {data}
{extra}
pair_style      {pair}
pair_coeff      {coeff}
{coeff2}
neighbor        1.0 bin
velocity        all create 330.0 4928459 mom yes rot yes dist gaussian
fix             1 all nve
timestep        0.0005
compute         pe_atom all pe/atom
thermo_style    custom step pe ke etotal press pxx pyy pzz pxy pxz pyz
thermo_modify   format float %.15g
thermo          {thermo}
dump            1 all custom {dump_every} traj.dump id type x y z fx fy fz c_pe_atom
dump_modify     1 sort id format float %.17g
run             {steps}
"""


def md_script(pair, steps, *, coeff="* * O H", coeff2="", extra="", thermo=1, dump_every=None):
    return MD.format(data=WATER_LAMMPS_DATA, pair=pair, coeff=coeff, coeff2=coeff2, extra=extra,
                     thermo=thermo, dump_every=dump_every or steps, steps=steps)


def read_frames(path):
    """{step: array [natoms, ncols]} of a text dump sorted by id."""
    frames, lines, k = {}, path.read_text().splitlines(), 0
    while k < len(lines):
        step = int(lines[k + 1])
        n = int(lines[k + 3])
        rows = np.array([[float(x) for x in line.split()] for line in lines[k + 9:k + 9 + n]])
        frames[step] = rows
        k += 9 + n
    return frames


def read_devi(path):
    lines = path.read_text().splitlines()
    return lines[0], np.array([[float(x) for x in line.split()] for line in lines[1:]])


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("lmp_md_models")
    small = dict(neuron=(4, 8), axis_neuron=4, fitting=(8, 8), sel=(24, 48), rcut=4.5,
                 rcut_smth=1.0)
    return {
        "m1": write_random_model(d / "m1.dft", seed=21, **small),
        "m2": write_random_model(d / "m2.dft", seed=22, **small),
        "m3": write_random_model(d / "m3.dft", seed=23, **small),
        # DPA-1 in its smooth form (strip + smooth type embedding, 2 attention layers)
        "d1": write_dpa1_model(d / "d1.dft", seed=24),
        "d2": write_dpa1_model(d / "d2.dft", seed=25),
    }


#: the two models of each descriptor the MD tests run (se_e2_a: m1/m2, DPA-1: d1/d2)
FAMILIES = {"se_e2_a": ("m1", "m2"), "dpa1": ("d1", "d2")}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_two_ranks_equal_one_rank(lmp_env, models, tmp_path, family):
    """384 atoms over 2 ranks (ghost atoms on both sides of the split), 10 NVE steps with
    model deviation; energies, pressures, forces, per-atom energies and the deviation file
    agree with the 1-rank run."""
    first, second = FAMILIES[family]
    pair = f"deepft {models[first]} {models[second]} out_freq 5 atomic"
    script = md_script(pair, 10, extra="replicate 2 1 1", dump_every=10)
    out = {}
    for n in (1, 2):
        work = tmp_path / f"np{n}"
        work.mkdir()
        log = run_lmp(lmp_env, script, work, nprocs=n)
        if n == 2:
            assert "1 by 2 by 1 MPI processor grid" in log or "2 by 1 by 1 MPI processor grid" \
                in log, "the 2-rank run did not decompose the box"
        out[n] = (thermo_table(log), read_frames(work / "traj.dump")[10],
                  read_devi(work / "model_devi.out"))
    (t1, f1, (h1, d1)), (t2, f2, (h2, d2)) = out[1], out[2]
    for col in ("PotEng", "TotEng", "Pxx", "Pyy", "Pzz", "Pxy", "Pxz", "Pyz"):
        err = np.max(np.abs(t1[col] - t2[col]) / np.maximum(1.0, np.abs(t1[col])))
        assert err < 1e-10, f"2 ranks: thermo {col} differs by {err:.3e} (relative)"
    assert f1.shape == (384, 9)
    err = np.max(np.abs(f1[:, 2:] - f2[:, 2:]))
    assert err < 1e-9, f"2 ranks: positions/forces/per-atom energies differ by {err:.3e}"
    assert h1 == h2 and d1.shape == d2.shape == (3, 7 + 384)
    np.testing.assert_allclose(d2, d1, rtol=2e-6, atol=TIGHT,
                               err_msg="2 ranks: model deviation file differs")


def nve_energy(lmp_env, model, work, dt_fs, steps):
    """Thermo table of an NVE run of `steps` x `dt_fs` (deepft + a soft core, see below)."""
    work.mkdir()
    script = md_script(f"hybrid/overlay deepft {model} soft 1.0", steps,
                       coeff="* * deepft O H", coeff2="pair_coeff * * soft 5.0",
                       thermo=steps // 100)
    script = script.replace("timestep        0.0005", f"timestep        {dt_fs * 1e-3}")
    return thermo_table(run_lmp(lmp_env, script, work))


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_nve_energy_drift(lmp_env, models, tmp_path, record_property, family):
    """1000 NVE steps of 0.5 fs (0.5 ps) of water from 330 K: the total energy is conserved,
    and what it wanders is integration error (2x smaller steps: several times less).

    The random small model has no short-range repulsion, so `pair_style hybrid/overlay`
    adds a soft core (1 Å) that keeps atoms from passing through each other; everything else
    is deepft (forces on ghost atoms, reneighboring every few steps, atoms crossing the box).
    """
    natoms = 192
    model = models[FAMILIES[family][0]]
    t = nve_energy(lmp_env, model, tmp_path / "dt0.5", 0.5, 1000)
    etot = t["TotEng"]
    slope = np.polyfit(t["Step"] * 0.5e-3, etot, 1)[0] / natoms  # eV/atom/ps
    max_dev = np.max(np.abs(etot - etot[0])) / natoms  # eV/atom
    pe_range = (t["PotEng"].max() - t["PotEng"].min()) / natoms
    fine = nve_energy(lmp_env, model, tmp_path / "dt0.25", 0.25, 2000)["TotEng"]
    max_dev_fine = np.max(np.abs(fine - fine[0])) / natoms
    record_property("nve_drift_eV_per_atom_per_ps", slope)
    record_property("nve_max_deviation_eV_per_atom", max_dev)
    print(f"\n{family}: NVE 1000 x 0.5 fs, 192 atoms: drift {slope:.3e} eV/atom/ps, max |E-E0| "
          f"{max_dev:.3e} eV/atom (2000 x 0.25 fs: {max_dev_fine:.3e}), potential energy "
          f"range {pe_range:.3e} eV/atom")
    assert pe_range > 1e-2, "the potential energy hardly changed: the test would be blind"
    assert max_dev < 1e-3, f"total energy wanders by {max_dev:.3e} eV/atom"
    assert abs(slope) < 2e-3, f"energy drift {slope:.3e} eV/atom/ps"
    assert max_dev_fine < max_dev / 3, \
        f"smaller steps did not conserve energy better ({max_dev_fine:.3e} vs {max_dev:.3e})"


def expected_devi(frames, paths, relative=None, relative_v=None):
    """Model deviation rows recomputed with DeepPot at the dumped configurations."""
    pots = [DeepPot(p) for p in paths]
    rows = []
    box = np.diag([12.4446611404] * 3).reshape(1, 9)
    for step in sorted(frames):
        fr = frames[step]
        coord, atype = fr[:, 2:5], fr[:, 1].astype(int) - 1
        out = [p.eval(coord[None], box, atype) for p in pots]
        forces = np.stack([o[1][0] for o in out])  # models x natoms x 3
        virials = np.stack([o[2][0] for o in out]) / len(coord)  # models x 9
        avg_f = forces.mean(0)
        devi_f = np.sqrt(((forces - avg_f) ** 2).sum(-1).mean(0))
        if relative is not None:
            devi_f = devi_f / (np.linalg.norm(avg_f, axis=-1) + relative)
        devi_v = virials.std(0)
        if relative_v is not None:
            devi_v = devi_v / (np.abs(virials.mean(0)) + relative_v)
        rows.append([step, devi_v.max(), devi_v.min(), np.sqrt((devi_v ** 2).mean()),
                     devi_f.max(), devi_f.min(), devi_f.mean(), *devi_f])
    return np.array(rows)


@pytest.mark.parametrize("variant", ["absolute", "relative", "relative_v"])
def test_model_deviation_matches_deeppot(lmp_env, models, tmp_path, variant):
    paths = [models["m1"], models["m2"], models["m3"]]
    keys = {"absolute": "", "relative": "relative 0.5", "relative_v": "relative_v 0.2"}[variant]
    pair = f"deepft {' '.join(map(str, paths))} out_freq 5 out_file devi.out atomic {keys}"
    run_lmp(lmp_env, md_script(pair, 20, dump_every=5), tmp_path)
    header, got = read_devi(tmp_path / "devi.out")
    assert header == DEVI_HEADER + "      atm_devi_f(N)", header
    frames = read_frames(tmp_path / "traj.dump")
    assert sorted(frames) == [0, 5, 10, 15, 20]
    want = expected_devi(frames, paths,
                         relative=0.5 if variant == "relative" else None,
                         relative_v=0.2 if variant == "relative_v" else None)
    assert got.shape == want.shape == (5, 7 + 192)
    assert np.all(want[:, 4] > 1e-3), "models agree too well for a meaningful test"
    # the file keeps 7 significant digits
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=TIGHT,
                               err_msg=f"model deviation ({variant}) differs from DeepPot")
    # data lines in DeePMD-kit's layout: %12d then " %18.6e" columns
    line = (tmp_path / "devi.out").read_text().splitlines()[1]
    assert line[:12] == f"{0:12d}" and line[12] == " " and len(line) == 12 + 19 * (6 + 192)


def test_model_deviation_first_model_drives(lmp_env, models, tmp_path):
    """With several models the trajectory is the first model's (same as running it alone),
    and out_freq 0 writes no deviation file."""
    one = run_lmp(lmp_env, md_script(f"deepft {models['m1']}", 10), tmp_path)
    work = tmp_path / "ensemble"
    work.mkdir()
    many = run_lmp(lmp_env, md_script(f"deepft {models['m1']} {models['m2']} out_freq 0", 10),
                   work)
    np.testing.assert_allclose(thermo_table(many)["TotEng"], thermo_table(one)["TotEng"],
                               rtol=1e-13)
    assert not (work / "model_devi.out").exists()


def test_mixed_ensemble_deviation_matches_deeppot(lmp_env, models, tmp_path):
    """Two DPA-1 models and an se_e2_a one in one ensemble (each formats its own neighbor
    list from LAMMPS's): the deviation file equals DeepPot's at the dumped frames."""
    paths = [models["d1"], models["d2"], models["m1"]]
    pair = f"deepft {' '.join(map(str, paths))} out_freq 5 out_file devi.out atomic"
    run_lmp(lmp_env, md_script(pair, 10, dump_every=5), tmp_path)
    _, got = read_devi(tmp_path / "devi.out")
    want = expected_devi(read_frames(tmp_path / "traj.dump"), paths)
    assert got.shape == want.shape == (3, 7 + 192)
    assert np.all(want[:, 4] > 1e-3), "models agree too well for a meaningful test"
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=TIGHT,
                               err_msg="DPA-1 + se_e2_a model deviation differs from DeepPot")
