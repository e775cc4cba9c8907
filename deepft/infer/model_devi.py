"""Model deviation of an ensemble of models: the numbers of ``dp model-devi`` (DeePMD-kit 3.x)
and of ``pair_style deepft m1.dft m2.dft ... out_freq N`` (source/lmp/model_devi.h).

With M models evaluated on the same frames (pure numpy; ``nf`` frames, ``N`` atoms):

- force deviation of atom i: ``eps_F,i = sqrt(1/M sum_m |F_i^m - <F_i>|^2)`` (eV/Å); with
  ``relative`` = eps: divided by ``|<F_i>| + eps`` (dimensionless);
- virial deviation of component c of the virial per atom W/N:
  ``eps_V,c = sqrt(1/M sum_m (W_c^m/N - <W_c/N>)^2)`` (eV); with ``relative_v`` = eps: divided
  by ``|<W_c/N>| + eps`` per component, as DeePMD-kit's LAMMPS interface and this package's
  plugin do (``dp model-devi --relative-v`` of DeePMD-kit 3.x divides by the norm of the
  whole mean 9-vector instead);
- energy deviation: the standard deviation over models of the energy per atom E/N (eV).

A row of the file: ``step max_devi_v min_devi_v avg_devi_v max_devi_f min_devi_f avg_devi_f
devi_e [atm_devi_f ...]`` where max/min run over the 9 virial components or the N atoms,
``avg_devi_v = sqrt(mean_c eps_V,c^2)``, ``avg_devi_f = mean_i eps_F,i``. The plugin writes the
same first 7 columns (no ``devi_e``), then the atomic ones.
"""

from __future__ import annotations

import numpy as np

#: column names after ``step``
COLUMNS = ("max_devi_v", "min_devi_v", "avg_devi_v", "max_devi_f", "min_devi_f", "avg_devi_f",
           "devi_e")


def force_deviation(forces: np.ndarray, relative: float | None = None) -> np.ndarray:
    """``M x nf x N x 3`` forces (eV/Å) -> ``nf x N`` deviations eps_F,i (eV/Å, or
    dimensionless with ``relative``)."""
    forces = np.asarray(forces, dtype=np.float64)
    avg = forces.mean(axis=0)
    devi = np.sqrt(np.square(forces - avg).sum(axis=-1).mean(axis=0))
    if relative is not None:
        devi = devi / (np.linalg.norm(avg, axis=-1) + relative)
    return devi


def virial_deviation(virials: np.ndarray, relative_v: float | None = None) -> np.ndarray:
    """``M x nf x 9`` virials per atom (eV) -> ``nf x 9`` deviations eps_V,c (eV, or
    dimensionless with ``relative_v``)."""
    virials = np.asarray(virials, dtype=np.float64)
    devi = virials.std(axis=0)
    if relative_v is not None:
        devi = devi / (np.abs(virials.mean(axis=0)) + relative_v)
    return devi


def model_devi_rows(energy: np.ndarray, force: np.ndarray, virial: np.ndarray,
                    steps: np.ndarray, *, relative: float | None = None,
                    relative_v: float | None = None, atomic: bool = False) -> np.ndarray:
    """Rows of the model deviation file from the outputs of M models.

    energy ``M x nf`` (eV), force ``M x nf x N x 3`` (eV/Å), virial ``M x nf x 9`` (eV, total,
    not per atom), steps ``nf``. Returns ``nf x 8`` (``nf x (8 + N)`` with ``atomic``): step,
    the 7 :data:`COLUMNS`, then eps_F,i of every atom.
    """
    natoms = np.asarray(force).shape[2]
    devi_f = force_deviation(force, relative)
    devi_v = virial_deviation(np.asarray(virial, dtype=np.float64) / natoms, relative_v)
    devi_e = (np.asarray(energy, dtype=np.float64) / natoms).std(axis=0)
    cols = [np.asarray(steps, dtype=np.float64),
            devi_v.max(axis=1), devi_v.min(axis=1), np.sqrt(np.square(devi_v).mean(axis=1)),
            devi_f.max(axis=1), devi_f.min(axis=1), devi_f.mean(axis=1), devi_e]
    rows = np.stack(cols, axis=1)
    return np.concatenate([rows, devi_f], axis=1) if atomic else rows


def header(atomic: bool) -> str:
    """Column header line (no newline): ``#`` + ``step`` right-aligned in 11 characters, then
    each column name right-aligned in 19, as the plugin writes it (plus ``devi_e``)."""
    text = f"#{'step':>11}" + "".join(f"{c:>19}" for c in COLUMNS)
    return text + (f"{'atm_devi_f(N)':>19}" if atomic else "")


def format_rows(rows: np.ndarray) -> list[str]:
    """Data lines (no newline): ``%12d`` step then ``%19.6e`` columns (DeePMD-kit's layout;
    the same characters as the plugin's ``" %18.6e"``)."""
    return [f"{int(round(r[0])):12d}" + "".join(f"{x:19.6e}" for x in r[1:]) for r in rows]
