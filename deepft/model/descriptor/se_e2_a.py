"""The se_e2_a descriptor (DeepPot-SE, smooth edition, full environment matrix).

For a center atom i of type t_i with the neighbor slots of its neighbor list (``nnei = sum(sel)``
slots, block t holding up to ``sel[t]`` neighbors of type t):

    R̂_j  = (R̃_j - davg[t_i]) / dstd[t_i]          R̃_j = (s, s x/r, s y/r, s z/r), s = sw(r)/r
    G_j  = embedding[t_j or (t_i, t_j)](R̂_j[0])     (M = neuron[-1] columns)
    T    = Σ_j R̂_jᵀ G_j / nnei                      (4 x M)
    D_i  = Tᵀ T[:, :axis_neuron]                     (M x axis_neuron, flattened row-major)

Padded slots (no neighbor) have R̃ = 0, hence R̂ = (-davg[t_i, 0]/dstd[t_i, 0], 0, 0, 0) as in
DeePMD-kit (both the TF op and the pt backend normalize every slot). A neighbor moving out
through ``rcut`` has R̃ -> 0 continuously, so the descriptor stays smooth. The compiled
environment matrix returns exact zeros in padded slots; this module adds their (constant)
contribution analytically: ``n_pad(i, t) * ŝ0 * G_t(ŝ0)`` on row 0 of T, with ŝ0 =
-davg[t_i, 0]/dstd[t_i, 0]. That also lets the dense per-type blocks be trimmed to the most
neighbors any atom of the batch has (often 25 % fewer embedding-net rows than ``sum(sel)``).

Tensor names (frozen model): ``davg``, ``dstd`` (``ntypes x 4``) and
``embeddings.<k>.layers.<l>.{matrix,bias,idt}`` with ``k = t_j`` (type_one_side) or
``k = t_i * ntypes + t_j``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from deepft import _device
from deepft.model import _ops
from deepft.model.descriptor.geometry import center_types, displacements
from deepft.model.descriptor.stats import StatisticsBuffers, env_mat_stats
from deepft.model.network import EmbeddingNet, derive_seed, get_dtype
from deepft.ops import embedding as embedding_ops


class PairGeometry:
    """Neighbor displacements of one forward call (the trimmed neighbor slots) and what
    :meth:`DescrptSeA.pair_gradient` needs.

    rij: ``nframes x nloc x nkeep x 3`` (Å, autograd-connected to coord and box);
    nlist: ``nframes x nloc x nkeep`` int64 neighbor index or -1; mask: bool, nlist >= 0;
    em: env matrix attached to rij; tmat: T before the 1/nnei scaling (``nfl x 4 x M``);
    blocks/groups: the embedding blocks (G, dG/dŝ) and their row grouping.
    """

    def __init__(self, rij: torch.Tensor, nlist: torch.Tensor, mask: torch.Tensor):
        self.rij, self.nlist, self.mask = rij, nlist, mask
        self.em = self.tmat = self.blocks = self.groups = None


class DescrptSeA(StatisticsBuffers, nn.Module):
    """se_e2_a descriptor; see the module docstring for the math and tensor names."""

    #: neighbor lists are per neighbor type (sel[t] slots of type t)
    mixed_types = False

    def __init__(self, ntypes: int, sel: Sequence[int], rcut: float, rcut_smth: float,
                 neuron: Sequence[int], axis_neuron: int, resnet_dt: bool = False,
                 type_one_side: bool = True, activation_function: str = "tanh",
                 precision: str = "float64", trainable: bool = True, seed: int | None = None,
                 set_davg_zero: bool = False):
        super().__init__()
        sel = [int(s) for s in sel]
        if len(sel) != ntypes:
            raise ValueError(f"sel has {len(sel)} entries for {ntypes} types")
        if not 0 <= rcut_smth < rcut:
            raise ValueError(f"need 0 <= rcut_smth < rcut, got {rcut_smth}, {rcut}")
        if not 0 < axis_neuron <= neuron[-1]:
            raise ValueError(f"axis_neuron {axis_neuron} must be in [1, neuron[-1]={neuron[-1]}]")
        self.ntypes, self.sel = int(ntypes), sel
        self.rcut, self.rcut_smth = float(rcut), float(rcut_smth)
        self.neuron, self.axis_neuron = [int(n) for n in neuron], int(axis_neuron)
        self.resnet_dt, self.type_one_side = bool(resnet_dt), bool(type_one_side)
        self.activation_function, self.precision = activation_function, precision
        self.trainable, self.seed, self.set_davg_zero = bool(trainable), seed, bool(set_davg_zero)
        self.dtype = get_dtype(precision)
        self.register_buffer("davg", torch.zeros(ntypes, 4, dtype=self.dtype))
        self.register_buffer("dstd", torch.ones(ntypes, 4, dtype=self.dtype))
        nnets = ntypes if type_one_side else ntypes * ntypes
        self.embeddings = nn.ModuleList([self._new_net(derive_seed(seed, k))
                                         for k in range(nnets)])
        #: types whose davg/dstd are placeholders (after a type-map change) until set_stats
        self.types_without_stats: list[int] = []

    def _new_net(self, seed: int | None) -> EmbeddingNet:
        return EmbeddingNet(self.neuron, activation_function=self.activation_function,
                            resnet_dt=self.resnet_dt, precision=self.precision,
                            trainable=self.trainable, seed=seed)

    # ---- sizes -----------------------------------------------------------------------------
    @property
    def nnei(self) -> int:
        return sum(self.sel)

    @property
    def dim_out(self) -> int:
        """Width of the descriptor of one atom: ``neuron[-1] * axis_neuron``."""
        return self.neuron[-1] * self.axis_neuron

    def get_rcut(self) -> float:
        return self.rcut

    def get_sel(self) -> list[int]:
        return list(self.sel)

    def get_ntypes(self) -> int:
        return self.ntypes

    def finetune_sel(self, old_type_map: Sequence[str], new_type_map: Sequence[str],
                     input_sel: Sequence[int]) -> list[int]:
        """sel after fine-tuning onto ``new_type_map``: the pretrained value for known elements
        (the weights were trained with that normalization), ``input_sel``'s for new ones."""
        old = list(old_type_map)
        return [self.sel[old.index(t)] if t in old else int(input_sel[i])
                for i, t in enumerate(new_type_map)]

    def net_index(self, center_type: int, neighbor_type: int) -> int:
        """Index in ``embeddings`` of the net for a (center, neighbor) type pair."""
        if self.type_one_side:
            return neighbor_type
        return center_type * self.ntypes + neighbor_type

    def parameters_of_types(self, types: Sequence[int]) -> list[nn.Parameter]:
        """The parameters used only for pairs involving ``types`` (as center or neighbor):
        the embedding nets of those pairs (type_one_side: of those neighbor types)."""
        wanted = set(types)
        nets = {id(self.embeddings[k]): self.embeddings[k]
                for k, (ti, tj) in enumerate(self._net_pairs(self.ntypes))
                if tj in wanted or (ti is not None and ti in wanted)}
        return [p for net in nets.values() for p in net.parameters()]

    # ---- statistics ------------------------------------------------------------------------
    def compute_input_stats(self, samples: Sequence[dict]) -> dict[str, np.ndarray]:
        """davg/dstd (``ntypes x 4``, numpy) from frames (dicts with coord, box, atype).

        DeePMD-kit's EnvMatStatSe estimator over the unnormalized environment matrix, all sel
        slots (zero padding included): davg = (<s>, 0, 0, 0), dstd = (σ_s, σ_a, σ_a, σ_a) with σ
        floored at 1e-2; a type with no atom gets davg 0 and dstd 0.1 (DeePMD-kit's defaults).
        Does not change the module; pass the result to :meth:`set_stats`.
        """
        davg, dstd = env_mat_stats(samples, self.ntypes, self.sel, self.rcut, self.rcut_smth)
        if self.set_davg_zero:
            davg[:] = 0.0
        return {"davg": davg, "dstd": dstd}

    # ---- forward ---------------------------------------------------------------------------
    def forward(self, coord: torch.Tensor, box: torch.Tensor | None, atype: torch.Tensor,
                nlist_result) -> torch.Tensor:
        """Descriptor ``nframes x nloc x (neuron[-1] * axis_neuron)``.

        coord ``nframes x nloc x 3`` (Å), box ``nframes x 9`` (rows = lattice vectors) or None,
        atype ``nloc`` or ``nframes x nloc``, nlist_result from deepft.ops.build_nlist.
        """
        return self.compute(coord, box, atype, nlist_result)[0]

    def compute(self, coord, box, atype, nlist_result) -> tuple[torch.Tensor, PairGeometry]:
        """(descriptor, pair geometry); :meth:`pair_gradient` turns dE/dT into dE/dr_ij.

        The environment matrix enters the nets detached from ``rij`` unless ``coord`` requires
        grad (then every output stays differentiable w.r.t. positions, to all orders); the
        force path uses forward-mode dG/ds, so training needs no double backward through the
        embedding nets and no gradient ever flows into the (parameter-free) geometry.
        """
        nf, nloc = coord.shape[:2]
        center_type = center_types(atype, nf, nloc, coord.device)
        trim = _trim(nlist_result, self.sel, coord.device)
        rij = displacements(coord, box, trim.nlist, trim.image)
        keep_graph = rij.requires_grad
        if not keep_graph:  # forces need the env-matrix VJP even for a plain coord tensor
            rij.requires_grad_(True)
        em_att = _ops.env_mat_se_a(rij.to(self.dtype), trim.mask, center_type, self.davg,
                                   self.dstd, self.rcut, self.rcut_smth)
        nfl = nf * nloc
        em = em_att if keep_graph else em_att.detach()
        ct = center_type.reshape(nfl)
        groups = self._groups(ct, nlist_result.center_counts)
        em_rows = em.reshape(nfl, -1, 4)  # nfl x nkeep x 4
        if groups.order is not None:
            em_rows = em_rows.index_select(0, groups.order)
        # fused first-order layers, unless positions need higher derivatives
        blocks = self._embed(em_rows, groups, trim.keep, fused=not keep_graph)
        tmat = None
        for blk in blocks:
            part = embedding_ops.env_contract(blk.env, blk.g)  # rows x 4 x M
            tmat = _place(tmat, part, blk.rows, nfl)
        if tmat is None:
            tmat = em_rows.new_zeros(nfl, 4, self.neuron[-1])
        if groups.order is not None:
            tmat = tmat.index_select(0, groups.inverse)
        tmat = self._add_padding(tmat, ct, trim.npad.reshape(nfl, self.ntypes))
        if not tmat.requires_grad:  # frozen parameters: still need dE/dT for forces
            tmat.requires_grad_(True)
        scaled = tmat / self.nnei
        desc = torch.bmm(scaled.transpose(1, 2), scaled[:, :, :self.axis_neuron])  # M x axis
        geo = PairGeometry(rij, trim.nlist, trim.mask)
        geo.em, geo.tmat, geo.blocks, geo.groups = em_att, tmat, blocks, groups
        return desc.reshape(nf, nloc, self.dim_out), geo

    def pair_gradient(self, energy: torch.Tensor, geo: PairGeometry,
                      create_graph: bool) -> torch.Tensor:
        """g = dE/dr_ij (``nframes x nloc x nkeep x 3``) for the scalar ``energy``.

        With A = dE/dT (autograd through D and the fitting nets), per pair
        dE/dR̂_j = A G_jᵀ + e0 (R̂_j · A G'_jᵀ), G' = dG/dŝ from the forward-mode pass; then
        the env-matrix kernel's VJP maps dE/dR̂ to dE/dr_ij.
        """
        (amat,) = torch.autograd.grad(energy, geo.tmat, create_graph=create_graph)
        if geo.groups.order is not None:
            amat = amat.index_select(0, geo.groups.order)
        grads = []  # per group: rows x nkeep x 4, blocks concatenated along the slots
        for start, stop in geo.groups.ranges:
            parts = []
            for blk in geo.blocks:
                if blk.rows != (start, stop):
                    continue
                parts.append(embedding_ops.pair_grad(blk.env, blk.g, blk.gt, amat[start:stop]))
            if parts:
                grads.append(torch.cat(parts, dim=1))
        em = geo.em
        if not grads:
            g_em = torch.zeros_like(em)
        else:
            g_em = torch.cat(grads, dim=0) if len(grads) > 1 else grads[0]
            if geo.groups.order is not None:
                g_em = g_em.index_select(0, geo.groups.inverse)
            g_em = g_em.reshape(em.shape)
        (g_rij,) = torch.autograd.grad(em, geo.rij, g_em, create_graph=create_graph)
        return g_rij

    def _groups(self, ct: torch.Tensor, center_counts: Sequence[int] | None) -> _Groups:
        """Row groups sharing nets: all rows (type_one_side) or rows sorted by center type;
        ``center_counts``: rows of each center type when known on the host."""
        nfl = ct.shape[0]
        if self.type_one_side:
            return _Groups(None, None, [(0, nfl)], [None])
        order = torch.argsort(ct, stable=True)
        counts = center_counts  # known on the host (EnergyModel.build_nlist), else read back
        if counts is None:
            counts = np.bincount(ct.cpu().numpy(), minlength=self.ntypes).tolist()
        bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
        ranges = [(bounds[t], bounds[t + 1]) for t in range(self.ntypes)]
        return _Groups(order, torch.argsort(order), ranges, list(range(self.ntypes)))

    def _embed(self, em_rows: torch.Tensor, groups: _Groups, keep: list[int],
               fused: bool) -> list[_Block]:
        """G and dG/dŝ of every (row group, neighbor type) block of kept slots."""
        offsets = np.concatenate([[0], np.cumsum(keep)]).tolist()
        blocks = []
        for (start, stop), ti in zip(groups.ranges, groups.center, strict=True):
            if stop == start:
                continue
            rows = em_rows[start:stop]
            for t in range(self.ntypes):
                if keep[t] == 0:
                    continue
                env = rows[:, offsets[t]:offsets[t + 1], :].contiguous()  # rows x k_t x 4
                net = self.embeddings[t if ti is None else self.net_index(ti, t)]
                g, gt = net.forward_tangent(env[:, :, :1], fused)  # rows x k_t x M (both)
                blocks.append(_Block((start, stop), env, g, gt))
        return blocks

    def _add_padding(self, tmat: torch.Tensor, ct: torch.Tensor,
                     npad: torch.Tensor) -> torch.Tensor:
        """Add the empty slots' term ``Σ_t n_pad(i,t) p ⊗ G_t(p[0])`` to T, where
        ``p = -davg[t_i]/dstd[t_i]`` is the normalized row of an empty slot (no-op if davg=0;
        with DeePMD-kit statistics only p[0] is nonzero)."""
        prow = -self.davg / self.dstd  # ntypes(center) x 4
        # the two shortcuts read prow on the host, so they are taken on the CPU only; on a GPU
        # the general formula gives the same values (it adds exact zeros) without a sync
        host = not _device.host_read_syncs(prow)
        if host and not bool(torch.any(prow != 0)):
            return tmat
        x0 = prow[:, :1]  # ntypes x 1
        coef = None  # nfl x M: Σ_t n_pad(i,t) G_t(p0[t_i])
        for t in range(self.ntypes):
            if self.type_one_side:
                g0 = self.embeddings[t](x0)  # ntypes(center) x M
            else:
                g0 = torch.cat([self.embeddings[self.net_index(ti, t)](x0[ti:ti + 1])
                                for ti in range(self.ntypes)], dim=0)
            piece = npad[:, t:t + 1].to(tmat.dtype) * g0.index_select(0, ct)
            coef = piece if coef is None else coef + piece
        if host and bool(torch.all(prow[:, 1:] == 0)):  # DeePMD-kit statistics: only row 0
            row0 = tmat[:, :1, :] + prow[:, :1].index_select(0, ct)[:, :, None] * coef[:, None]
            return torch.cat([row0, tmat[:, 1:, :]], dim=1)
        return tmat + prow.index_select(0, ct)[:, :, None] * coef[:, None, :]

    # ---- type map change -------------------------------------------------------------------
    def change_type_map(self, old_type_map: Sequence[str], new_type_map: Sequence[str], *,
                        sel: Sequence[int] | None = None, seed: int | None = None) -> list[int]:
        """Remap to ``new_type_map`` in place; returns the indices of the new (unknown) types.

        Known elements keep their embedding nets and statistics (bit-exact); new ones get fresh
        nets seeded from (``seed``, element names), davg 0 / dstd 1, and are listed in
        ``types_without_stats`` until :meth:`set_stats` fills them. ``sel`` gives the new
        per-type neighbor counts; by default known types keep theirs (a new type then needs an
        explicit ``sel``). Note nnei = sum(sel) normalizes T, so dropping or adding types
        changes the descriptor's scale unless sel is chosen to keep the sum.
        """
        from deepft.model.type_map import index_map

        old, new = list(old_type_map), list(new_type_map)
        if len(old) != self.ntypes:
            raise ValueError(f"old type map {old} has {len(old)} types, descriptor {self.ntypes}")
        idx = index_map(old, new)
        if sel is None:
            if any(i is None for i in idx):
                raise ValueError(f"sel is needed for the new types of {new} (old map {old})")
            sel = [self.sel[i] for i in idx]
        if len(sel) != len(new):
            raise ValueError(f"sel {list(sel)} does not match the new type map {new}")
        seed = self.seed if seed is None else seed
        nets = []
        for ti, tj in self._net_pairs(len(new)):
            oi = idx[ti] if ti is not None else None
            oj = idx[tj]
            known = oj is not None and (self.type_one_side or oi is not None)
            if known:
                nets.append(self.embeddings[oj if self.type_one_side else oi * self.ntypes + oj])
            else:
                names = (new[tj],) if self.type_one_side else (new[ti], new[tj])
                nets.append(self._new_net(derive_seed(seed, "type_map", *names)))
        davg = torch.zeros(len(new), 4, dtype=self.dtype, device=self.davg.device)
        dstd = torch.ones(len(new), 4, dtype=self.dtype, device=self.dstd.device)
        fresh = [t for t, i in enumerate(idx) if i is None]
        with torch.no_grad():
            for t, i in enumerate(idx):
                if i is not None:
                    davg[t], dstd[t] = self.davg[i], self.dstd[i]
        self.ntypes, self.sel = len(new), [int(s) for s in sel]
        self.embeddings = nn.ModuleList(nets)
        self.davg, self.dstd = davg, dstd  # buffers: nn.Module.__setattr__ keeps them buffers
        self.types_without_stats = fresh
        return fresh

    def _net_pairs(self, ntypes: int) -> list[tuple[int | None, int]]:
        if self.type_one_side:
            return [(None, tj) for tj in range(ntypes)]
        return [(ti, tj) for ti in range(ntypes) for tj in range(ntypes)]


class _Groups:
    """Rows (atoms of all frames) that share embedding nets: ``ranges`` of rows in sorted order
    (``order``/``inverse`` permutations, None = identity) with their center type (None = any)."""

    def __init__(self, order, inverse, ranges, center):
        self.order, self.inverse, self.ranges, self.center = order, inverse, ranges, center


class _Block:
    """One (row group, neighbor type) block: env rows ``rows x k x 4``, G and dG/dŝ."""

    def __init__(self, rows: tuple[int, int], env, g, gt):
        self.rows, self.env, self.g, self.gt = rows, env, g, gt


def _place(total, part: torch.Tensor, rows: tuple[int, int], nfl: int):
    """Accumulate a row-slice result into an ``nfl x ...`` total (None = zeros)."""
    start, stop = rows
    if start == 0 and stop == nfl:
        return part if total is None else total + part
    pad = [0, 0] * (part.dim() - 1) + [start, nfl - stop]
    full = torch.nn.functional.pad(part, pad)
    return full if total is None else total + full


class _Trimmed:
    """Neighbor slots kept for one forward call (see :func:`_trim`)."""

    def __init__(self, nlist, image, mask, keep, npad):
        self.nlist, self.image, self.mask = nlist, image, mask
        self.keep, self.npad = keep, npad


def _trim(nl, sel: Sequence[int], device) -> _Trimmed:
    """Drop slot columns that are padding for every atom of the batch, per neighbor type.

    Returns the kept slots (``nframes x nloc x nkeep``), ``keep[t]`` = kept slots of type t,
    and ``npad`` (``nframes x nloc x ntypes``) = padded slots of each atom per type out of sel.
    A type block holds its neighbors in its first slots, so ``keep[t] = min(max_neighbors[t],
    sel[t])``. That needs ``max_neighbors`` on the host: when it lives on a GPU, every slot is
    kept (the padding computes zeros) rather than waiting for the device.
    """
    nlist, image = torch.as_tensor(nl.nlist), torch.as_tensor(nl.image)
    sec = np.concatenate([[0], np.cumsum(sel)]).astype(np.int64)
    if nlist.shape[-1] != sec[-1]:
        raise ValueError(f"neighbor list has {nlist.shape[-1]} slots, sum(sel) = {sec[-1]}")
    max_nei = nl.max_neighbors
    if _device.host_read_syncs(max_nei):
        keep = [int(s) for s in sel]
    else:
        keep = [min(int(m), int(s)) for m, s in zip(np.asarray(max_nei), sel, strict=True)]
    if keep != [int(s) for s in sel]:
        cols = torch.from_numpy(np.concatenate(
            [np.arange(sec[t], sec[t] + keep[t]) for t in range(len(sel))]).astype(np.int64))
        nlist = nlist.index_select(-1, cols.to(nlist.device))
        image = image.index_select(-2, cols.to(image.device))
    counts = torch.as_tensor(nl.type_counts).to(device=device, dtype=torch.int64)
    # sel as Python numbers: a sel tensor would be a blocking host-to-device copy
    npad = torch.stack([int(s) - counts[..., t].clamp(max=int(s)) for t, s in enumerate(sel)],
                       dim=-1)
    nlist_k, image_k = nlist.to(device).contiguous(), image.to(device).contiguous()
    return _Trimmed(nlist_k, image_k, nlist_k >= 0, keep, npad)
