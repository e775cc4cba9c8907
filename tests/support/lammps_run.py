"""Run LAMMPS with pair_style deepft and read results back (helpers for tests/lmp and the
benchmark). Units: metal (Å, eV, eV/Å); virials in eV with DeePMD-kit's sign (positive
for repulsion), row-major 3x3.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# LAMMPS constants of the library interface (lammps.constants), repeated so that importing
# this module never imports lammps.
LMP_STYLE_GLOBAL, LMP_STYLE_ATOM = 0, 1
LMP_TYPE_VECTOR, LMP_TYPE_ARRAY = 1, 2

SETUP = """
units           metal
boundary        p p p
atom_style      atomic
atom_modify     map array sort 0 0.0
read_data       {data}
{extra}
pair_style      deepft {pair_args}
pair_coeff      * * {elements}
neighbor        {skin} bin
"""

PROBES = """
compute         pe_atom all pe/atom
compute         s_atom all stress/atom NULL pair
compute         cs_atom all centroid/stress/atom NULL pair
compute         w all pressure NULL pair
thermo_style    custom step pe c_w[1] c_w[2] c_w[3] c_w[4] c_w[5] c_w[6]
"""


@dataclass
class SinglePoint:
    """One LAMMPS evaluation, atoms ordered by atom ID."""

    energy: float  # eV
    force: np.ndarray  # natoms x 3, eV/Å
    virial: np.ndarray  # 9, eV (symmetrized from LAMMPS' 6 components)
    atom_energy: np.ndarray  # natoms, eV
    atom_virial6: np.ndarray  # natoms x 6 (xx yy zz xy xz yz), eV, from stress/atom
    atom_virial9: np.ndarray  # natoms x 9 row-major, eV, from centroid/stress/atom
    coord: np.ndarray  # natoms x 3, Å (wrapped into the box)
    box: np.ndarray  # 9, rows = lattice vectors, Å
    types: np.ndarray  # natoms, LAMMPS types (1-based)


def single_point(env, data: Path, pair_args: str, elements: str = "O H", skin: float = 2.0,
                 extra: str = "") -> SinglePoint:
    """Evaluate `pair_style deepft pair_args` once (run 0) in-process, on one MPI rank;
    `extra` commands run after read_data (replicate, change_box, ...)."""
    lmp = env.lammps()
    try:
        lmp.commands_string(SETUP.format(
            data=data, pair_args=pair_args, elements=elements, skin=skin, extra=extra))
        lmp.commands_string(PROBES + "\nrun 0\n")
        n = lmp.extract_global("nlocal")

        def per_atom(compute_id, kind=LMP_TYPE_ARRAY):
            return np.array(lmp.numpy.extract_compute(compute_id, LMP_STYLE_ATOM, kind)[:n])

        ids = np.array(lmp.numpy.extract_atom("id")[:n], dtype=np.int64)
        order = np.argsort(ids)
        nktv2p = lmp.extract_global("nktv2p")
        boxlo, boxhi, xy, yz, xz, _, _ = lmp.extract_box()
        h = np.array(boxhi) - np.array(boxlo)
        box = np.array([h[0], 0, 0, xy, h[1], 0, xz, yz, h[2]])
        volume = h[0] * h[1] * h[2]
        w = np.array(lmp.numpy.extract_compute("w", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR))
        w = w * volume / nktv2p  # pressure * V -> virial (eV)
        virial = np.array([w[0], w[3], w[4], w[3], w[1], w[5], w[4], w[5], w[2]])
        # stress/atom is -(per-atom virial) in pressure*volume units.
        s6 = -per_atom("s_atom") / nktv2p
        s9 = -per_atom("cs_atom") / nktv2p
        # LAMMPS' tensor is the transpose of DeePMD-kit's (W_ab = sum r_a F_b vs F_a r_b):
        # centroid order xx yy zz xy xz yz yx zx zy -> deepft row-major
        v9 = s9[:, [0, 6, 7, 3, 1, 8, 4, 5, 2]]
        return SinglePoint(
            energy=lmp.get_thermo("pe"),
            force=np.array(lmp.numpy.extract_atom("f")[:n])[order].copy(),
            virial=virial,
            atom_energy=per_atom("pe_atom", LMP_TYPE_VECTOR)[order].copy(),
            atom_virial6=s6[order].copy(),
            atom_virial9=v9[order].copy(),
            coord=np.array(lmp.numpy.extract_atom("x")[:n])[order].copy(),
            box=box,
            types=np.array(lmp.numpy.extract_atom("type")[:n])[order].copy(),
        )
    finally:
        lmp.close()


def run_lmp(env, script: str, workdir: Path, nprocs: int = 1, timeout: float = 600) -> str:
    """Run the lmp executable on `script` (written to workdir/in.lammps), under mpirun when
    nprocs > 1; returns the log text. Raises AssertionError with the output on failure."""
    path = workdir / "in.lammps"
    path.write_text(f"plugin load {env.plugin}\n" + script)
    cmd = [str(env.lmp_binary), "-in", str(path), "-log", str(workdir / "log.lammps"), "-nocite"]
    if nprocs > 1:
        assert env.mpirun is not None, "mpirun of the mpich wheel not found next to python"
        cmd = [str(env.mpirun), "-np", str(nprocs), *cmd]
    proc = subprocess.run(cmd, cwd=workdir, env=env.env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"lmp failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
                             f"{proc.stderr[-4000:]}")
    return proc.stdout


def thermo_table(log: str) -> dict[str, np.ndarray]:
    """Columns of the last thermo table of a LAMMPS log (header line starting with 'Step')."""
    lines = log.splitlines()
    starts = [i for i, line in enumerate(lines) if re.match(r"^\s*Step\s", line)]
    assert starts, "no thermo table in the LAMMPS output"
    head = lines[starts[-1]].split()
    rows = []
    for line in lines[starts[-1] + 1:]:
        parts = line.split()
        if len(parts) != len(head):
            break
        try:
            rows.append([float(p) for p in parts])
        except ValueError:
            break
    table = np.array(rows)
    return {name: table[:, k] for k, name in enumerate(head)}


def read_dump(path: Path) -> np.ndarray:
    """Last frame of a `dump custom ... id fx fy fz`-style text dump, rows sorted by id."""
    text = path.read_text().splitlines()
    start = max(i for i, line in enumerate(text) if line.startswith("ITEM: ATOMS"))
    rows = np.array([[float(x) for x in line.split()] for line in text[start + 1:] if line.strip()])
    return rows[np.argsort(rows[:, 0])]
