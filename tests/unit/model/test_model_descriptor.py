"""DescrptSeA against an independent einsum implementation on deepft/ops/reference.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.models import set_random_stats, small_model_cfg
from support.tolerances import STRICT, TIGHT

from deepft.model import build_model
from deepft.model.descriptor.stats import env_mat_stats
from deepft.ops import build_nlist
from deepft.ops.reference import env_mat_se_a as ref_env_mat


def mlp_by_hand(net, x):
    """Embedding net from its parameters with the DeePMD-kit rule, written out."""
    for layer in net.layers:
        h = torch.tanh(x @ layer.matrix + layer.bias)
        if layer.idt is not None:
            h = h * layer.idt
        nin, nout = layer.matrix.shape
        x = x + h if nout == nin else (torch.cat([x, x], -1) + h if nout == 2 * nin else h)
    return x


def reference_descriptor(desc, coord, box, atype):
    """Full sel slots, padded rows = (0 - davg)/dstd (DeePMD-kit), one einsum per atom block."""
    nf, nloc = coord.shape[:2]
    nl = build_nlist(coord.numpy(), None if box is None else box.numpy(), atype.numpy(),
                     desc.rcut, desc.sel)
    nlist = torch.as_tensor(nl.nlist)
    mask = nlist >= 0
    j = nlist.clamp(min=0)
    rij = torch.stack([coord[f][j[f]] for f in range(nf)]) - coord[:, :, None, :]
    if box is not None:
        rij = rij + torch.einsum("fink,fkd->find", torch.as_tensor(nl.image).double(),
                                 box.reshape(nf, 3, 3))
    ct = atype.reshape(1, nloc).expand(nf, nloc)
    em = ref_env_mat(rij, mask, ct, desc.davg, desc.dstd, desc.rcut, desc.rcut_smth)
    pad = (-desc.davg / desc.dstd)[ct][:, :, None, :].expand_as(em)
    em = torch.where(mask[..., None], em, pad)
    sec = np.concatenate([[0], np.cumsum(desc.sel)])
    out = torch.zeros(nf, nloc, desc.dim_out, dtype=torch.float64)
    for f in range(nf):
        for i in range(nloc):
            t_mat = 0
            for t in range(desc.ntypes):
                block = em[f, i, sec[t]:sec[t + 1]]  # sel_t x 4
                net = desc.embeddings[desc.net_index(int(ct[f, i]), t)]
                g = mlp_by_hand(net, block[:, :1])
                t_mat = t_mat + torch.einsum("ja,jm->am", block, g)
            t_mat = t_mat / sum(desc.sel)
            out[f, i] = torch.einsum("am,an->mn", t_mat, t_mat[:, :desc.axis_neuron]).reshape(-1)
    return out


@pytest.mark.parametrize("type_one_side", [True, False])
@pytest.mark.parametrize("angular", [False, True])
def test_descriptor_matches_einsum_reference(type_one_side, angular, water):
    model = set_random_stats(build_model(small_model_cfg(("O", "H"), type_one_side=type_one_side,
                                                         resnet_dt=True)), angular=angular)
    coord, box, atype = water
    coord, atype = coord[:, :24], atype[:24]  # a subset of the atoms keeps the loop short
    desc = model.descriptor
    nl = build_nlist(coord.numpy(), box.numpy(), atype.numpy(), desc.rcut, desc.sel)
    got = desc(coord, box, atype, nl)
    want = reference_descriptor(desc, coord, box, atype)
    assert got.shape == (2, 24, desc.dim_out)
    torch.testing.assert_close(got, want, rtol=TIGHT, atol=TIGHT,
                               msg=f"type_one_side={type_one_side} angular={angular}")


def test_descriptor_non_periodic_three_types(organic):
    model = set_random_stats(build_model(small_model_cfg(("O", "H", "C"), type_one_side=False)))
    coord, box, atype = organic
    desc = model.descriptor
    nl = build_nlist(coord.numpy(), None, atype.numpy(), desc.rcut, desc.sel)
    torch.testing.assert_close(desc(coord, None, atype, nl),
                               reference_descriptor(desc, coord, None, atype),
                               rtol=TIGHT, atol=TIGHT)


def test_parameter_counts_type_one_side():
    one = build_model(small_model_cfg(("O", "H", "C"), type_one_side=True)).descriptor
    two = build_model(small_model_cfg(("O", "H", "C"), type_one_side=False)).descriptor
    per_net = sum(p.numel() for p in one.embeddings[0].parameters())
    # neuron [4, 8, 8]: 1->4 (8), 4->8 (40), 8->8 (72)
    assert per_net == 8 + 40 + 72
    assert len(one.embeddings) == 3 and len(two.embeddings) == 9
    assert sum(p.numel() for p in one.parameters()) == 3 * per_net
    assert sum(p.numel() for p in two.parameters()) == 9 * per_net
    assert two.net_index(2, 1) == 2 * 3 + 1 and one.net_index(2, 1) == 1


def test_input_stats_match_direct_estimator(water):
    model = build_model(small_model_cfg(("O", "H")))
    coord, box, atype = water
    desc = model.descriptor
    samples = [{"coord": coord.numpy(), "box": box.numpy(), "atype": atype.numpy()}]
    stats = desc.compute_input_stats(samples)
    # direct: env matrix of the oracle over every slot (padding = 0)
    nl = build_nlist(coord.numpy(), box.numpy(), atype.numpy(), desc.rcut, desc.sel)
    nlist = torch.as_tensor(nl.nlist)
    j = nlist.clamp(min=0)
    rij = torch.stack([coord[f][j[f]] for f in range(2)]) - coord[:, :, None, :]
    rij = rij + torch.einsum("fink,fkd->find", torch.as_tensor(nl.image).double(),
                             box.reshape(2, 3, 3))
    em = ref_env_mat(rij, nlist >= 0, atype.expand(2, -1), torch.zeros(2, 4), torch.ones(2, 4),
                     desc.rcut, desc.rcut_smth).numpy()
    for t in range(2):
        rows = em[:, atype.numpy() == t]
        s, a = rows[..., 0].ravel(), rows[..., 1:].ravel()
        np.testing.assert_allclose(stats["davg"][t], [s.mean(), 0, 0, 0], rtol=TIGHT)
        np.testing.assert_allclose(stats["dstd"][t], [s.std(), a.std(), a.std(), a.std()],
                                   rtol=STRICT)
    # split into two samples: same numbers (pooled sums)
    halves = [{"coord": coord.numpy()[k:k + 1], "box": box.numpy()[k:k + 1],
               "atype": atype.numpy()} for k in range(2)]
    again = desc.compute_input_stats(halves)
    np.testing.assert_allclose(again["dstd"], stats["dstd"], rtol=TIGHT)


def test_input_stats_defaults_floor_and_davg_zero():
    # one isolated O atom: no neighbors at all -> every slot zero -> sigma floored at 1e-2
    sample = {"coord": np.zeros((1, 1, 3)), "box": None, "atype": np.array([0])}
    davg, dstd = env_mat_stats([sample], 2, [4, 4], 4.0, 0.5)
    np.testing.assert_array_equal(davg[0], [0, 0, 0, 0])
    np.testing.assert_array_equal(dstd[0], [1e-2] * 4)
    np.testing.assert_array_equal(dstd[1], [0.1] * 4)  # type without atoms: DeePMD default
    cfg = small_model_cfg(("O", "H"))
    cfg["descriptor"]["set_davg_zero"] = True
    desc = build_model(cfg).descriptor
    two = {"coord": np.array([[[0, 0, 0], [1.0, 0, 0]]]), "box": None, "atype": np.array([0, 1])}
    assert not desc.compute_input_stats([two])["davg"].any()


def test_set_get_stats_and_only_types():
    desc = build_model(small_model_cfg(("O", "H"))).descriptor
    davg, dstd = np.arange(8.0).reshape(2, 4), np.arange(1.0, 9.0).reshape(2, 4)
    desc.set_stats(davg, dstd, only_types=[1])
    got = desc.get_stats()
    np.testing.assert_array_equal(got["davg"], [[0, 0, 0, 0], davg[1]])
    np.testing.assert_array_equal(got["dstd"], [[1, 1, 1, 1], dstd[1]])
    desc.set_stats(davg, dstd)
    np.testing.assert_array_equal(desc.get_stats()["dstd"], dstd)
    assert desc.davg.dtype == torch.float64 and set(desc.state_dict()) >= {"davg", "dstd"}
