"""DeePMD-kit 3.2.0 models converted by deepft reproduce DeePMD-kit's own numbers.

The models (se_e2_a with type_one_side true and false, a two-branch se_e2_a multitask model,
DPA-1 and se_atten_v2) were trained for a few steps with DeePMD-kit 3.2.0 and evaluated by its
DeepPot (tests/unit/convert/data/make_deepmd_models.py). deepft reads their checkpoints and
frozen .pth files without DeePMD-kit; the torch model, the native core (DeepPot) and the ASE
calculator must give DeePMD-kit's energies, forces, virials and per-atom terms to 1e-10.
"""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import pytest
import torch
from support.deepmd_models import CASES, expected, frames, framesets, near_cutoff_atoms
from support.tolerances import STRICT

from deepft.checkpoint import load_checkpoint, load_trained_model
from deepft.commands.convert import convert_from_deepmd
from deepft.convert import deepft_checkpoint, read_deepmd
from deepft.errors import InputError, ModelFileError
from deepft.infer import DeepPot
from deepft.model.structure import branch_models

POINTS = [(case, fs) for case in CASES for fs in framesets(case)]
IDS = [f"{case}-{fs}" for case, fs in POINTS]


def assert_matches(case, frameset: str, got: dict[str, np.ndarray], what: str) -> None:
    """``got`` (DeePMD-kit's keys and shapes) equals DeePMD-kit's numbers to STRICT (relative
    to the largest value); per-atom forces of atoms next to rcut in clamped DPA-1: 1e-5."""
    want = expected(case, frameset)
    near = near_cutoff_atoms(case, frameset)
    for key, ref in want.items():
        value = np.asarray(got[key], dtype=np.float64).reshape(ref.shape)
        scale = max(1.0, np.abs(ref).max())
        if key == "force" and near.any():
            assert np.abs(value - ref)[near].max() <= 1e-5, f"{what} {case}: force near rcut"
            value, ref = value[~near], ref[~near]
        if key in ("virial", "atom_virial") and near.any():
            scale *= 1e5  # the near-rcut pair forces enter the virials
        err = np.abs(value - ref).max()
        assert err <= STRICT * scale, f"{what} {case} {frameset}: {key} off by {err:.2e}"


def torch_results(path, case, frameset: str, branch: str) -> dict[str, np.ndarray]:
    ckpt = load_checkpoint(path)
    model = branch_models(load_trained_model(ckpt, path).eval())[branch]
    coord, box, atype = frames(frameset, case.type_map)
    nf = len(coord)
    out = model(torch.as_tensor(coord), None if box is None else
                torch.as_tensor(box).reshape(nf, 3, 3),
                torch.as_tensor(atype)[None].expand(nf, -1), do_atomic_virial=True)
    return {k: v.detach().numpy() for k, v in out.items()}


@pytest.mark.parametrize("case, frameset", POINTS, ids=IDS)
@pytest.mark.parametrize("kind", ["checkpoint", "frozen"])
def test_torch_model_matches_deepmd_kit(case, frameset, kind):
    # a frozen .pth holds one branch, which is single-task after conversion
    path, branch = (case.checkpoint, case.branch) if kind == "checkpoint" else (case.frozen,
                                                                              "Default")
    assert_matches(case, frameset, torch_results(path, case, frameset, branch),
                   f"torch ({kind})")


@pytest.mark.parametrize("case, frameset", POINTS, ids=IDS)
def test_native_core_matches_deepmd_kit(case, frameset, tmp_path):
    model = convert_from_deepmd(case.checkpoint, tmp_path / "model.dft",
                                model_branch=None if case.branch == "Default" else case.branch)
    pot = DeepPot(model, branch=None if case.branch == "Default" else case.branch)
    coord, box, atype = frames(frameset, case.type_map)
    e, f, v, ae, av = pot.eval(coord, box, atype, atomic=True)
    assert_matches(case, frameset, {"energy": e, "force": f, "virial": v, "atom_energy": ae,
                                    "atom_virial": av}, "DeepPot")


def test_ase_calculator_matches_deepmd_kit(tmp_path):
    from ase import Atoms

    from deepft.calculator import DeepFT

    case = next(c for c in CASES if c.model == "dpa1")
    model = convert_from_deepmd(case.frozen, tmp_path / "dpa1.dft")
    coord, _, atype = frames("organic", case.type_map)
    want = expected(case, "organic")
    atoms = Atoms([case.type_map[t] for t in atype], positions=coord[1])
    atoms.calc = DeepFT(str(model))
    assert abs(atoms.get_potential_energy() - want["energy"][1]) <= STRICT * abs(
        want["energy"][1])
    np.testing.assert_allclose(atoms.get_forces(), want["force"][1], rtol=0, atol=STRICT)


@pytest.mark.parametrize("case", CASES[:2] + CASES[4:], ids=str)
def test_checkpoint_and_frozen_file_give_the_same_weights(case):
    a = deepft_checkpoint(read_deepmd(case.checkpoint))
    b = deepft_checkpoint(read_deepmd(case.frozen))
    assert a["config"] == b["config"]
    assert a["model"].keys() == b["model"].keys()
    for name in a["model"]:
        assert torch.equal(a["model"][name], b["model"][name]), name
    assert a["step"] == 8 and b["step"] == 0  # DeePMD-kit's step counter in the checkpoint


def test_multitask_branches_share_one_descriptor():
    ckpt = deepft_checkpoint(read_deepmd(CASES[2].checkpoint))
    assert ckpt["config"]["model"]["shared_links"] == {
        "descriptor": ["water/descriptor", "organic/descriptor"]}
    assert list(ckpt["config"]["model"]["model_dict"]) == ["water", "organic"]


def deepmd_checkpoint_with(tmp_path, edit) -> str:
    """The se_e2_a checkpoint with ``edit(model_params)`` applied, saved to tmp_path."""
    state = torch.load(CASES[0].checkpoint, weights_only=True)
    edit(state["model"]["_extra_state"]["model_params"])
    path = tmp_path / "edited.pt"
    torch.save(state, path)
    return str(path)


@pytest.mark.parametrize("edit, named", [
    (lambda p: p.update(pair_exclude_types=[[0, 1]]), "model/pair_exclude_types"),
    (lambda p: p["fitting_net"].update(numb_fparam=2), "fitting_net/numb_fparam"),
    (lambda p: p["fitting_net"].update(type="dipole"), "fitting_net/type"),
    (lambda p: p["descriptor"].update(type="se_e2_r"), "descriptor type 'se_e2_r'"),
    (lambda p: p.update(type="zbl"), "model/type"),
    (lambda p: p.update(spin={"use_spin": [True, False]}), "model/spin"),
    (lambda p: p["descriptor"].update(exclude_types=[[0, 1]]), "exclude_types"),
])
def test_what_deepft_cannot_represent_is_refused_by_name(tmp_path, edit, named):
    path = deepmd_checkpoint_with(tmp_path, edit)
    with pytest.raises(InputError, match=named.replace("[", r"\[")) as err:
        convert_from_deepmd(path, tmp_path / "out.pt")
    assert "edited.pt" in str(err.value)


def test_unknown_tensor_is_refused(tmp_path):
    state = torch.load(CASES[0].checkpoint, weights_only=True)
    state["model"]["model.Default.atomic_model.descriptor.sea.extra_weight"] = torch.ones(3)
    torch.save(state, tmp_path / "extra.pt")
    with pytest.raises(ModelFileError, match="extra_weight"):
        convert_from_deepmd(tmp_path / "extra.pt", tmp_path / "out.pt")


def rewritten_archive(tmp_path, replace) -> str:
    """The se_e2_a .pth with member names mapped through ``replace(name, bytes) -> bytes``."""
    out = tmp_path / "hostile.pth"
    with zipfile.ZipFile(CASES[0].frozen) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, replace(info.filename, src.read(info.filename)))
    return str(out)


class _Payload:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > pwned.txt",))


def test_torchscript_pickle_naming_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = pickle.dumps(_Payload(), protocol=2)
    path = rewritten_archive(tmp_path, lambda n, b: evil if n.endswith("/data.pkl") else b)
    with pytest.raises(ModelFileError, match=r"hostile\.pth.*os\.system|posix\.system"):
        read_deepmd(path)
    assert not (tmp_path / "pwned.txt").exists()


def test_torchscript_storage_shorter_than_declared_is_named(tmp_path):
    path = rewritten_archive(tmp_path, lambda n, b: b[:-8] if "/data/" in n and len(b) > 8
                             else b)
    with pytest.raises(ModelFileError, match=r"hostile\.pth.*storage"):
        read_deepmd(path)


def test_truncated_files_are_named(tmp_path):
    for src in (CASES[0].checkpoint, CASES[0].frozen):
        bad = tmp_path / f"cut{src.suffix}"
        bad.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
        with pytest.raises(ModelFileError, match=bad.name):
            read_deepmd(bad)


def test_tensor_view_past_its_storage_is_refused():
    from deepft.convert.torchscript import _rebuild_tensor

    with pytest.raises(pickle.UnpicklingError, match="reaches element"):
        _rebuild_tensor(torch.zeros(6), 2, (2, 3), (3, 1))
    assert _rebuild_tensor(torch.arange(6.0), 0, (2, 3), (3, 1)).sum() == 15


def test_output_suffix_and_branch_are_checked(tmp_path):
    with pytest.raises(InputError, match=r"\.pt .*or \.dft"):
        convert_from_deepmd(CASES[0].checkpoint, tmp_path / "model.json")
    with pytest.raises(InputError, match="--model-branch"):
        convert_from_deepmd(CASES[2].checkpoint, tmp_path / "m.pt", model_branch="water")


def test_written_checkpoint_loads_as_deepft_checkpoint(tmp_path):
    out = convert_from_deepmd(CASES[2].checkpoint, tmp_path / "multi.pt")
    state = torch.load(out, weights_only=True)
    assert state["format"] == "deepft-checkpoint"
    assert "converted_from" in state and "optimizer" not in state
    buf = io.BytesIO(out.read_bytes())
    assert torch.load(buf, weights_only=True)["step"] == 8


def test_compressed_model_converts_to_its_networks(tmp_path, caplog):
    """`dp compress` adds tables (compress_info/compress_data) next to the unchanged nets."""
    state = torch.load(CASES[0].checkpoint, weights_only=True)
    prefix = "model.Default.atomic_model.descriptor.sea."
    for t in range(2):
        state["model"][f"{prefix}compress_info.{t}"] = torch.arange(6.0)
        state["model"][f"{prefix}compress_data.{t}"] = torch.ones(40, 72)
    torch.save(state, tmp_path / "compressed.pt")
    with caplog.at_level("INFO", logger="deepft.convert"):
        converted = deepft_checkpoint(read_deepmd(tmp_path / "compressed.pt"))
    assert "compressed DeePMD-kit model" in caplog.text
    plain = deepft_checkpoint(read_deepmd(CASES[0].checkpoint))
    assert all(torch.equal(plain["model"][k], v) for k, v in converted["model"].items())


def test_recorded_min_nbor_dist_lets_compress_run_without_data(tmp_path):
    """DeePMD-kit records its training data's shortest pair distance; the converted model.dft
    keeps it, so `deepft compress` needs no -t input.json (as `dp --pt compress`)."""
    from deepft.commands.compress import compress
    from deepft.io import read_model_file

    want = float(torch.load(CASES[0].checkpoint, weights_only=True)["model"][
        "model.Default.min_nbor_dist"])
    model = convert_from_deepmd(CASES[0].checkpoint, tmp_path / "model.dft")
    assert read_model_file(model).header["branches"]["Default"]["min_nbor_dist"] == want
    out = compress(model, tmp_path / "compressed.dft")
    branch = read_model_file(out).header["branches"]["Default"]
    assert branch["compression"]["min_nbor_dist"] == want
    coord, box, atype = frames("water", CASES[0].type_map)
    e0, f0, _ = DeepPot(model).eval(coord, box, atype)
    e1, f1, _ = DeepPot(out).eval(coord, box, atype)
    assert np.abs(f1 - f0).max() <= 1e-6 and np.abs(e1 - e0).max() / 192 <= 1e-6
