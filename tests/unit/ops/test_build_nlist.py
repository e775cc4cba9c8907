"""Formatted neighbor table (build_nlist and the LAMMPS-style ghost form) = the layout spec."""

from __future__ import annotations

import logging

import deepft._core as core
import numpy as np
import pytest
from support.neighbors import formatted_oracle, random_system
from support.tolerances import TIGHT

from deepft.ops import build_nlist
from deepft.ops import neighbor as neighbor_mod

CASES = {
    "orthorhombic": (np.diag([8.0, 9.0, 10.0]), True, 4.0),
    "triclinic": (np.array([[8.0, 0.0, 0.0], [2.5, 7.5, 0.0], [-1.8, 2.2, 8.5]]), True, 4.0),
    "small_box": (np.diag([3.1, 3.5, 4.2]), True, 4.0),
    "non_periodic": (np.eye(3), False, 3.5),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layout_equals_oracle(name):
    cell, pbc, rcut = CASES[name]
    pos, cell = random_system(21, 36, cell, pbc)
    atype = np.random.default_rng(1).integers(0, 2, size=36)
    sel = [150, 150] if name == "small_box" else [12, 20]
    res = build_nlist(pos[None], cell.reshape(1, 9) if pbc else None, atype, rcut, sel)
    nlist, image, counts = formatted_oracle(pos, cell, pbc, atype, rcut, sel)
    np.testing.assert_array_equal(res.nlist[0], nlist, err_msg=name)
    np.testing.assert_array_equal(res.image[0], image, err_msg=name)
    np.testing.assert_array_equal(res.type_counts[0], counts, err_msg=name)
    np.testing.assert_array_equal(res.max_neighbors, counts.max(axis=0), err_msg=name)
    assert res.nlist.dtype == np.int64 and res.nlist.shape == (1, 36, sum(sel))
    assert res.overflow == bool((counts.max(axis=0) > np.asarray(sel)).any()), name


def test_blocks_sorted_and_padded(water_frame):
    coord, box, atype = water_frame
    sel = [46, 92]
    res = build_nlist(coord[None], box.reshape(1, 9), atype, 6.0, sel)
    nl, img = res.nlist[0], res.image[0]
    begin = [0, sel[0], sum(sel)]
    for i in range(len(coord)):
        for t in range(2):
            block = nl[i, begin[t]:begin[t + 1]]
            real = block >= 0
            n = int(real.sum())
            assert real[:n].all() and not real[n:].any(), f"atom {i} type {t}: padding not last"
            assert n == res.type_counts[0, i, t]
            js = block[:n]
            assert (atype[js] == t).all(), f"atom {i}: wrong type in block {t}"
            d = np.linalg.norm(coord[js] + img[i, begin[t]:begin[t] + n] @ box - coord[i], axis=1)
            assert (d < 6.0).all()
            key = list(zip(d.tolist(), js.tolist(), strict=True))
            assert key == sorted(key), f"atom {i} type {t}: not sorted by (distance, index)"
            assert (img[i, begin[t] + n:begin[t + 1]] == 0).all()


def test_overflow_reported_and_logged_once(water_frame, caplog):
    coord, box, atype = water_frame
    neighbor_mod._warned_overflow.clear()
    full = build_nlist(coord[None], box.reshape(1, 9), atype, 6.0, [46, 92])
    small_sel = [10, 20]
    with caplog.at_level(logging.WARNING, logger="deepft.ops.neighbor"):
        res = build_nlist(coord[None], box.reshape(1, 9), atype, 6.0, small_sel)
        build_nlist(coord[None], box.reshape(1, 9), atype, 6.0, small_sel)
    assert res.overflow
    np.testing.assert_array_equal(res.max_neighbors, full.max_neighbors)
    # kept neighbors are the nearest ones: the truncated block is the prefix of the full one
    np.testing.assert_array_equal(res.nlist[0, :, :10], full.nlist[0, :, :10])
    np.testing.assert_array_equal(res.nlist[0, :, 10:30], full.nlist[0, :, 46:66])
    warnings = [r for r in caplog.records if "sel overflow" in r.getMessage()]
    assert len(warnings) == 1, "overflow must be logged once"
    msg = warnings[0].getMessage()
    needed = [max(int(m), s) for m, s in zip(full.max_neighbors, small_sel, strict=True)]
    assert str(needed) in msg and "atom" in msg


def test_multi_frame_equals_single_frames(water_dir):
    d = water_dir / "data_0" / "set.000"
    coord = np.load(d / "coord.npy")[:3].reshape(3, -1, 3)
    box = np.load(d / "box.npy")[:3]
    atype = np.loadtxt(water_dir / "data_0" / "type.raw", dtype=np.int64)
    both = build_nlist(coord, box, atype, 6.0, [46, 92])
    for f in range(3):
        one = build_nlist(coord[f:f + 1], box[f:f + 1], atype, 6.0, [46, 92])
        np.testing.assert_array_equal(both.nlist[f], one.nlist[0])
        np.testing.assert_array_equal(both.image[f], one.image[0])


def test_virtual_atoms_are_skipped():
    pos, cell = random_system(22, 20, np.diag([7.0, 7.0, 7.0]), True)
    atype = np.random.default_rng(2).integers(0, 2, size=20)
    atype[[3, 11]] = -1
    res = build_nlist(pos[None], cell.reshape(1, 9), atype, 3.5, [20, 20])
    assert (res.nlist[0, [3, 11]] == -1).all()
    assert not np.isin(res.nlist, [3, 11]).any()


def test_float32_and_torch_inputs(water_frame):
    import torch

    coord, box, atype = water_frame
    ref = build_nlist(coord[None], box.reshape(1, 9), atype, 6.0, [46, 92])
    res32 = build_nlist(coord[None].astype(np.float32), box.reshape(1, 9), atype, 5.99, [46, 92])
    assert res32.nlist.shape == ref.nlist.shape
    rt = build_nlist(torch.from_numpy(coord[None]), torch.from_numpy(box.reshape(1, 9)),
                     torch.from_numpy(atype), 6.0, [46, 92])
    assert isinstance(rt.nlist, torch.Tensor)
    np.testing.assert_array_equal(rt.nlist.numpy(), ref.nlist)


def test_bad_type_raises():
    pos, cell = random_system(23, 5, np.eye(3) * 5, True)
    with pytest.raises(ValueError, match="type 2"):
        build_nlist(pos[None], cell.reshape(1, 9), np.array([0, 1, 2, 0, 1]), 3.0, [4, 4])


# ---- ghost-atom (LAMMPS) form -------------------------------------------------------------


def ghost_expand(pos, cell, atype, rcut):
    """Local atoms plus every periodic image within rcut of the box (like LAMMPS ghosts)."""
    reach = 2
    coords, types, owners = [pos], [atype], [np.arange(len(pos))]
    for s in np.ndindex(2 * reach + 1, 2 * reach + 1, 2 * reach + 1):
        s = np.array(s) - reach
        if not s.any():
            continue
        coords.append(pos + s @ cell)
        types.append(atype)
        owners.append(np.arange(len(pos)))
    return np.concatenate(coords), np.concatenate(types), np.concatenate(owners)


def test_ghost_form_equals_periodic_table():
    pos, cell = random_system(24, 25, np.diag([6.0, 6.5, 7.0]), True)
    atype = np.random.default_rng(3).integers(0, 2, size=25)
    rcut, sel = 4.0, [30, 30]
    ref = build_nlist(pos[None], cell.reshape(1, 9), atype, rcut, sel)
    allpos, alltype, owner = ghost_expand(pos, cell, atype, rcut)
    nloc = len(pos)
    # a full list with extra far candidates (as LAMMPS' skin adds): all atoms within rcut + 1
    rows = []
    for i in range(nloc):
        d = np.linalg.norm(allpos - allpos[i], axis=1)
        rows.append(np.nonzero((d < rcut + 1.0) & (np.arange(len(allpos)) != i))[0])
    numneigh = np.array([len(r) for r in rows], dtype=np.int32)
    neighbors = np.concatenate(rows).astype(np.int32)
    nlist, rij, max_nei, counts = core.format_nlist_from_full_list(
        allpos, alltype.astype(np.int32), nloc, numneigh, neighbors, None, rcut,
        np.array(sel, dtype=np.int64))
    # same neighbors: map ghosts back to their owners; same displacement vectors
    mapped = np.where(nlist >= 0, owner[np.maximum(nlist, 0)], -1)
    np.testing.assert_array_equal(mapped, ref.nlist[0])
    ref_rij = np.where(ref.nlist[0][..., None] >= 0,
                       pos[np.maximum(ref.nlist[0], 0)] + ref.image[0] @ cell - pos[:, None], 0)
    np.testing.assert_allclose(rij, ref_rij, atol=TIGHT)
    np.testing.assert_array_equal(max_nei, ref.max_neighbors)
    np.testing.assert_array_equal(counts, ref.type_counts[0])


def test_ghost_form_ilist_subset_and_bad_index():
    pos, _ = random_system(25, 10, np.eye(3), False)
    atype = np.zeros(10, dtype=np.int32)
    numneigh = np.full(10, 9, dtype=np.int32)
    neighbors = np.concatenate([np.delete(np.arange(10), i) for i in range(10)]).astype(np.int32)
    sel = np.array([9], dtype=np.int64)
    nlist, *_ = core.format_nlist_from_full_list(pos, atype, 10, numneigh, neighbors,
                                                 np.array([0, 4], dtype=np.int32), 100.0, sel)
    assert (nlist[[0, 4]] >= 0).all() and (nlist[[1, 2, 3, 5, 6, 7, 8, 9]] == -1).all()
    neighbors[3] = 12  # outside [0, nall)
    with pytest.raises(ValueError, match="outside"):
        core.format_nlist_from_full_list(pos, atype, 10, numneigh, neighbors, None, 100.0, sel)


def test_exact_distance_ties_sorted_by_index_then_shift():
    # integer lattice in an integer box: all arithmetic is exact, so the 6 nearest and the 12
    # next-nearest neighbors tie exactly and the order is decided by (index, shift)
    grid = np.stack(np.meshgrid(*[np.arange(3.0)] * 3, indexing="ij"), -1).reshape(-1, 3)
    cell = np.eye(3) * 3.0
    atype = np.zeros(len(grid), dtype=np.int64)
    res = build_nlist(grid[None], cell.reshape(1, 9), atype, 1.5, [20])
    nlist, image, _ = formatted_oracle(grid, cell, True, atype, 1.5, [20])
    np.testing.assert_array_equal(res.nlist[0], nlist)
    np.testing.assert_array_equal(res.image[0], image)
    assert (res.type_counts[0] == 18).all()
