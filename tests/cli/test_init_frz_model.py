"""``deepft train --init-frz-model model.dft``: start from the weights of a frozen model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support.cli import run_deepft, small_water_input

from deepft.commands.train import frozen_start
from deepft.config import normalize
from deepft.errors import InputError
from deepft.infer import DeepPot


@pytest.fixture(scope="module")
def frozen(tmp_path_factory, water_dir):
    work = tmp_path_factory.mktemp("frz")
    cfg = small_water_input(water_dir, numb_steps=4, disp_freq=2, save_freq=4)
    (work / "input.json").write_text(json.dumps(cfg))
    run_deepft("train", "input.json", cwd=work)
    run_deepft("freeze", "-o", "model.dft", cwd=work)
    return work, cfg


def test_initial_model_is_the_frozen_model(frozen, water_dir):
    """The torch model built from the file predicts what the C++ core does (1e-10, fp64)."""
    work, raw = frozen
    cfg = normalize(json.loads(json.dumps(raw)))
    cfg["model"]["descriptor"]["sel"] = "auto"  # taken from the file
    model = frozen_start(cfg, str(work / "model.dft"), None)
    assert cfg["model"]["descriptor"]["sel"] == [46, 92]
    coord = np.load(water_dir / "data_3" / "set.000" / "coord.npy")[:2].astype(np.float64)
    box = np.load(water_dir / "data_3" / "set.000" / "box.npy")[:2].astype(np.float64)
    atype = np.loadtxt(water_dir / "data_3" / "type.raw", dtype=np.int64)
    e, f, v = DeepPot(work / "model.dft").eval(coord, box, atype)
    out = model(torch.from_numpy(coord.reshape(2, -1, 3)), torch.from_numpy(box),
                torch.from_numpy(atype))
    np.testing.assert_allclose(out["energy"].detach().numpy(), e, rtol=0, atol=1e-10)
    np.testing.assert_allclose(out["force"].detach().numpy(), f, rtol=0, atol=1e-10)


def test_training_continues_from_the_frozen_weights(frozen, water_dir, tmp_path):
    """One step at a negligible learning rate from the file, frozen again, predicts what the
    file does (the weights, statistics and bias came from it; a fresh start would not)."""
    work, cfg = frozen
    cfg = json.loads(json.dumps(cfg))
    cfg["training"].update(numb_steps=1, disp_freq=1, save_freq=1)
    cfg["learning_rate"].update(start_lr=1e-12, stop_lr=1e-12)
    (tmp_path / "input.json").write_text(json.dumps(cfg))
    run_deepft("train", "input.json", "--init-frz-model", str(work / "model.dft"),
               cwd=tmp_path)
    run_deepft("freeze", "-o", "again.dft", cwd=tmp_path)
    coord = np.load(water_dir / "data_3" / "set.000" / "coord.npy")[:1]
    box = np.load(water_dir / "data_3" / "set.000" / "box.npy")[:1]
    atype = np.loadtxt(water_dir / "data_3" / "type.raw", dtype=np.int64)
    e0, f0, _ = DeepPot(work / "model.dft").eval(coord, box, atype)
    e1, f1, _ = DeepPot(tmp_path / "again.dft").eval(coord, box, atype)
    np.testing.assert_allclose(e1, e0, rtol=1e-9)
    np.testing.assert_allclose(f1, f0, rtol=0, atol=1e-7)


@pytest.mark.parametrize("change, expect", [
    (lambda c: c["model"]["fitting_net"].update(neuron=[8]), "fitting_net/neuron"),
    (lambda c: c["model"]["descriptor"].update(rcut=5.0), "descriptor/rcut"),
    (lambda c: c["model"].update(type_map=["H", "O"]), "model/type_map"),
    (lambda c: c["model"]["descriptor"].update(sel=[40, 80]), "descriptor/sel"),
])
def test_a_model_section_that_differs_is_refused(frozen, change, expect):
    work, raw = frozen
    raw = json.loads(json.dumps(raw))
    change(raw)
    with pytest.raises(InputError, match=expect):
        frozen_start(normalize(raw), str(work / "model.dft"), None)


def test_the_input_decides_what_trains(frozen, tmp_path):
    """``trainable: false`` on the descriptor keeps the file's descriptor weights; the run can
    be restarted (the rebuilt model has the same trainable set as the one that was saved)."""
    from deepft.checkpoint import load_checkpoint
    from deepft.io.model_file import read_model_file

    work, cfg = frozen
    cfg = json.loads(json.dumps(cfg))
    cfg["model"]["descriptor"]["trainable"] = False
    cfg["training"].update(numb_steps=2, disp_freq=1, save_freq=1)
    (tmp_path / "input.json").write_text(json.dumps(cfg))
    run_deepft("train", "input.json", "--init-frz-model", str(work / "model.dft"),
               cwd=tmp_path)
    tensors = read_model_file(work / "model.dft").tensors
    state = load_checkpoint(tmp_path / "model.ckpt-2.pt")["model"]
    desc = [k for k in state if k.startswith("descriptor.embeddings")]
    assert desc and all(np.array_equal(state[k].numpy(), tensors[k]) for k in desc)
    cfg["training"]["numb_steps"] = 3
    (tmp_path / "input.json").write_text(json.dumps(cfg))
    run_deepft("train", "input.json", "--restart", "model.ckpt-2.pt", cwd=tmp_path)
    assert load_checkpoint(tmp_path / "model.ckpt-3.pt")["step"] == 3
