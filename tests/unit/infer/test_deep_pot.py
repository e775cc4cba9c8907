"""deepft.infer.DeepPot over the C++ core: API, batching, input errors, model-file errors,
invariances, kernel variants, the LAMMPS-style neighbor-list entry; the tests taking `model`
run on an se_e2_a and on a DPA-1 model."""

from __future__ import annotations

import os
import struct
import subprocess
import sys

import numpy as np
import pytest
from support.model_files import water_box, write_model
from support.models import write_dpa1_model
from support.tolerances import STRICT, TIGHT

from deepft import _core
from deepft.errors import InputError, ModelFileError
from deepft.infer import DeepPot


@pytest.fixture(scope="module", params=["se_e2_a", "dpa1"])
def model(tmp_path_factory, request):
    path = tmp_path_factory.mktemp("m") / "model.dft"
    if request.param == "dpa1":
        return write_dpa1_model(path, seed=2, rcut=4.0, rcut_smth=0.5, sel=60)
    return write_model(path)


@pytest.fixture(scope="module")
def frames():
    coord, cell, types = water_box()
    rng = np.random.default_rng(3)
    coords = np.stack([coord + rng.normal(0, 0.05, coord.shape) for _ in range(3)])
    boxes = np.stack([cell.reshape(9)] * 3)
    return coords, boxes, types


def test_properties(model):
    dp = DeepPot(model)
    assert dp.type_map == ["O", "H"] and dp.ntypes == 2
    assert dp.rcut == 4.0
    assert dp.sel == ([60] if dp.descriptor_type == "dpa1" else [24, 48])
    assert dp.branch == "Default" and dp.branches == ["Default"]
    assert dp.precision == "float64"
    assert "OpenBLAS" in _core.infer.blas_backend() or "plain loops" in _core.infer.blas_backend()


def test_shapes_and_units(model, frames):
    coords, boxes, types = frames
    e, f, v, ae, av = DeepPot(model).eval(coords, boxes, types, atomic=True)
    n = len(types)
    assert e.shape == (3,) and f.shape == (3, n, 3) and v.shape == (3, 9)
    assert ae.shape == (3, n) and av.shape == (3, n, 9)
    np.testing.assert_allclose(ae.sum(axis=1), e, rtol=0, atol=STRICT)
    np.testing.assert_allclose(av.sum(axis=1), v, rtol=0, atol=STRICT)
    np.testing.assert_allclose(f.sum(axis=1), 0.0, atol=STRICT)  # Newton's third law
    assert np.abs(f).max() > 1e-3  # not a trivial model


def test_batch_equals_single_frames(model, frames):
    coords, boxes, types = frames
    dp = DeepPot(model)
    batch = dp.eval(coords, boxes, types, atomic=True)
    for k in range(len(coords)):
        single = dp.eval(coords[k], boxes[k], types, atomic=True)  # [natoms, 3], [9]
        for b, s, name in zip(batch, single, ["e", "f", "v", "ae", "av"], strict=True):
            np.testing.assert_allclose(b[k], s[0], rtol=0, atol=STRICT, err_msg=name)


def test_translation_rotation_permutation(model, frames):
    coords, boxes, types = frames
    dp = DeepPot(model)
    e, f, v = dp.eval(coords[0], boxes[0], types)
    e2, f2, v2 = dp.eval(coords[0] + [0.3, -1.1, 2.0], boxes[0], types)
    np.testing.assert_allclose(e2, e, atol=STRICT)
    np.testing.assert_allclose(f2, f, atol=STRICT)
    q, _ = np.linalg.qr(np.random.default_rng(5).normal(size=(3, 3)))
    e3, f3, v3 = dp.eval(coords[0] @ q, (boxes[0].reshape(3, 3) @ q).reshape(9), types)
    np.testing.assert_allclose(e3, e, atol=1e-9)
    np.testing.assert_allclose(f3[0], f[0] @ q, atol=1e-9)
    np.testing.assert_allclose(v3[0].reshape(3, 3), q.T @ v[0].reshape(3, 3) @ q, atol=1e-9)
    perm = np.random.default_rng(6).permutation(len(types))
    e4, f4, _ = dp.eval(coords[0][perm], boxes[0], types[perm])
    np.testing.assert_allclose(e4, e, atol=1e-9)
    np.testing.assert_allclose(f4[0], f[0][perm], atol=STRICT)


def test_thread_count_does_not_change_results(model, frames):
    coords, boxes, types = frames
    dp = DeepPot(model)
    old = _core.infer.num_threads()
    try:
        _core.infer.set_num_threads(1)
        one = dp.eval(coords, boxes, types, atomic=True)
        _core.infer.set_num_threads(2)
        two = dp.eval(coords, boxes, types, atomic=True)
    finally:
        _core.infer.set_num_threads(old)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=TIGHT)


def test_packed_kernel_equals_openblas_layers(model, frames):
    coords, boxes, types = frames
    dp = DeepPot(model)
    packed = dp.eval(coords, boxes, types, atomic=True)
    _core.infer.set_packed_layers(False)
    try:
        blas = dp.eval(coords, boxes, types, atomic=True)
    finally:
        _core.infer.set_packed_layers(True)
    for a, b in zip(packed, blas, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=STRICT)


@pytest.mark.parametrize("kernel", ["v3", "base"])
def test_narrower_instruction_sets_agree(model, frames, kernel, tmp_path):
    """The AVX2 and SSE2 kernels (forced via DEEPFT_PACKED_KERNEL) give the same numbers."""
    coords, boxes, types = frames
    np.savez(tmp_path / "in.npz", coords=coords, boxes=boxes, types=types)
    script = ("import numpy as np, sys; from deepft.infer import DeepPot; "
              "d = np.load(sys.argv[2]); "
              "out = DeepPot(sys.argv[1]).eval(d['coords'], d['boxes'], d['types'], atomic=True); "
              "np.savez(sys.argv[3], *out)")
    env = {**os.environ, "DEEPFT_PACKED_KERNEL": kernel}
    subprocess.run([sys.executable, "-c", script, str(model), str(tmp_path / "in.npz"),
                    str(tmp_path / "out.npz")], check=True, env=env)
    got = np.load(tmp_path / "out.npz")
    want = DeepPot(model).eval(coords, boxes, types, atomic=True)
    for k, w in enumerate(want):
        np.testing.assert_allclose(got[f"arr_{k}"], w, rtol=0, atol=STRICT, err_msg=kernel)


def test_no_pbc_and_isolated_atoms(model):
    dp = DeepPot(model)
    coord = np.array([[0.0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0], [20.0, 0, 0]])
    e, f, v = dp.eval(coord, None, [0, 1, 1, 0])
    assert np.all(f[0, 3] == 0.0)  # nothing within rcut
    e_far, _, _ = dp.eval(coord[3:], None, [0])
    e_mol, f_mol, _ = dp.eval(coord[:3], None, [0, 1, 1])
    np.testing.assert_allclose(e, e_far + e_mol, atol=STRICT)
    np.testing.assert_allclose(f[0, :3], f_mol[0], atol=STRICT)
    # isolated system: the virial equals sum_i F_i (x) x_i
    np.testing.assert_allclose(v[0].reshape(3, 3), np.einsum("ia,ib->ab", f[0], coord),
                               atol=1e-9)


def test_input_errors(model, frames):
    coords, boxes, types = frames
    dp = DeepPot(model)
    with pytest.raises(InputError, match="atom 1 has type 2"):
        dp.eval(coords[0], boxes[0], [0, 2] + [1] * (len(types) - 2))
    with pytest.raises(InputError, match="do not hold"):
        dp.eval(coords[0][:-1], boxes[0], types)
    with pytest.raises(InputError, match="box"):
        dp.eval(coords, boxes[:2], types)
    with pytest.raises(InputError, match="1-d integer"):
        dp.eval(coords[0], boxes[0], np.zeros(len(types)))


def test_branches_and_unknown_branch(tmp_path, frames):
    coords, boxes, types = frames
    path = write_model(tmp_path / "multi.dft", branches=("water", "ice"))
    a, b = DeepPot(path, branch="water"), DeepPot(path, branch="ice")
    assert a.branches == ["water", "ice"] and DeepPot(path).branch == "water"
    ea = a.eval(coords, boxes, types)[0]
    eb = b.eval(coords, boxes, types)[0]
    assert np.abs(ea - eb).min() > 1e-3  # different fitting nets on one shared descriptor
    with pytest.raises(ModelFileError, match=r"no branch 'gas'; the model has \['water', 'ice'\]"):
        DeepPot(path, branch="gas")


def test_float32_model_runs_in_float32(tmp_path, frames):
    coords, boxes, types = frames
    p64 = write_model(tmp_path / "m64.dft")
    p32 = write_model(tmp_path / "m32.dft", precision="float32")
    d64, d32 = DeepPot(p64), DeepPot(p32)
    assert d32.precision == "float32"
    e64, f64, _ = d64.eval(coords, boxes, types)
    e32, f32, _ = d32.eval(coords, boxes, types)
    assert e32.dtype == np.float64  # outputs are doubles
    # same weights rounded to float32: agreement at float32 level, but not exact
    np.testing.assert_allclose(e32, e64, rtol=1e-6)
    np.testing.assert_allclose(f32, f64, atol=1e-4 * np.abs(f64).max())
    assert np.abs(f32 - f64).max() > 0


# ---- bad model files through the C++ reader ---------------------------------------------------

def test_cpp_reader_errors_name_the_file(model, tmp_path):
    data = model.read_bytes()
    cases = {
        "truncated_preamble.dft": data[:12],
        "truncated_header.dft": data[:200],
        "truncated_blob.dft": data[:-100],
        "wrong_magic.dft": b"NOTDEEPF" + data[8:],
        "newer.dft": data[:8] + struct.pack("<I", 7) + data[12:],
        "older.dft": data[:8] + struct.pack("<I", 0) + data[12:],
    }
    expect = {"truncated_preamble.dft": "truncated", "truncated_header.dft": "truncated",
              "truncated_blob.dft": "truncated", "wrong_magic.dft": "bad magic",
              "newer.dft": "version 7 is newer", "older.dft": "version 0 is older"}
    for name, blob in cases.items():
        path = tmp_path / name
        path.write_bytes(blob)
        with pytest.raises(ModelFileError) as err:
            DeepPot(path)
        assert str(path) in str(err.value) and expect[name] in str(err.value), str(err.value)
        assert err.value.hint
    with pytest.raises(ModelFileError, match="missing.dft: cannot open"):
        DeepPot(tmp_path / "missing.dft")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX named pipes")
def test_model_read_from_a_pipe(model, frames, tmp_path):
    """A regular file is read piece by piece; a pipe (no size to trust) is read whole: same
    model, same numbers."""
    fifo = tmp_path / "model.fifo"
    os.mkfifo(fifo)
    # a separate process writes: the reader holds the GIL while it reads
    writer = subprocess.Popen(["sh", "-c", 'cat "$0" > "$1"', str(model), str(fifo)])
    try:
        piped = DeepPot(fifo)
    finally:
        assert writer.wait(timeout=60) == 0
    coords, boxes, types = frames
    direct = DeepPot(model).eval(coords, boxes, types)
    for a, b in zip(piped.eval(coords, boxes, types), direct, strict=True):
        np.testing.assert_array_equal(a, b)


def test_cpp_reader_checks_tensors(tmp_path):
    from deepft.io.model_file import read_model_file

    src = read_model_file(write_model(tmp_path / "m.dft"))
    header = {k: v for k, v in src.header.items() if k not in ("tensors", "blob_nbytes")}
    tensors = dict(src.tensors)
    del tensors["fitting.nets.1.layers.0.bias"]
    from deepft.io.model_file import write_model_file

    bad = write_model_file(tmp_path / "missing_tensor.dft", header, tensors)
    with pytest.raises(ModelFileError, match="missing_tensor.dft: tensor "
                                             "'fitting.nets.1.layers.0.bias' is missing"):
        DeepPot(bad)
    tensors = dict(src.tensors)
    tensors["descriptor.davg"] = np.zeros((3, 4))
    bad = write_model_file(tmp_path / "bad_shape.dft", header, tensors)
    with pytest.raises(ModelFileError, match=r"'descriptor.davg' has shape \[3, 4\], "
                                             r"expected \[2, 4\]"):
        DeepPot(bad)


def test_unicode_type_map_round_trips_through_cpp(tmp_path):
    path = write_model(tmp_path / "u.dft", type_map=("Öx", "水"))
    assert DeepPot(path).type_map == ["Öx", "水"]


# ---- LAMMPS-style entry -----------------------------------------------------------------------

def ghost_system(coord, cell, types, rcut):
    """Local atoms + periodic ghost copies within rcut of the box, full neighbor lists (by
    brute force) and the ghost -> owner mapping."""
    cell = np.asarray(cell).reshape(3, 3)
    pos, own, typ = [coord], [np.arange(len(coord))], [types]
    inv = np.linalg.inv(cell)
    for s in np.array(np.meshgrid(*[[-1, 0, 1]] * 3)).T.reshape(-1, 3):
        if not s.any():
            continue
        shifted = coord + s @ cell
        frac = shifted @ inv
        # keep copies within rcut of the cell (generous: distance in fractional units)
        heights = 1 / np.linalg.norm(inv, axis=0)
        margin = rcut / heights
        keep = np.all((frac > -margin) & (frac < 1 + margin), axis=1)
        pos.append(shifted[keep])
        own.append(np.arange(len(coord))[keep])
        typ.append(types[keep])
    pos, own, typ = np.concatenate(pos), np.concatenate(own), np.concatenate(typ)
    nloc = len(coord)
    d = np.linalg.norm(pos[None, :, :] - coord[:, None, :], axis=-1)
    neighbors = [np.nonzero((d[i] < rcut + 0.5) & (np.arange(len(pos)) != i))[0]
                 for i in range(nloc)]  # a skin of 0.5 Å, as LAMMPS lists have
    return pos, typ, own, neighbors


def test_neighbor_list_entry_matches_coordinate_entry(model):
    coord, cell, types = water_box()
    dp = DeepPot(model)
    e, f, v, ae, av = dp.eval(coord, cell.reshape(9), types, atomic=True)
    pos, typ, own, neighbors = ghost_system(coord, cell, types, dp.rcut)
    nloc = len(coord)
    folded = dp.eval_nlist(pos, typ, nloc, neighbors, mapping=own, atomic=True)
    np.testing.assert_allclose(folded["energy"], e, atol=STRICT)
    np.testing.assert_allclose(folded["force"], f, atol=STRICT)
    np.testing.assert_allclose(folded["virial"], v, atol=STRICT)
    np.testing.assert_allclose(folded["atom_energy"], ae, atol=STRICT)
    np.testing.assert_allclose(folded["atom_virial"], av, atol=STRICT)
    # without mapping: ghost rows come back separately (LAMMPS reverse communication)
    raw = dp.eval_nlist(pos, typ, nloc, neighbors, atomic=True)
    assert raw["force"].shape == (1, len(pos), 3)
    summed = np.zeros((nloc, 3))
    np.add.at(summed, own, raw["force"][0])
    np.testing.assert_allclose(summed, f[0], atol=STRICT)
    np.testing.assert_allclose(raw["virial"], v, atol=STRICT)


def test_neighbor_list_entry_errors(model):
    dp = DeepPot(model)
    coord = np.zeros((3, 3))
    with pytest.raises(InputError, match="mapping"):
        dp.eval_nlist(coord, [0, 1, 1], 2, [[1], [0]], mapping=[0, 1, 5])
    with pytest.raises(InputError):
        dp.eval_nlist(coord, [0, 1, 1], 2, [[1, 7], [0]])  # index beyond nall


def test_no_atoms(model):
    """An empty frame, and an MPI rank without local atoms (only ghosts), give zeros."""
    dp = DeepPot(model)
    e, f, v, ae, av = dp.eval(np.zeros((2, 0, 3)), np.tile(np.eye(3).reshape(1, 9) * 5, (2, 1)),
                              np.zeros(0, dtype=int), atomic=True)
    assert e.tolist() == [0.0, 0.0] and f.shape == (2, 0, 3) and not v.any()
    assert ae.shape == (2, 0) and av.shape == (2, 0, 9)
    out = dp.eval_nlist(np.ones((2, 3)), [0, 1], 0, [])
    assert out["energy"].tolist() == [0.0] and out["force"].shape == (1, 2, 3)
    assert not out["force"].any() and not out["virial"].any()


def test_sel_overflow_is_reported(tmp_path):
    """More neighbors than sel: the nearest are kept (as in DeePMD-kit) and max_neighbors says
    how many there were (per type; for DPA-1 one count over all types)."""
    coord, cell, types = water_box()
    for path, sel in ((write_model(tmp_path / "small_sel.dft", sel=(2, 3)), [2, 3]),
                      (write_dpa1_model(tmp_path / "small_sel_dpa1.dft", sel=4), [4])):
        out = DeepPot(path)._pot.compute(coord[None], types.astype(np.int32),
                                         cell.reshape(1, 9), False)
        assert out["max_neighbors"].shape == (len(sel),)
        assert (out["max_neighbors"] > sel).all(), path
        assert np.isfinite(out["energy"]).all()
