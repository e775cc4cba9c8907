"""Python API of the native inference core: evaluate a frozen model (``model.dft``).

Example::

    from deepft.infer import DeepPot
    dp = DeepPot("model.dft")                 # or DeepPot("multi.dft", branch="water")
    e, f, v = dp.eval(coords, box, atom_types)

Units: Å in, eV / eV/Å / eV out. Virial in DeePMD-kit's convention (-dE/dstrain; the stress is
-virial / volume). The model runs in C++ (OpenMP threads over atoms, OpenBLAS GEMMs): no torch.
"""

from __future__ import annotations

import os

import numpy as np

from deepft.errors import InputError


class DeepPot:
    """A frozen model, one branch of it chosen at load time.

    ``model_file``: path of a model.dft; ``branch``: branch of a multitask model (None: the
    file's default branch); ``num_threads``: OpenMP threads of the core (None: leave as is;
    note the setting is process wide).
    """

    def __init__(self, model_file: str | os.PathLike, branch: str | None = None,
                 num_threads: int | None = None):
        from deepft import _core

        self._core = _core.infer
        if num_threads is not None:
            self._core.set_num_threads(int(num_threads))
        self.model_file = os.fspath(model_file)
        self._pot = self._core.DeepPot(self.model_file, branch or "")

    # ---- model properties --------------------------------------------------------------------
    @property
    def type_map(self) -> list[str]:
        """Element name of each atom type; ``atom_types`` index this list."""
        return list(self._pot.type_map)

    @property
    def rcut(self) -> float:
        """Cutoff radius (Å)."""
        return float(self._pot.cutoff)

    @property
    def ntypes(self) -> int:
        return int(self._pot.ntypes)

    @property
    def branch(self) -> str:
        return self._pot.branch

    @property
    def branches(self) -> list[str]:
        """All branches stored in the file."""
        return list(self._pot.branches)

    @property
    def precision(self) -> str:
        """``float64`` or ``float32``: the precision the model computes in."""
        return self._pot.precision

    @property
    def sel(self) -> list[int]:
        """Neighbor slots per type; ``[nsel]`` (one list for all types) for DPA-1."""
        return list(self._pot.sel)

    @property
    def descriptor_type(self) -> str:
        """``se_e2_a`` or ``dpa1``."""
        return self._pot.descriptor_type

    @property
    def compressed(self) -> bool:
        """Whether the model's embedding nets are tabulated (``deepft compress``)."""
        return bool(self._pot.compressed)

    def table_counts(self) -> dict[str, int]:
        """A compressed model's neighbor inputs since loading: ``neighbors`` evaluated,
        ``beyond_data`` (above the training range: closer than the training data's shortest pair
        distance, up to the table's rounding) and
        ``beyond_table`` (beyond the table's end, where the embedding is held constant)."""
        n, data, table = self._pot.table_counts()
        return {"neighbors": int(n), "beyond_data": int(data), "beyond_table": int(table)}

    def get_type_map(self) -> list[str]:
        return self.type_map

    def get_rcut(self) -> float:
        return self.rcut

    # ---- evaluation --------------------------------------------------------------------------
    def eval(self, coords, box, atom_types, atomic: bool = False) -> tuple[np.ndarray, ...]:
        """Energy, forces and virial of ``nframes`` frames of the same atoms.

        coords: ``nframes x natoms x 3`` or ``natoms x 3`` (Å).
        box: ``nframes x 9`` (or ``9``, ``3 x 3``, ``nframes x 3 x 3``), rows = lattice vectors
            (Å), fully periodic; None for a non-periodic system.
        atom_types: ``natoms`` ints indexing :attr:`type_map`.

        Returns ``(energy [nframes] eV, force [nframes, natoms, 3] eV/Å, virial [nframes, 9] eV)``;
        with ``atomic=True`` also ``atom_energy [nframes, natoms]`` and
        ``atom_virial [nframes, natoms, 9]``.
        """
        atype = self._atom_types(atom_types)
        natoms = atype.shape[0]
        coord = np.asarray(coords, dtype=np.float64)
        if natoms == 0:
            nframes = coord.shape[0] if coord.ndim == 3 else 1
        elif coord.size == 0 or coord.size % (3 * natoms) != 0:
            raise InputError(f"coords of shape {coord.shape} do not hold {natoms} atoms x 3",
                             hint="pass coords as [nframes, natoms, 3] or [natoms, 3]")
        else:
            nframes = coord.size // (3 * natoms)
        coord = np.ascontiguousarray(coord.reshape(nframes, natoms, 3))
        cell = None
        if box is not None:
            cell = np.asarray(box, dtype=np.float64)
            if cell.size == 9:
                cell = np.broadcast_to(cell.reshape(1, 9), (nframes, 9))
            if cell.size != 9 * nframes:
                raise InputError(f"box of shape {np.shape(box)} does not match {nframes} frames",
                                 hint="pass box as [nframes, 9] (rows = lattice vectors) or None")
            cell = np.ascontiguousarray(cell.reshape(nframes, 9))
        out = self._pot.compute(coord, atype, cell, bool(atomic))
        result = (out["energy"], out["force"], out["virial"])
        if atomic:
            result += (out["atom_energy"], out["atom_virial"])
        return result

    def eval_nlist(self, coords, atom_types, nloc: int, neighbors: list, mapping=None,
                   atomic: bool = False) -> dict:
        """The LAMMPS-style entry for one frame: local + ghost atoms and a full neighbor list.

        coords ``nall x 3`` (local atoms first), atom_types ``nall``, ``neighbors[i]`` the
        neighbor indices (into 0..nall) of local atom i; mapping ``nall`` (ghost -> owner) folds
        ghost forces onto their owners. Returns the dict of the core (energy, force, virial,
        [atom_energy, atom_virial]); force has nall rows without mapping, nloc with it.
        """
        atype = self._atom_types(atom_types, allow_virtual=True)
        numneigh = np.array([len(n) for n in neighbors], dtype=np.int32)
        flat = np.concatenate([np.asarray(n, dtype=np.int32) for n in neighbors]) \
            if len(neighbors) else np.zeros(0, dtype=np.int32)
        mp = None if mapping is None else np.ascontiguousarray(mapping, dtype=np.int64)
        coord = np.ascontiguousarray(np.asarray(coords, dtype=np.float64).reshape(-1, 3))
        return self._pot.compute_nlist(coord, atype, int(nloc), numneigh, flat, None, mp,
                                       bool(atomic))

    def _atom_types(self, atom_types, allow_virtual: bool = False) -> np.ndarray:
        at = np.asarray(atom_types)
        if at.ndim == 2:
            if not (at == at[:1]).all():
                raise InputError("atom_types differ between frames",
                                 hint="evaluate frames with different atoms in separate calls")
            at = at[0]
        if at.ndim != 1 or (at.size and not np.issubdtype(at.dtype, np.integer)):
            raise InputError(f"atom_types must be a 1-d integer array, got shape {at.shape} "
                             f"dtype {at.dtype}", hint=f"indices into {self.type_map}")
        low = -1 if allow_virtual else 0
        bad = np.nonzero((at < low) | (at >= self.ntypes))[0]
        if bad.size:
            raise InputError(f"atom {int(bad[0])} has type {int(at[bad[0]])}, outside "
                             f"[0, {self.ntypes})",
                             hint=f"types index the type map {self.type_map}")
        return np.ascontiguousarray(at, dtype=np.int32)
