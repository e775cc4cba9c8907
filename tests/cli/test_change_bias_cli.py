"""``deepft change-bias`` on checkpoints and frozen models: refit, set, shift recovery, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.cli import copy_run, run_deepft
from support.systems import shifted_copy
from support.tolerances import TIGHT

SHIFT = {"O": 2.0, "H": -0.5, "C": 0.75}  # eV per atom of each element
TYPE_MAP = ["O", "H", "C"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, multitask_example_run, data_root):
    """A copy of the multitask example run (water + organic, model.ckpt.pt and multi.dft) with
    shifted copies of the organic systems in shifted/."""
    work = copy_run(multitask_example_run, tmp_path_factory.mktemp("change_bias") / "run")
    for src in sorted((data_root / "organic_nopbc").iterdir()):
        shifted_copy(src, work / "shifted" / src.name, SHIFT)
    return work


def bias_of(path, branch):
    from deepft.checkpoint import load_checkpoint
    from deepft.io.model_file import read_model_file

    if str(path).endswith(".dft"):
        frozen = read_model_file(path)
        return np.array(frozen.tensors[frozen.branch(branch)["fitting_prefixes"][0]
                                       + "bias_atom_e"])
    return load_checkpoint(path)["model"][f"branches.{branch}.fitting.bias_atom_e"].numpy()


@pytest.mark.parametrize("model", ["model.ckpt.pt", "multi.dft"])
def test_change_by_statistic_recovers_a_shift(run_dir, data_root, tmp_path, model):
    """Refit on the original frames, then on the same frames shifted by sum s[t]: the second
    refit moves the bias by exactly s."""
    organic = str(data_root / "organic_nopbc")
    suffix = model.rsplit(".", 1)[1]
    one, two = tmp_path / f"one.{suffix}", tmp_path / f"two.{suffix}"
    run_deepft("change-bias", model, "-s", organic, "-n", "20", "--model-branch", "organic",
               "-o", str(one), cwd=run_dir)
    out = run_deepft("change-bias", str(one), "-s", "shifted", "-n", "20", "--model-branch",
                     "organic", "-o", str(two), cwd=run_dir).stdout
    np.testing.assert_allclose(bias_of(two, "organic") - bias_of(one, "organic"),
                               [SHIFT[t] for t in TYPE_MAP], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(bias_of(two, "water"), bias_of(run_dir / model, "water"))
    assert "Change output bias of ['O', 'H', 'C'] from [" in out
    assert "RMSE of energy per atom after linear regression is:" in out


def test_set_mode_is_least_squares_and_keeps_everything_else(run_dir, water_dir, tmp_path):
    from deepft.checkpoint import load_checkpoint
    from deepft.data import System, count_matrix, sample_stat_frames

    listing = tmp_path / "systems.txt"
    listing.write_text(f"{water_dir / 'data_0'}\n{water_dir / 'data_2'}\n")
    run_deepft("change-bias", "model.ckpt.pt", "-f", str(listing), "-n", "5", "-m", "set",
               "--model-branch", "water", "-o", str(tmp_path / "set.pt"), cwd=run_dir)
    systems = [System(water_dir / d, TYPE_MAP) for d in ("data_0", "data_2")]
    frames = sample_stat_frames(systems, 5, 1, seed=0)
    energy = np.concatenate([f["energy"] for f in frames])
    fit = np.linalg.lstsq(count_matrix(frames).astype(float), energy, rcond=None)[0]
    old, new = load_checkpoint(run_dir / "model.ckpt.pt"), load_checkpoint(tmp_path / "set.pt")
    fit[2] = old["model"]["branches.water.fitting.bias_atom_e"][2]  # no C atom: kept
    np.testing.assert_allclose(new["model"]["branches.water.fitting.bias_atom_e"].numpy(), fit,
                               rtol=TIGHT)
    assert new["step"] == old["step"] and new["optimizer"].keys() == old["optimizer"].keys()
    for key, value in old["model"].items():
        if key != "branches.water.fitting.bias_atom_e":
            assert torch.equal(new["model"][key], value), key


def test_user_values_and_default_output_name(run_dir):
    from deepft.infer import DeepPot

    (run_dir / "copy.dft").write_bytes((run_dir / "multi.dft").read_bytes())
    values = ["-90.5", "-180.25", "-1000.0"]
    run_deepft("change-bias", "copy.dft", "-b", *values, "--model-branch", "water",
               cwd=run_dir)
    out = run_dir / "copy_updated.dft"
    np.testing.assert_array_equal(bias_of(out, "water"), [float(v) for v in values])
    # the C++ core sees the new bias: energies move by sum over atoms of the bias change
    old, new = DeepPot(run_dir / "multi.dft", branch="water"), DeepPot(out, branch="water")
    pos = np.array([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])
    e_old = old.eval(pos, None, [0, 1, 1])[0]
    e_new = new.eval(pos, None, [0, 1, 1])[0]
    delta = bias_of(out, "water") - bias_of(run_dir / "multi.dft", "water")
    np.testing.assert_allclose(e_new - e_old, delta[0] + 2 * delta[1], rtol=TIGHT)


@pytest.mark.parametrize("case", ["no_branch", "bad_branch", "bad_count"])
def test_change_bias_errors(run_dir, water_dir, case):
    args = {"no_branch": ["-s", str(water_dir / "data_0")],
            "bad_branch": ["-s", str(water_dir / "data_0"), "--model-branch", "ice"],
            "bad_count": ["-b", "1.0", "2.0", "--model-branch", "water"]}[case]
    proc = run_deepft("change-bias", "model.ckpt.pt", *args, cwd=run_dir, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    text = {"no_branch": "--model-branch is needed; its branches are ['water', 'organic']",
            "bad_branch": "has no such branch; its branches are ['water', 'organic']",
            "bad_count": "2 bias values given for the 3 types of type_map ['O', 'H', 'C']"}
    assert text[case] in proc.stderr, proc.stderr
