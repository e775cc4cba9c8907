"""Write a LAMMPS data file (atom_style atomic, metal units) from one frame of deepmd/npy data.

    python make_data.py [SYSTEM_DIR] [--frame N] [-o water.data]

SYSTEM_DIR defaults to the water data_0 system in examples/data. LAMMPS type k+1 is element type_map[k] of the system (O -> 1, H -> 2 for water), so
`pair_coeff * * O H` follows the same order. The box must be orthorhombic or a LAMMPS-style
triclinic cell (a along x, b in the xy plane); positions are written as given.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

MASSES = {"H": 1.00794, "C": 12.0107, "N": 14.0067, "O": 15.9994}
HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parents[1] / "data" / "water" / "data_0"


def read_frame(system: Path, frame: int):
    """(coord [natoms, 3] Å, box [3, 3] rows = lattice vectors Å, types [natoms], type_map)."""
    types = np.loadtxt(system / "type.raw", dtype=int, ndmin=1)
    type_map = (system / "type_map.raw").read_text().split()
    coord = np.load(system / "set.000" / "coord.npy")[frame].reshape(-1, 3)
    box = np.load(system / "set.000" / "box.npy")[frame].reshape(3, 3)
    return coord, box, types, type_map


def data_file_text(coord, box, types, type_map, title="deepft water") -> str:
    """LAMMPS data file text for one configuration (see the module docstring)."""
    a, b, c = box
    if abs(a[1]) > 1e-12 or abs(a[2]) > 1e-12 or abs(b[2]) > 1e-12:
        raise ValueError("box is not in LAMMPS form (a along x, b in the xy plane): rotate it")
    lines = [f"# {title}", "", f"{len(coord)} atoms", f"{len(type_map)} atom types", ""]
    lines += [f"0.0 {a[0]:.10f} xlo xhi", f"0.0 {b[1]:.10f} ylo yhi", f"0.0 {c[2]:.10f} zlo zhi"]
    if abs(b[0]) > 0 or abs(c[0]) > 0 or abs(c[1]) > 0:
        lines.append(f"{b[0]:.10f} {c[0]:.10f} {c[1]:.10f} xy xz yz")
    lines += ["", "Masses", ""]
    lines += [f"{k + 1} {MASSES.get(name, 1.0)}  # {name}" for k, name in enumerate(type_map)]
    lines += ["", "Atoms  # atomic", ""]
    lines += [f"{i + 1} {t + 1} {x:.10f} {y:.10f} {z:.10f}"
              for i, (t, (x, y, z)) in enumerate(zip(types, coord, strict=True))]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("system", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--frame", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path, default=HERE / "water.data")
    args = parser.parse_args()
    coord, box, types, type_map = read_frame(args.system, args.frame)
    title = f"{args.system.parent.name}/{args.system.name} frame {args.frame}"
    args.output.write_text(data_file_text(coord, box, types, type_map, title))
    print(f"wrote {args.output}: {len(coord)} atoms, types {type_map}")


if __name__ == "__main__":
    main()
