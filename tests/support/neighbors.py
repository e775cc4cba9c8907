"""Kernel-test helpers: random systems and a Python oracle of the formatted neighbor table."""

from __future__ import annotations

import numpy as np

from deepft.ops.reference import brute_force_pairs


def random_system(seed: int, natoms: int, cell, pbc: bool):
    """Positions uniformly inside ``cell`` (rows = lattice vectors) or a 10 Å cube."""
    rng = np.random.default_rng(seed)
    cell = np.asarray(cell, dtype=np.float64).reshape(3, 3)
    frac = rng.uniform(0.0, 1.0, size=(natoms, 3))
    pos = frac @ cell if pbc else rng.uniform(-5.0, 5.0, size=(natoms, 3))
    return pos, cell


def formatted_oracle(pos, cell, pbc, atype, rcut, sel):
    """The formatted table spec, built from the O(N^2) reference pair search.

    Returns (nlist [nloc, nnei], image [nloc, nnei, 3], counts [nloc, ntypes]).
    """
    pairs = brute_force_pairs(pos, cell, pbc, rcut)
    nloc, ntypes = len(pos), len(sel)
    begin = np.concatenate([[0], np.cumsum(sel)])
    nlist = -np.ones((nloc, begin[-1]), dtype=np.int64)
    image = np.zeros((nloc, begin[-1], 3), dtype=np.int64)
    counts = np.zeros((nloc, ntypes), dtype=np.int64)
    by_center: dict[int, list] = {i: [] for i in range(nloc)}
    c = np.asarray(cell).reshape(3, 3) if pbc else np.zeros((3, 3))
    for i, j, *s in pairs:
        d = np.linalg.norm(pos[j] + np.asarray(s) @ c - pos[i])
        # exact ties (an atom's own images at S and -S) are broken by S; rounding keeps the
        # oracle's last-bit noise from deciding them
        by_center[i].append((round(float(d), 9), j, tuple(s)))
    for i, lst in by_center.items():
        for t in range(ntypes):
            mine = sorted(x for x in lst if atype[x[1]] == t)
            counts[i, t] = len(mine)
            for k, (_, j, s) in enumerate(mine[: sel[t]]):
                nlist[i, begin[t] + k] = j
                image[i, begin[t] + k] = s
    return nlist, image, counts
