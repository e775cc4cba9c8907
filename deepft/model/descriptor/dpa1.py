"""DPA-1 (DeePMD-kit's ``dpa1`` / ``se_atten`` / ``se_atten_v2``): type embedding + attention.

One mixed-type neighbor list per atom: ``nnei = sel`` slots holding the nearest neighbors of any
type within ``rcut``, nearest first (deepft.ops.build_nlist with every type mapped to 0), empty
slots last. For a center atom i of type t_i and slot j (neighbor type t_j):

    R̂_j   = (R̃_j - davg[t_i]) / dstd[t_i]      R̃_j = (s, s x/r, s y/r, s z/r), s = sw(r)/r
    τ      = type embedding: τ_t = Linear(onehot(t)) (``tebd_dim``; the padding type is τ = 0)
    concat: G_j = embedding([R̂_j0, τ_{t_j}(, τ_{t_i})])            (``type_one_side`` drops τ_{t_i})
    strip:  G_j = g_j + g_j ⊙ w_j · E(τ_{t_j}(, τ_{t_i}))          g_j = embedding(R̂_j0),
            w_j = sw(r_j) with ``smooth_type_embedding`` else 1    E = ``embedding_strip``
    attention (``attn_layer`` times): G <- LayerNorm(G + Attn(G))
    T      = Σ_j R̂_jᵀ G_j / nnei                        (4 x M, M = neuron[-1])
    D_i    = Tᵀ T[:, :axis_neuron]  (flattened)  (+ τ_{t_i} appended with ``concat_output_tebd``)

Attn (one head of width ``attn``): q, k, v = split(G W_in + b_in); with ``normalize`` each row of
q, k, v is scaled to unit length; q *= ``temperature`` or (attn · scaling_factor)^-1/2;
a = q kᵀ; smooth: a = (a + 20) w_i w_j - 20, else empty columns -> -inf; a = softmax over
neighbors; empty rows -> 0; smooth: a *= w_i w_j; ``attn_dotr``: a *= r̂_i · r̂_j (r̂ = R̂[1:4]
normalized); out = (a v) W_out + b_out. This is DeePMD-kit 3.2.0's PyTorch backend
(``deepmd/pt/model/descriptor/se_atten.py``) term for term, with one deliberate difference: an
empty slot has the padding type (τ = 0), where DeePMD-kit gathers the type of atom 0 of the
frame for it. The two agree whenever ``davg`` is 0 (``set_davg_zero``, DPA-1's default) or no
slot is empty; otherwise DeePMD-kit's descriptor depends on the order of the atoms, deepft's
does not.

Forces and virials are exact: everything after the compiled environment matrix is autograd
(to any order: the environment-matrix kernel provides its Hessian-vector product).

Tensor names (checkpoint and frozen model): ``davg``, ``dstd`` (``ntypes x 4``),
``type_embedding.layers.0.{matrix,bias}`` (``ntypes x tebd_dim``; bias only with
``use_tebd_bias``), ``embedding.layers.<l>.{matrix,bias,idt}``,
``embedding_strip.layers.<l>.*`` (strip), ``attention.<k>.{in_proj,out_proj}.{matrix,bias}``
and ``attention.<k>.layer_norm.{weight,bias}``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from deepft.model import _ops
from deepft.model.descriptor.geometry import center_types, displacements, switch_weight
from deepft.model.descriptor.stats import StatisticsBuffers, env_mat_stats
from deepft.model.network import EmbeddingNet, Layer, derive_seed, get_dtype

#: shift of the smooth attention logits (DeePMD-kit's ``attnw_shift``)
ATTN_SHIFT = 20.0
TEBD_INPUT_MODES = ("concat", "strip")


class PairGeometry:
    """What :meth:`DescrptDPA1.pair_gradient` needs from one forward call: ``rij``
    (``nframes x nloc x nnei x 3``, Å, the autograd leaf of the pair terms), ``nlist``
    (``nframes x nloc x nnei`` int64, -1 = empty) and ``mask`` (``nlist >= 0``)."""

    def __init__(self, rij: torch.Tensor, nlist: torch.Tensor, mask: torch.Tensor):
        self.rij, self.nlist, self.mask = rij, nlist, mask


class LayerNorm(nn.Module):
    """Layer normalization over the last axis: ``(x - mean) / sqrt(var + eps) * weight + bias``
    (biased variance, as DeePMD-kit); ``trainable=False`` keeps weight/bias fixed."""

    def __init__(self, width: int, eps: float, precision: str, trainable: bool):
        super().__init__()
        dtype = get_dtype(precision)
        self.eps = float(eps)
        self.weight = nn.Parameter(torch.ones(width, dtype=dtype), requires_grad=trainable)
        self.bias = nn.Parameter(torch.zeros(width, dtype=dtype), requires_grad=trainable)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=-1, unbiased=False, keepdim=True)
        # times the reciprocal rather than a division: the same value to rounding, and the
        # (double) backward of a broadcast product is far cheaper than a broadcast quotient's
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias


def unit_rows(x: torch.Tensor) -> torch.Tensor:
    """``torch.nn.functional.normalize(x, dim=-1)`` (x / max(|x|, 1e-12)) as a product with the
    reciprocal norm, whose backward stays small (see LayerNorm.forward)."""
    norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(1e-12)
    return x * torch.reciprocal(norm)


class NeighborAttention(nn.Module):
    """One gated self-attention layer over the neighbor slots with its residual and layer norm:
    ``G <- LayerNorm(G + Attn(G))`` (see the module docstring for Attn)."""

    def __init__(self, width: int, attn: int, *, dotr: bool, normalize: bool, scale: float,
                 smooth: bool, ln_eps: float, trainable_ln: bool, precision: str,
                 trainable: bool, seed: int | None):
        super().__init__()
        self.attn, self.dotr, self.normalize = int(attn), bool(dotr), bool(normalize)
        self.scale, self.smooth = float(scale), bool(smooth)
        self.in_proj = Layer(width, 3 * attn, activation_function=None, resnet=False,
                             precision=precision, trainable=trainable,
                             seed=derive_seed(seed, 0))
        self.out_proj = Layer(attn, width, activation_function=None, resnet=False,
                              precision=precision, trainable=trainable,
                              seed=derive_seed(seed, 1))
        self.layer_norm = LayerNorm(width, ln_eps, precision, trainable_ln and trainable)

    def forward(self, g: torch.Tensor, mask: torch.Tensor, pair_sw: torch.Tensor | None,
                angular: torch.Tensor | None) -> torch.Tensor:
        """g ``rows x nnei x width``; mask ``rows x nnei``; ``pair_sw`` = w_i w_j (smooth only)
        and ``angular`` = r̂_i · r̂_j (``attn_dotr`` only), ``rows x nnei x nnei``, shared by
        all layers."""
        q, k, v = self.in_proj(g).split(self.attn, dim=-1)
        if self.normalize:
            q, k, v = unit_rows(q), unit_rows(k), unit_rows(v)
        logits = torch.bmm(q * self.scale, k.transpose(1, 2))  # rows x nnei x nnei
        if self.smooth:
            logits = (logits + ATTN_SHIFT) * pair_sw - ATTN_SHIFT
        else:
            logits = logits.masked_fill(~mask[:, None, :], float("-inf"))
        weights = torch.softmax(logits, dim=-1).masked_fill(~mask[:, :, None], 0.0)
        if self.smooth:
            weights = weights * pair_sw
        if self.dotr:
            weights = weights * angular
        return self.layer_norm(g + self.out_proj(torch.bmm(weights, v)))


class DescrptDPA1(StatisticsBuffers, nn.Module):
    """DPA-1 descriptor; see the module docstring for the math and tensor names."""

    #: one neighbor list over all types (the model builds it with every type mapped to 0)
    mixed_types = True

    def __init__(self, ntypes: int, sel: int | Sequence[int], rcut: float, rcut_smth: float,
                 neuron: Sequence[int], axis_neuron: int, *, tebd_dim: int = 8,
                 tebd_input_mode: str = "concat", attn: int = 128, attn_layer: int = 2,
                 attn_dotr: bool = True, scaling_factor: float = 1.0, normalize: bool = True,
                 temperature: float | None = None, smooth_type_embedding: bool = True,
                 type_one_side: bool = False, trainable_ln: bool = True, ln_eps: float = 1e-5,
                 resnet_dt: bool = False, activation_function: str = "tanh",
                 precision: str = "float64", trainable: bool = True, seed: int | None = None,
                 set_davg_zero: bool = True, use_tebd_bias: bool = False,
                 concat_output_tebd: bool = True):
        super().__init__()
        nsel = int(sum(sel)) if isinstance(sel, Sequence) else int(sel)
        if nsel < 1:
            raise ValueError(f"sel must be >= 1, got {sel}")
        if not 0 <= rcut_smth < rcut:
            raise ValueError(f"need 0 <= rcut_smth < rcut, got {rcut_smth}, {rcut}")
        if not 0 < axis_neuron <= neuron[-1]:
            raise ValueError(f"axis_neuron {axis_neuron} must be in [1, neuron[-1]={neuron[-1]}]")
        if tebd_input_mode not in TEBD_INPUT_MODES:
            raise ValueError(f"tebd_input_mode {tebd_input_mode!r} is not one of "
                             f"{TEBD_INPUT_MODES}")
        self.ntypes, self.nsel = int(ntypes), nsel
        self.rcut, self.rcut_smth = float(rcut), float(rcut_smth)
        self.neuron, self.axis_neuron = [int(n) for n in neuron], int(axis_neuron)
        self.tebd_dim, self.tebd_input_mode = int(tebd_dim), tebd_input_mode
        self.attn, self.attn_layer = int(attn), int(attn_layer)
        self.type_one_side, self.smooth = bool(type_one_side), bool(smooth_type_embedding)
        self.concat_output_tebd, self.use_tebd_bias = bool(concat_output_tebd), use_tebd_bias
        self.resnet_dt, self.activation_function = bool(resnet_dt), activation_function
        self.precision, self.trainable, self.seed = precision, bool(trainable), seed
        self.set_davg_zero = bool(set_davg_zero)
        # attention settings as configured (the frozen model's header repeats them)
        self.attn_dotr, self.normalize = bool(attn_dotr), bool(normalize)
        self.scaling_factor = float(scaling_factor)
        self.temperature = None if temperature is None else float(temperature)
        self.ln_eps = float(ln_eps)
        self.dtype = get_dtype(precision)
        self.register_buffer("davg", torch.zeros(ntypes, 4, dtype=self.dtype))
        self.register_buffer("dstd", torch.ones(ntypes, 4, dtype=self.dtype))
        self.type_embedding = self._new_type_embedding(self.ntypes, derive_seed(seed, "tebd"))
        pair_tebd = self.tebd_dim * (1 if self.type_one_side else 2)
        self.embedding = EmbeddingNet(
            self.neuron, num_in=1 + (pair_tebd if tebd_input_mode == "concat" else 0),
            activation_function=activation_function, resnet_dt=resnet_dt, precision=precision,
            trainable=trainable, seed=derive_seed(seed, "embedding"))
        if tebd_input_mode == "strip":
            self.embedding_strip = EmbeddingNet(
                self.neuron, num_in=pair_tebd, activation_function=activation_function,
                resnet_dt=resnet_dt, precision=precision, trainable=trainable,
                seed=derive_seed(seed, "embedding_strip"))
        else:
            self.embedding_strip = None
        self.attention = nn.ModuleList([
            NeighborAttention(self.neuron[-1], self.attn, dotr=attn_dotr, normalize=normalize,
                              scale=self.attn_scale, smooth=self.smooth, ln_eps=ln_eps,
                              trainable_ln=trainable_ln, precision=precision,
                              trainable=trainable, seed=derive_seed(seed, "attention", k))
            for k in range(self.attn_layer)])
        #: types whose davg/dstd are placeholders (after a type-map change) until set_stats
        self.types_without_stats: list[int] = []

    def _new_type_embedding(self, ntypes: int, seed: int | None) -> EmbeddingNet:
        return EmbeddingNet([self.tebd_dim], num_in=ntypes, activation_function="linear",
                            precision=self.precision, trainable=self.trainable, seed=seed,
                            use_bias=self.use_tebd_bias)

    def _skip_part(self, ntypes: int, like: torch.Tensor) -> torch.Tensor:
        """``ntypes x tebd_dim``: what the resnet rule adds to the one-hot rows' output."""
        eye = torch.eye(ntypes, dtype=like.dtype, device=like.device)
        if self.tebd_dim == ntypes:
            return eye
        if self.tebd_dim == 2 * ntypes:
            return torch.cat([eye, eye], dim=-1)
        return torch.zeros(ntypes, self.tebd_dim, dtype=like.dtype, device=like.device)

    # ---- sizes -----------------------------------------------------------------------------
    @property
    def attn_scale(self) -> float:
        """Factor of q in the attention logits: ``temperature``, or (attn · scaling_factor)^-1/2."""
        if self.temperature is not None:
            return self.temperature
        return (self.attn * self.scaling_factor) ** -0.5

    @property
    def nnei(self) -> int:
        return self.nsel

    @property
    def dim_out(self) -> int:
        """Width of one atom's descriptor: ``neuron[-1] * axis_neuron`` (+ ``tebd_dim`` with
        ``concat_output_tebd``)."""
        return self.neuron[-1] * self.axis_neuron + (self.tebd_dim
                                                     if self.concat_output_tebd else 0)

    def get_rcut(self) -> float:
        return self.rcut

    def get_sel(self) -> list[int]:
        """``[nsel]``: the neighbor list has one block of ``nsel`` slots for all types."""
        return [self.nsel]

    def get_ntypes(self) -> int:
        return self.ntypes

    def finetune_sel(self, old_type_map: Sequence[str], new_type_map: Sequence[str],
                     input_sel: Sequence[int]) -> list[int]:
        """sel after fine-tuning: the pretrained ``[nsel]`` whatever the new type map (the
        weights were trained with that many slots, which also set the 1/nnei scale)."""
        return [self.nsel]

    def parameters_of_types(self, types: Sequence[int]) -> list[nn.Parameter]:
        """Parameters that carry per-type information: the type-embedding matrix (one row per
        type; the whole matrix, rows cannot be trained separately). Empty for no types."""
        if not list(types):
            return []
        return [self.type_embedding.layers[0].matrix]

    # ---- statistics ------------------------------------------------------------------------
    def compute_input_stats(self, samples: Sequence[dict]) -> dict[str, np.ndarray]:
        """davg/dstd (``ntypes x 4``) over the mixed-type neighbor slots (DeePMD-kit's
        EnvMatStatSe for DPA-1); davg is zeroed with ``set_davg_zero``. See
        :meth:`deepft.model.descriptor.se_e2_a.DescrptSeA.compute_input_stats`."""
        davg, dstd = env_mat_stats(samples, self.ntypes, [self.nsel], self.rcut,
                                   self.rcut_smth, mixed_types=True)
        if self.set_davg_zero:
            davg[:] = 0.0
        return {"davg": davg, "dstd": dstd}

    # ---- forward ---------------------------------------------------------------------------
    def type_embedding_table(self) -> torch.Tensor:
        """``(ntypes + 1) x tebd_dim``: τ of every type, then the padding type's zero row."""
        eye = torch.eye(self.ntypes, dtype=self.dtype, device=self.davg.device)
        table = self.type_embedding(eye)
        return torch.cat([table, table.new_zeros(1, self.tebd_dim)], dim=0)

    def forward(self, coord: torch.Tensor, box: torch.Tensor | None, atype: torch.Tensor,
                nlist_result) -> torch.Tensor:
        """Descriptor ``nframes x nloc x dim_out`` (see :meth:`compute`)."""
        return self.compute(coord, box, atype, nlist_result)[0]

    def compute(self, coord, box, atype, nlist_result) -> tuple[torch.Tensor, PairGeometry]:
        """(descriptor ``nframes x nloc x dim_out``, pair geometry for :meth:`pair_gradient`).

        coord ``nframes x nloc x 3`` (Å), box ``nframes x 9`` or None, atype ``nloc`` or
        ``nframes x nloc``, nlist_result the mixed-type list (``sel = [nsel]``).
        """
        nf, nloc = coord.shape[:2]
        nlist = torch.as_tensor(nlist_result.nlist).to(coord.device)
        image = torch.as_tensor(nlist_result.image).to(coord.device)
        if nlist.shape[-1] != self.nsel:
            raise ValueError(f"neighbor list has {nlist.shape[-1]} slots, sel = {self.nsel}")
        mask = nlist >= 0
        ct = center_types(atype, nf, nloc, coord.device)
        rij = displacements(coord, box, nlist, image)
        if not rij.requires_grad:  # forces need d/d rij even for a plain coord tensor
            rij.requires_grad_(True)
        rij_d = rij.to(self.dtype)
        em = _ops.env_mat_se_a(rij_d, mask, ct, self.davg, self.dstd, self.rcut, self.rcut_smth)
        pad_row = (-self.davg / self.dstd).index_select(0, ct.reshape(-1))  # empty slot's R̂
        em = torch.where(mask[..., None], em, pad_row.reshape(nf, nloc, 1, 4))
        sw = switch_weight(rij_d, mask, self.rcut, self.rcut_smth)
        nfl, nnei = nf * nloc, self.nsel
        em, sw, mask_f = em.reshape(nfl, nnei, 4), sw.reshape(nfl, nnei), mask.reshape(nfl, nnei)
        table = self.type_embedding_table()
        pad_type = self.ntypes
        frame = torch.arange(nf, device=coord.device).reshape(nf, 1, 1) * nloc
        flat_types = ct.reshape(-1)
        nei_type = torch.where(mask, flat_types.index_select(
            0, (torch.clamp(nlist, min=0) + frame).reshape(-1)).reshape(nlist.shape),
            torch.full_like(nlist, pad_type)).reshape(nfl, nnei)
        g = self._pair_embedding(em[:, :, :1], table, nei_type, flat_types, sw)
        if self.attention:
            pair_sw = sw[:, :, None] * sw[:, None, :] if self.smooth else None
            angular = None
            if self.attention[0].dotr:
                rhat = unit_rows(em[:, :, 1:])
                angular = torch.bmm(rhat, rhat.transpose(1, 2))
            for layer in self.attention:
                g = layer(g, mask_f, pair_sw, angular)
        tmat = torch.bmm(em.transpose(1, 2), g) / nnei  # nfl x 4 x M
        desc = torch.bmm(tmat.transpose(1, 2), tmat[:, :, :self.axis_neuron])
        desc = desc.reshape(nf, nloc, self.neuron[-1] * self.axis_neuron)
        if self.concat_output_tebd:
            desc = torch.cat([desc, table.index_select(0, flat_types).reshape(nf, nloc, -1)], -1)
        return desc, PairGeometry(rij, nlist, mask)

    def _pair_embedding(self, s_hat: torch.Tensor, table: torch.Tensor, nei_type: torch.Tensor,
                        center: torch.Tensor, sw: torch.Tensor) -> torch.Tensor:
        """G before attention, ``nfl x nnei x M`` (concat or strip; module docstring)."""
        nfl, nnei = nei_type.shape
        if self.tebd_input_mode == "concat":
            parts = [s_hat, table.index_select(0, nei_type.reshape(-1)).reshape(nfl, nnei, -1)]
            if not self.type_one_side:
                parts.append(table.index_select(0, center).reshape(nfl, 1, -1)
                             .expand(nfl, nnei, self.tebd_dim))
            return self.embedding(torch.cat(parts, dim=-1))
        ntab = table.shape[0]  # ntypes + 1
        if self.type_one_side:
            pair_table = self.embedding_strip(table)  # (ntypes+1) x M
            index = nei_type.reshape(-1)
        else:  # row (t_i, t_j) -> [τ_j, τ_i], DeePMD-kit's order
            pairs = torch.cat([table.reshape(1, ntab, -1).expand(ntab, ntab, self.tebd_dim),
                               table.reshape(ntab, 1, -1).expand(ntab, ntab, self.tebd_dim)],
                              dim=-1).reshape(ntab * ntab, 2 * self.tebd_dim)
            pair_table = self.embedding_strip(pairs)
            index = (center.reshape(nfl, 1) * ntab + nei_type).reshape(-1)
        gate = pair_table.index_select(0, index).reshape(nfl, nnei, -1)
        if self.smooth:
            gate = gate * sw[:, :, None]
        g = self.embedding(s_hat)
        return g * gate + g

    def pair_gradient(self, energy: torch.Tensor, geo: PairGeometry,
                      create_graph: bool) -> torch.Tensor:
        """g = dE/dr_ij (``nframes x nloc x nnei x 3``) for the scalar ``energy``."""
        (g_rij,) = torch.autograd.grad(energy, geo.rij, create_graph=create_graph)
        return g_rij

    # ---- type map change -------------------------------------------------------------------
    def change_type_map(self, old_type_map: Sequence[str], new_type_map: Sequence[str], *,
                        sel: Sequence[int] | None = None, seed: int | None = None) -> list[int]:
        """Remap to ``new_type_map`` in place; returns the indices of the new types.

        Known elements keep their type-embedding row and statistics bit-exact (their
        predictions do not change: every other parameter is type-independent); a new element
        gets a fresh row drawn like the initial ones (seeded by ``seed`` and its name), davg
        0 / dstd 1 and is listed in ``types_without_stats``. ``sel`` (one entry: nsel) may not
        change the number of slots.
        """
        from deepft.model.type_map import index_map

        old, new = list(old_type_map), list(new_type_map)
        if len(old) != self.ntypes:
            raise ValueError(f"old type map {old} has {len(old)} types, descriptor {self.ntypes}")
        if sel is not None and int(sum(sel)) != self.nsel:
            raise ValueError(f"DPA-1 keeps its {self.nsel} neighbor slots across a type-map "
                             f"change, got sel {list(sel)}")
        idx = index_map(old, new)
        seed = self.seed if seed is None else seed
        layer = self.type_embedding.layers[0]
        # τ_t = onehot(t) W + b + skip(onehot(t)): move the skip part (identity when tebd_dim is
        # ntypes or 2 ntypes) into W before reindexing, take it out for the new size after
        rows = layer.matrix.detach() + self._skip_part(self.ntypes, layer.matrix)
        new_rows = torch.empty(len(new), self.tebd_dim, dtype=rows.dtype, device=rows.device)
        for t, i in enumerate(idx):
            if i is not None:
                new_rows[t] = rows[i]
            else:  # a row drawn as the initial ones are
                fresh = self._new_type_embedding(1, derive_seed(seed, "type_map", new[t]))
                new_rows[t] = fresh.layers[0].matrix.detach()[0].to(rows.device)
        new_net = self._new_type_embedding(len(new), None).to(rows.device)
        with torch.no_grad():
            new_net.layers[0].matrix.copy_(new_rows - self._skip_part(len(new), new_rows))
            if layer.bias is not None:
                new_net.layers[0].bias.copy_(layer.bias)
        for p_new, p_old in zip(new_net.parameters(), self.type_embedding.parameters(),
                                strict=True):
            p_new.requires_grad_(p_old.requires_grad)
        davg = torch.zeros(len(new), 4, dtype=self.dtype, device=self.davg.device)
        dstd = torch.ones(len(new), 4, dtype=self.dtype, device=self.dstd.device)
        with torch.no_grad():
            for t, i in enumerate(idx):
                if i is not None:
                    davg[t], dstd[t] = self.davg[i], self.dstd[i]
        self.ntypes = len(new)
        self.type_embedding = new_net
        self.davg, self.dstd = davg, dstd
        self.types_without_stats = [t for t, i in enumerate(idx) if i is None]
        return self.types_without_stats
