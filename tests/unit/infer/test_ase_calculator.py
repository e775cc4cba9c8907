"""ASE calculator deepft.calculator.DeepFT: forces and stress are derivatives of the energy
(se_e2_a and DPA-1 models)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.calculator import PropertyNotImplementedError
from support.model_files import water_box, write_model
from support.models import write_dpa1_model
from support.tolerances import TIGHT

from deepft.calculator import DeepFT
from deepft.errors import InputError
from deepft.infer import DeepPot


@pytest.fixture(scope="module", params=["se_e2_a", "dpa1"])
def model(tmp_path_factory, request):
    path = tmp_path_factory.mktemp("m") / "model.dft"
    if request.param == "dpa1":
        return write_dpa1_model(path, seed=3)
    return write_model(path)


@pytest.fixture()
def water(model):
    coord, cell, types = water_box()
    atoms = Atoms(["O" if t == 0 else "H" for t in types], positions=coord, cell=cell, pbc=True)
    atoms.calc = DeepFT(model)
    return atoms


def test_energy_forces_match_deeppot(water, model):
    dp = DeepPot(model)
    types = [0 if s == "O" else 1 for s in water.get_chemical_symbols()]
    e, f, _ = dp.eval(water.positions, water.cell.array.reshape(9), types)
    assert water.get_potential_energy() == pytest.approx(e[0], abs=1e-10)
    assert water.get_potential_energy(force_consistent=True) == pytest.approx(e[0], abs=1e-10)
    np.testing.assert_allclose(water.get_forces(), f[0], atol=TIGHT)
    assert water.get_potential_energies().sum() == pytest.approx(e[0], abs=1e-9)


def test_forces_are_minus_energy_gradient(water):
    forces = water.get_forces()
    h = 1e-5
    rng = np.random.default_rng(0)
    for i in rng.choice(len(water), 6, replace=False):
        for a in range(3):
            atoms = water.copy()
            atoms.calc = water.calc
            atoms.positions[i, a] += h
            ep = atoms.get_potential_energy()
            atoms.positions[i, a] -= 2 * h
            em = atoms.get_potential_energy()
            assert -(ep - em) / (2 * h) == pytest.approx(forces[i, a], abs=2e-7), (i, a)


def test_stress_is_strain_derivative(water):
    """ASE: stress_ab = (1/V) dE/d eps_ab for x -> (1 + eps) x applied to cell and atoms."""
    stress = water.get_stress(voigt=False)
    volume = water.get_volume()
    cell0, pos0 = water.cell.array.copy(), water.positions.copy()
    h = 1e-5
    voigt_pairs = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    for a, b in voigt_pairs:
        energies = []
        for sign in (1, -1):
            eps = np.zeros((3, 3))  # symmetric strain of size h in the (a, b) component
            eps[a, b] = eps[b, a] = sign * (h if a == b else h / 2)
            deform = np.eye(3) + eps
            atoms = water.copy()
            atoms.calc = water.calc
            atoms.set_cell(cell0 @ deform, scale_atoms=False)
            atoms.positions = pos0 @ deform
            energies.append(atoms.get_potential_energy())
        derivative = (energies[0] - energies[1]) / (2 * h) / volume
        assert derivative == pytest.approx(stress[a, b], abs=1e-8), (a, b)
    assert np.abs(stress).max() > 1e-5  # the test is not trivially satisfied


def test_unknown_element_and_pbc_errors(model):
    atoms = Atoms("OHC", positions=[[0, 0, 0], [1, 0, 0], [0, 1, 0]])
    atoms.calc = DeepFT(model)
    with pytest.raises(InputError, match=r"element\(s\) \['C'\] are not in the model's type map"):
        atoms.get_potential_energy()
    mol = Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    mol.calc = DeepFT(model)
    assert np.isfinite(mol.get_potential_energy())
    with pytest.raises(PropertyNotImplementedError):
        mol.get_stress()
    mixed = mol.copy()
    mixed.cell = np.eye(3) * 10
    mixed.pbc = [True, True, False]
    mixed.calc = DeepFT(model)
    with pytest.raises(InputError, match="mixed periodic"):
        mixed.get_potential_energy()


def test_branch_selection(tmp_path, water):
    path = write_model(tmp_path / "multi.dft", branches=("a", "b"))
    ea = DeepFT(path, branch="a").get_potential_energy(water)
    eb = DeepFT(path, branch="b").get_potential_energy(water)
    assert abs(ea - eb) > 1e-3
