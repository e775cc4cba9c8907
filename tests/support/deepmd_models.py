"""The DeePMD-kit 3.2.0 models of tests/unit/convert/data and DeePMD-kit's numbers on them.

Written once by tests/unit/convert/data/make_deepmd_models.py in a DeePMD-kit venv; the tests
convert the files with deepft (no DeePMD-kit needed) and compare with DeePMD-kit's own energies
(eV), forces (eV/Å), virials and per-atom terms (DeePMD-kit's sign and layout) in
deepmd_models_reference.npz.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from support.paths import REPO

FOLDER = REPO / "tests" / "unit" / "convert" / "data"
REFERENCE = FOLDER / "deepmd_models_reference.npz"
KEYS = ("energy", "force", "virial", "atom_energy", "atom_virial")


@dataclass(frozen=True)
class Case:
    """One branch of one DeePMD-kit model: its checkpoint and its frozen file."""

    model: str  # file stem of the checkpoint
    branch: str  # "Default" for single-task
    type_map: tuple[str, ...]
    #: DPA-1 without smooth_type_embedding and with attn_dotr: see near_cutoff_atoms
    clamped_directions: bool = False

    @property
    def checkpoint(self) -> Path:
        return FOLDER / f"{self.model}.pt"

    @property
    def frozen(self) -> Path:
        suffix = "" if self.branch == "Default" else f"-{self.branch}"
        return FOLDER / f"{self.model}{suffix}.pth"

    def __str__(self) -> str:
        return self.model if self.branch == "Default" else f"{self.model}/{self.branch}"


CASES = [
    Case("se_e2_a_tos1", "Default", ("O", "H")),
    Case("se_e2_a_tos0", "Default", ("O", "H")),
    Case("se_e2_a_multitask", "water", ("O", "H", "C")),
    Case("se_e2_a_multitask", "organic", ("O", "H", "C")),
    Case("dpa1", "Default", ("O", "H", "C"), clamped_directions=True),
    Case("se_atten_v2", "Default", ("H", "C", "O")),
]
RCUT = 5.0  # Å, every model above


def reference() -> np.lib.npyio.NpzFile:
    return np.load(REFERENCE)


def framesets(case: Case) -> list[str]:
    """The frame sets (``water``: 2 periodic frames of 192 atoms; ``organic``: 2 frames of a
    10-atom C/H/O molecule, no box) DeePMD-kit evaluated ``case`` on."""
    ref = reference()
    return [f for f in ("water", "organic") if f"{case.model}/{case.branch}/{f}/energy" in ref]


def frames(frameset: str, type_map) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """coord [nframes, natoms, 3] (Å, float64), box [nframes, 9] or None, atype [natoms]."""
    ref = reference()
    coord = ref[f"frames/{frameset}/coord"].astype(np.float64)
    coord = coord.reshape(len(coord), -1, 3)
    key = f"frames/{frameset}/box"
    box = ref[key].astype(np.float64).reshape(len(coord), 9) if key in ref else None
    atype = np.array([list(type_map).index(e) for e in ref[f"frames/{frameset}/elements"]])
    return coord, box, atype


def expected(case: Case, frameset: str) -> dict[str, np.ndarray]:
    """DeePMD-kit's results: energy [nf], force [nf, natoms, 3], virial [nf, 9],
    atom_energy [nf, natoms], atom_virial [nf, natoms, 9]."""
    ref = reference()
    nf = len(ref[f"frames/{frameset}/coord"])
    shapes = {"energy": (nf,), "force": (nf, -1, 3), "virial": (nf, 9),
              "atom_energy": (nf, -1), "atom_virial": (nf, -1, 9)}
    return {k: ref[f"{case.model}/{case.branch}/{frameset}/{k}"].reshape(shapes[k])
            for k in KEYS}


def near_cutoff_atoms(case: Case, frameset: str, margin: float = 1e-3) -> np.ndarray:
    """[nframes, natoms] bool: atoms with a neighbor within ``margin`` Å inside rcut, where
    DeePMD-kit's DPA-1 attention (``attn_dotr`` without ``smooth_type_embedding``) departs from
    the exact function: it takes the neighbor direction as ``F.normalize`` of the switched,
    normalized environment row, whose 1e-12 floor shortens the direction once the switch
    falls below about 1e-11 (within ~2e-4 Å of rcut). The energy is unchanged to 1e-12; the
    forces on such a pair differ by up to ~1e-6 eV/Å (docs/deepmd-compatibility.md). All False
    for the other models."""
    coord, box, _ = frames(frameset, case.type_map)
    near = np.zeros(coord.shape[:2], dtype=bool)
    if not case.clamped_directions:
        return near
    for f in range(len(coord)):
        d = coord[f][:, None] - coord[f][None]
        if box is not None:
            lengths = np.diag(box[f].reshape(3, 3))  # the reference boxes are orthorhombic
            d -= np.round(d / lengths) * lengths
        r = np.linalg.norm(d, axis=-1)
        near[f] = ((r < RCUT) & (r > RCUT - margin)).any(axis=1)
    return near
