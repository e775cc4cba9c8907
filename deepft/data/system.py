"""One data system: a deepmd/npy folder or a deepmd/hdf5 group, loaded once into memory.

A system is a set of frames with the same atoms in the same order. ``System(path, type_map)``
reads every ``set.*`` folder (concatenated in sorted order), checks shapes and values, converts
everything to float64 (units untouched: Å, eV, eV/Å, virial in eV) and maps the atom types onto
the model's ``type_map``.

Frame data returned by :meth:`System.get_frames` (``b`` = requested frames, ``N`` = natoms):

    coord     (b x N x 3)  | Cartesian coordinates, Å
    box       (b x 9)      | lattice vectors as rows, Å; None for a non-periodic (``nopbc``) system
    energy    (b)          | total energy, eV
    force     (b x N x 3)  | eV/Å
    virial    (b x 9)      | eV (DeePMD-kit sign convention)
    atom_ener (b x N)      | atomic energies, eV
    atom_pref (b x N)      | per-atom force-loss weight (default 1)
    fparam    (b x nfp)    | frame parameters (only when fparam.npy exists)
    aparam    (b x N x nap)| atomic parameters (only when aparam.npy exists)
    find_<label>  float    | 1.0 if the label file exists, else 0.0 (the label is then zeros)

Type mapping: with ``type_map.raw`` the element names are looked up in the model's type_map (an
element carried by an atom but absent from the model's type_map is an error; names listed in
``type_map.raw`` but used by no atom are ignored). Without ``type_map.raw`` the integers of
``type.raw`` are taken as indices into the model's type_map.
"""

from __future__ import annotations

import numpy as np

from deepft.data._source import open_source
from deepft.errors import DataError

#: labels with their default value when the file is absent
LABELS = {"energy": 0.0, "force": 0.0, "virial": 0.0, "atom_ener": 0.0, "atom_pref": 1.0}
#: optional per-frame inputs (no default: they are simply absent)
INPUTS = ("fparam", "aparam")


def _per_frame(name: str, natoms: int) -> int | None:
    """Values per frame of ``name``.npy (None: free width, checked by the caller)."""
    return {"coord": 3 * natoms, "box": 9, "energy": 1, "force": 3 * natoms, "virial": 9,
            "atom_ener": natoms, "atom_pref": natoms}.get(name)


class System:
    """All frames of one system, in memory, float64.

    Attributes: ``path`` (str, as given), ``type_map`` (the model's), ``system_type_map`` (names
    from type_map.raw or None), ``natoms``, ``nframes``, ``pbc`` (False when ``nopbc`` exists),
    ``atype`` (np.int64 ``natoms``, indices into the model's type_map), ``type_counts`` (np.int64
    ``ntypes_model``), ``labels`` (frozenset of label names present), ``sets`` (set folder names),
    ``set_nframes`` (frames per set), ``numb_fparam``/``numb_aparam`` (0 when absent).
    """

    def __init__(self, path, type_map: list[str]):
        self.path = str(path)
        self.type_map = [str(t) for t in type_map]
        if len(set(self.type_map)) != len(self.type_map) or not self.type_map:
            raise DataError(f"model type_map {self.type_map} is empty or has duplicates "
                            f"(loading {self.path})", hint="list each element once")
        src = open_source(self.path)
        try:
            self._load(src)
        finally:
            if hasattr(src, "close"):
                src.close()

    # ---- loading -------------------------------------------------------------------------
    def _load(self, src) -> None:
        raw_types = self._read_types(src)
        self.natoms = int(raw_types.size)
        self.system_type_map = src.read_raw("type_map.raw")
        self.atype = self._map_types(raw_types, src)
        self.type_counts = np.bincount(self.atype, minlength=len(self.type_map)).astype(np.int64)
        self.pbc = not src.has("nopbc")
        self.sets = src.sets()
        if not self.sets:
            raise DataError(f"data system {self.path} has no set.* folder",
                            hint="frames go in set.000/coord.npy, set.000/energy.npy, ...")
        per_set = [self._load_set(src, name) for name in self.sets]
        self.set_nframes = [int(s["coord"].shape[0]) for s in per_set]
        self.nframes = int(sum(self.set_nframes))
        self._data = self._concat(src, per_set)
        self.labels = frozenset(k for k in LABELS if k in self._data)
        self.numb_fparam = int(self._data["fparam"].shape[1]) if "fparam" in self._data else 0
        self.numb_aparam = int(self._data["aparam"].shape[2]) if "aparam" in self._data else 0

    def _read_types(self, src) -> np.ndarray:
        tokens = src.read_raw("type.raw")
        where = src.describe("type.raw")
        if tokens is None:
            raise DataError(f"data system {self.path} has no type.raw",
                            hint="a system holds type.raw (one integer type per atom) and set.*/")
        try:
            types = np.array([int(float(t)) if float(t).is_integer() else None for t in tokens],
                             dtype=np.int64)
        except (ValueError, TypeError) as exc:
            raise DataError(f"{where} must hold integers, got {tokens[:5]}...",
                            hint="one integer atom type per atom, e.g. `0 0 1`") from exc
        if types.size == 0:
            raise DataError(f"{where} is empty", hint="write one integer type per atom")
        if types.min() < 0:
            raise DataError(f"{where} has a negative type {int(types.min())}",
                            hint="types are indices starting at 0")
        return types

    def _map_types(self, raw: np.ndarray, src) -> np.ndarray:
        names = self.system_type_map
        where = src.describe("type.raw")
        if names is None:
            if raw.max() >= len(self.type_map):
                raise DataError(
                    f"{where} uses type {int(raw.max())} but the model type_map {self.type_map} "
                    f"has {len(self.type_map)} types and the system has no type_map.raw",
                    hint="add type_map.raw naming the elements, or extend model/type_map")
            return raw.copy()
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise DataError(f"{src.describe('type_map.raw')} names {repeated} more than once "
                            f"({names}): the atoms of those types would be merged",
                            hint="list each element once in type_map.raw and renumber type.raw "
                                 "to match")
        if raw.max() >= len(names):
            raise DataError(f"{where} uses type {int(raw.max())} but {src.describe('type_map.raw')}"
                            f" names only {len(names)} elements {names}",
                            hint="type_map.raw must name every type used in type.raw")
        lut = np.full(len(names), -1, dtype=np.int64)
        for t in np.unique(raw):
            element = names[t]
            if element not in self.type_map:
                raise DataError(
                    f"data system {self.path} contains element {element} which is not in the "
                    f"model type_map {self.type_map}",
                    hint=f"add {element!r} to model/type_map, or remove this system")
            lut[t] = self.type_map.index(element)
        return lut[raw]

    def _load_set(self, src, set_name: str) -> dict[str, np.ndarray]:
        """Arrays of one set folder, checked and reshaped to (nframes, ...)."""
        coord = src.read_npy(set_name, "coord.npy")
        where = src.describe(set_name, "coord.npy")
        if coord is None:
            raise DataError(f"{where} is missing", hint="every set.* folder needs coord.npy")
        self._check_numeric(coord, where)
        if coord.size == 0:
            raise DataError(f"{where} holds no frame (shape {coord.shape})",
                            hint="remove the empty set folder")
        ncoord = 3 * self.natoms
        per = coord.size if coord.ndim < 2 else int(np.prod(coord.shape[1:]))
        if per != ncoord:
            raise DataError(
                f"{where} has shape {coord.shape}: {per / 3:g} atoms per frame, but "
                f"{src.describe('type.raw')} lists {self.natoms} atoms",
                hint="type.raw needs one type per atom, in the atom order of coord.npy")
        nframes = 1 if coord.ndim < 2 else int(coord.shape[0])
        out = {"coord": self._finite(coord.reshape(nframes, self.natoms, 3), where)}
        names = ["box"] + list(LABELS) + list(INPUTS)
        for name in names:
            arr = src.read_npy(set_name, f"{name}.npy")
            if arr is None:
                if name == "box" and self.pbc:
                    raise DataError(
                        f"{src.describe(set_name, 'box.npy')} is missing for periodic system "
                        f"{self.path}", hint="add box.npy, or an empty `nopbc` file in the "
                                             "system folder if the system is not periodic")
                continue
            if name == "box" and not self.pbc:
                continue
            out[name] = self._shape_array(arr, name, nframes, src.describe(set_name,
                                                                           f"{name}.npy"))
        if "box" in out:
            self._check_box(out["box"], src.describe(set_name, "box.npy"))
        return out

    def _shape_array(self, arr: np.ndarray, name: str, nframes: int, where: str) -> np.ndarray:
        self._check_numeric(arr, where)
        per = _per_frame(name, self.natoms)
        first = int(arr.shape[0]) if arr.ndim >= 1 else 1
        rest = arr.size // first if first else 0
        if per is None:  # fparam / aparam: width from the data
            per = rest if first == nframes and arr.ndim >= 1 else None
            if name == "aparam" and per is not None and per % self.natoms:
                per = None
        if per is not None and arr.ndim >= 1 and first == nframes and arr.size == nframes * per:
            out = arr.reshape(nframes, per)
        elif per is not None and arr.ndim <= 1 and nframes == 1 and arr.size == per:
            out = arr.reshape(1, per)
        elif arr.ndim >= 1 and first != nframes and (per is None or rest == per):
            raise DataError(f"{where} has {first} frames but coord.npy has {nframes}",
                            hint="every .npy file of a set folder needs one row per frame")
        else:
            expect = f"({nframes}, {per})" if per is not None else f"({nframes}, ...)"
            raise DataError(f"{where} has shape {arr.shape}, expected {expect} "
                            f"for {self.natoms} atoms", hint=_SHAPE_HINTS.get(name, ""))
        out = self._finite(out, where)
        if name == "energy":
            return out.reshape(nframes)
        if name in ("force", "aparam"):
            return out.reshape(nframes, self.natoms, -1)
        if name in ("atom_ener", "atom_pref"):
            return out.reshape(nframes, self.natoms)
        return out  # box, virial, fparam: nframes x per

    @staticmethod
    def _check_numeric(arr: np.ndarray, where: str) -> None:
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise DataError(f"{where} has dtype {arr.dtype}, expected floating point numbers",
                            hint="save the array as float64 (or float32)")

    def _finite(self, arr: np.ndarray, where: str) -> np.ndarray:
        out = np.asarray(arr, dtype=np.float64)
        bad = ~np.isfinite(out)
        if bad.any():
            frame = int(np.argwhere(bad)[0][0])
            raise DataError(f"{where} contains NaN or Inf (first in frame {frame}, "
                            f"{int(bad.sum())} values in all)",
                            hint="remove or recompute the broken frames")
        return out

    def _check_box(self, box: np.ndarray, where: str) -> None:
        det = np.linalg.det(box.reshape(-1, 3, 3))
        bad = np.abs(det) < 1e-8
        if bad.any():
            frame = int(np.argmax(bad))
            raise DataError(f"{where} has a zero-volume cell in frame {frame}",
                            hint="give the lattice vectors as rows, or add an empty `nopbc` file "
                                 "to the system folder if it is not periodic")

    def _concat(self, src, per_set: list[dict]) -> dict[str, np.ndarray]:
        data = {}
        present = {k for arrs in per_set for k in arrs}
        for name in [k for k in ("coord", "box", *LABELS, *INPUTS) if k in present]:
            have = [s for s, arrs in zip(self.sets, per_set, strict=True) if name in arrs]
            if len(have) != len(per_set):
                lack = next(s for s in self.sets if s not in have)
                raise DataError(f"{name}.npy is present in {src.describe(have[0])} but missing "
                                f"in {src.describe(lack)}",
                                hint=f"give {name}.npy in every set folder or in none")
            parts = [arrs[name] for arrs in per_set]
            widths = {p.shape[1:] for p in parts}
            if len(widths) > 1:
                raise DataError(f"{name}.npy has different widths {sorted(widths)} across the "
                                f"sets of {self.path}", hint="use one width in every set")
            data[name] = np.concatenate(parts, axis=0)
        return data

    # ---- access --------------------------------------------------------------------------
    def get_frames(self, idx) -> dict:
        """Frames ``idx`` (ints, any order) as the dict described in the module docstring."""
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < -self.nframes or idx.max() >= self.nframes):
            raise IndexError(f"frame index out of range for {self.path} ({self.nframes} frames)")
        b, n = idx.size, self.natoms
        out = {"coord": self._data["coord"][idx],
               "box": self._data["box"][idx] if self.pbc else None}
        shapes = {"energy": (b,), "force": (b, n, 3), "virial": (b, 9), "atom_ener": (b, n),
                  "atom_pref": (b, n)}
        for name, default in LABELS.items():
            if name in self._data:
                out[name] = self._data[name][idx]
                out[f"find_{name}"] = 1.0
            else:
                out[name] = np.full(shapes[name], default, dtype=np.float64)
                out[f"find_{name}"] = 0.0
        for name in INPUTS:
            if name in self._data:
                out[name] = self._data[name][idx]
            out[f"find_{name}"] = 1.0 if name in self._data else 0.0
        return out

    def __len__(self) -> int:
        return self.nframes

    def __repr__(self) -> str:
        return (f"System({self.path!r}, natoms={self.natoms}, nframes={self.nframes}, "
                f"pbc={self.pbc}, labels={sorted(self.labels)})")


_SHAPE_HINTS = {
    "box": "box.npy holds 9 numbers per frame (3 lattice vectors as rows)",
    "energy": "energy.npy holds one total energy per frame",
    "force": "force.npy holds natoms*3 numbers per frame, in the atom order of type.raw",
    "virial": "virial.npy holds 9 numbers per frame",
    "atom_ener": "atom_ener.npy holds one energy per atom per frame",
    "atom_pref": "atom_pref.npy holds one weight per atom per frame",
    "fparam": "fparam.npy holds one row of frame parameters per frame",
    "aparam": "aparam.npy holds natoms*nap numbers per frame",
}
