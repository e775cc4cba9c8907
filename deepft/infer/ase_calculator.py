"""ASE calculator over the native inference core.

    from deepft.calculator import DeepFT
    atoms.calc = DeepFT("model.dft")            # DeepFT("multi.dft", branch="water")
    atoms.get_potential_energy(); atoms.get_forces(); atoms.get_stress()

Elements are mapped to atom types by the model's type map. Periodic systems (pbc all True) use
the cell; non-periodic ones (pbc all False) none; mixed periodicity is not supported.
Properties: energy / free_energy (eV), forces (eV/Å), stress (eV/Å³, ASE's Voigt order
xx, yy, zz, yz, xz, xy; stress = -virial / volume, i.e. (1/V) dE/dε), energies (per atom, eV).
"""

from __future__ import annotations

import os

import numpy as np
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from deepft.errors import InputError
from deepft.infer.deep_pot import DeepPot


class DeepFT(Calculator):
    """ASE calculator for a deepft frozen model.

    ``model``: path of a model.dft (or a loaded :class:`DeepPot`); ``branch``: branch of a
    multitask model (None: the file's default branch).
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress", "energies"]

    def __init__(self, model: str | os.PathLike | DeepPot, branch: str | None = None,
                 label: str = "deepft", **kwargs):
        super().__init__(label=label, **kwargs)
        self.dp = model if isinstance(model, DeepPot) else DeepPot(model, branch=branch)
        self._type_index = {name: i for i, name in enumerate(self.dp.type_map)}

    def atom_types(self, symbols) -> np.ndarray:
        """Type index of each chemical symbol; InputError naming unknown elements."""
        unknown = sorted({s for s in symbols if s not in self._type_index})
        if unknown:
            raise InputError(f"element(s) {unknown} are not in the model's type map "
                             f"{self.dp.type_map}",
                             hint="use a model trained on these elements (or another branch)")
        return np.array([self._type_index[s] for s in symbols], dtype=np.int32)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        pbc = np.asarray(atoms.pbc, dtype=bool)
        if pbc.any() and not pbc.all():
            raise InputError(f"mixed periodic boundary conditions {pbc.tolist()} are not "
                             "supported", hint="set atoms.pbc to all True or all False")
        periodic = bool(pbc.all())
        box = np.asarray(atoms.cell.array, dtype=np.float64).reshape(1, 9) if periodic else None
        if "stress" in properties and not periodic:
            raise PropertyNotImplementedError("stress needs a periodic system (pbc all True)")
        atomic = "energies" in properties
        out = self.dp.eval(atoms.get_positions()[None], box,
                           self.atom_types(atoms.get_chemical_symbols()), atomic=atomic)
        energy = float(out[0][0])
        self.results["energy"] = energy
        self.results["free_energy"] = energy
        self.results["forces"] = out[1][0].copy()
        if periodic:
            virial = out[2][0].reshape(3, 3)
            stress = -0.5 * (virial + virial.T) / atoms.get_volume()
            self.results["stress"] = full_3x3_to_voigt_6_stress(stress)
        if atomic:
            self.results["energies"] = out[3][0].copy()
