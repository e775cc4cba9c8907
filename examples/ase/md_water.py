"""Langevin molecular dynamics of liquid water with ASE and a frozen deepft model.

    python examples/ase/md_water.py [--model examples/lammps/water/water_md.dft] [--steps 100]
        [--temperature 300]

The default model is the MD model of examples/water/input_md.json shipped with the LAMMPS
example (the 1000-step model of examples/water/input.json is a smoke test, not a model for MD).

Starts from the first frame of the water data (64 H2O, periodic box), draws Maxwell-Boltzmann
velocities, and runs --steps Langevin steps of 0.5 fs, printing energy and temperature every
10 steps. The forces come from deepft's C++ core through deepft.calculator.DeepFT.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

from deepft.calculator import DeepFT

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent / "data" / "water" / "data_0"
DEFAULT_MODEL = HERE.parent / "lammps" / "water" / "water_md.dft"


def load_water(system: Path) -> Atoms:
    """Frame 0 of a deepmd/npy system as periodic ase.Atoms."""
    names = (system / "type_map.raw").read_text().split()
    types = np.loadtxt(system / "type.raw", dtype=int)
    coord = np.load(system / "set.000" / "coord.npy")[0].reshape(-1, 3)
    cell = np.load(system / "set.000" / "box.npy")[0].reshape(3, 3)
    return Atoms([names[t] for t in types], positions=coord, cell=cell, pbc=True)


def run(model: Path, data: Path = DEFAULT_DATA, steps: int = 100, temperature: float = 300.0,
        timestep_fs: float = 0.5, seed: int = 0, log_every: int = 10) -> list[tuple]:
    """Runs the MD; returns (step, potential energy eV, kinetic energy eV, temperature K)."""
    atoms = load_water(data)
    atoms.calc = DeepFT(model)
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
    Stationary(atoms)
    dyn = Langevin(atoms, timestep_fs * units.fs, temperature_K=temperature, friction=0.01,
                   rng=rng)
    log = []

    def record():
        epot, ekin = atoms.get_potential_energy(), atoms.get_kinetic_energy()
        log.append((dyn.nsteps, epot, ekin, atoms.get_temperature()))
        print(f"step {dyn.nsteps:5d}  Epot {epot:14.6f} eV  Ekin {ekin:9.6f} eV  "
              f"T {atoms.get_temperature():7.1f} K")

    dyn.attach(record, interval=log_every)
    dyn.run(steps)
    return log


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="frozen model (default: examples/lammps/water/water_md.dft)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="deepmd/npy water system (default: examples/data/water/data_0)")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--temperature", type=float, default=300.0, help="K")
    args = parser.parse_args(argv)
    run(args.model, args.data, args.steps, args.temperature)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
