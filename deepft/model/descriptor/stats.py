"""Environment-matrix statistics of se_e2_a (DeePMD-kit's ``EnvMatStatSe``).

For every center type t, over all atoms of type t in the sample frames and ALL ``sum(sel)``
slots of their neighbor lists (empty slots count as zeros):

    davg[t] = (<s>, 0, 0, 0)
    dstd[t] = (σ_s, σ_a, σ_a, σ_a),   σ = sqrt(max(<v²> - <v>², 0)) floored at 1e-2

where s is column 0 of the unnormalized environment matrix and the "a" columns 1..3 are pooled
(3 values per slot). A type without atoms gets davg 0 and dstd 0.1 (DeePMD-kit's defaults).
With ``mixed_types`` (DPA-1) the slots are the ``sel = [nsel]`` nearest neighbors of any type.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from deepft.model import _ops

STD_FLOOR = 1e-2
STD_DEFAULT = 1e-1


def raw_env_mat(coord: np.ndarray, box: np.ndarray | None, atype: np.ndarray, rcut: float,
                rcut_smth: float, sel: Sequence[int], ntypes: int | None = None,
                mixed_types: bool = False) -> np.ndarray:
    """Unnormalized environment matrix ``nframes x nloc x sum(sel) x 4`` (float64, 0 padded).

    ``mixed_types``: one block of ``sel[0]`` slots over all neighbor types (``ntypes`` then
    gives the number of center types; otherwise it is ``len(sel)``)."""
    coord = np.asarray(coord, dtype=np.float64)
    nf, nloc = coord.shape[:2]
    coord = coord.reshape(nf, nloc, 3)
    box = None if box is None else np.asarray(box, dtype=np.float64).reshape(nf, 9)
    atype = np.asarray(atype, dtype=np.int64).reshape(-1)[:nloc]
    list_types = np.where(atype >= 0, 0, atype) if mixed_types else atype
    nl = _ops.build_nlist(coord, box, list_types, rcut, list(sel))
    nlist = torch.as_tensor(np.asarray(nl.nlist), dtype=torch.int64)
    image = torch.as_tensor(np.asarray(nl.image), dtype=torch.float64)
    ct = torch.as_tensor(atype).reshape(1, nloc).expand(nf, nloc)
    x = torch.as_tensor(coord)
    frame = torch.arange(nf).reshape(nf, 1, 1) * nloc
    flat = (torch.clamp(nlist, min=0) + frame).reshape(-1)
    rij = x.reshape(-1, 3)[flat].reshape(nf, nloc, -1, 3) - x[:, :, None, :]
    if box is not None:
        shift = image.reshape(nf, -1, 3) @ torch.as_tensor(box).reshape(nf, 3, 3)
        rij = rij + shift.reshape(rij.shape)
    ntypes = len(sel) if ntypes is None else int(ntypes)
    zeros = torch.zeros(ntypes, 4, dtype=torch.float64)
    ones = torch.ones(ntypes, 4, dtype=torch.float64)
    with torch.no_grad():
        em = _ops.env_mat_se_a(rij, nlist >= 0, ct.contiguous(), zeros, ones, rcut, rcut_smth)
    return em.numpy()


def env_mat_stats(samples: Sequence[dict], ntypes: int, sel: Sequence[int], rcut: float,
                  rcut_smth: float, mixed_types: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(davg, dstd), each ``ntypes x 4`` float64, from frames ``{"coord", "box", "atype"}``."""
    from deepft.progress import track

    count = np.zeros(ntypes)  # slots seen per center type
    sums = np.zeros((ntypes, 2))  # sum of s, sum of the 3 a values
    sqsums = np.zeros((ntypes, 2))
    for sample in track(samples, "descriptor statistics", unit="frames",
                        weight=lambda s: int(np.asarray(s["coord"]).shape[0])):
        em = raw_env_mat(sample["coord"], sample.get("box"), sample["atype"], rcut, rcut_smth,
                         sel, ntypes, mixed_types)
        atype = np.asarray(sample["atype"], dtype=np.int64).reshape(-1)[:em.shape[1]]
        for t in range(ntypes):
            rows = em[:, atype == t]  # nframes x n_t x nnei x 4
            if rows.size == 0:
                continue
            count[t] += rows.shape[0] * rows.shape[1] * rows.shape[2]
            sums[t] += [rows[..., 0].sum(), rows[..., 1:].sum()]
            sqsums[t] += [np.square(rows[..., 0]).sum(), np.square(rows[..., 1:]).sum()]
    davg = np.zeros((ntypes, 4))
    dstd = np.full((ntypes, 4), STD_DEFAULT)
    for t in range(ntypes):
        if count[t] == 0:
            continue
        n = np.array([count[t], 3 * count[t]])
        mean = sums[t] / n
        std = np.sqrt(np.clip(sqsums[t] / n - mean * mean, 0.0, None))
        std = np.where(np.abs(std) < STD_FLOOR, STD_FLOOR, std)
        davg[t, 0] = mean[0]
        dstd[t] = [std[0], std[1], std[1], std[1]]
    return davg, dstd


class StatisticsBuffers:
    """set_stats/get_stats of a descriptor holding ``davg``/``dstd`` buffers (``ntypes x 4``,
    dtype ``self.dtype``) and the list ``types_without_stats`` (mixed into nn.Module classes).
    """

    def set_stats(self, davg, dstd, only_types: Sequence[int] | None = None) -> None:
        """Copy ``ntypes x 4`` davg/dstd into the buffers (only the rows ``only_types``)."""
        davg = torch.as_tensor(np.asarray(davg), dtype=self.dtype).reshape(self.ntypes, 4)
        dstd = torch.as_tensor(np.asarray(dstd), dtype=self.dtype).reshape(self.ntypes, 4)
        rows = list(range(self.ntypes)) if only_types is None else [int(t) for t in only_types]
        with torch.no_grad():
            self.davg[rows] = davg[rows].to(self.davg.device)
            self.dstd[rows] = dstd[rows].to(self.dstd.device)
        self.types_without_stats = [t for t in self.types_without_stats if t not in rows]

    def get_stats(self) -> dict[str, np.ndarray]:
        """Current davg/dstd as float64 numpy ``ntypes x 4`` arrays."""
        return {"davg": self.davg.detach().cpu().double().numpy().copy(),
                "dstd": self.dstd.detach().cpu().double().numpy().copy()}
