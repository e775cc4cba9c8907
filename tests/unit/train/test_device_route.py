"""The training step's GPU route, run on the CPU through the same code.

On a GPU the step reads nothing back from the device (deepft._device.host_read_syncs): every
neighbor slot is kept instead of trimming by the largest neighbor count, the empty-slot term
takes its general formula, the rows are grouped by center type with counts from the host types,
and the sel-overflow check waits for the next report. Making host_read_syncs answer True on the
CPU runs exactly that route here; it must give the CPU route's numbers.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from support.cli import small_water_input
from support.frames import load_frames_torch
from support.models import set_random_stats, small_model_cfg
from support.training import build_trainer

from deepft import _device
from deepft.model import build_model
from deepft.model.descriptor.se_e2_a import _trim
from deepft.ops import neighbor


@pytest.fixture()
def gpu_route(monkeypatch):
    """Every value counts as device-resident: the step takes its no-host-read route."""
    monkeypatch.setattr(_device, "host_read_syncs", lambda value: True)


@pytest.fixture()
def fresh_overflow_log(monkeypatch):
    monkeypatch.setattr(neighbor, "_warned_overflow", set())


def predict(model, coord, box, atype):
    nlist = model.build_nlist(coord, box, atype.numpy())
    out = model(coord, box, atype, nlist=nlist)
    _, geo = model.descriptor.compute(coord, box, atype, nlist)
    return {k: v.detach() for k, v in out.items()}, geo.nlist.shape[-1]


@pytest.mark.parametrize("type_one_side", [True, False])
@pytest.mark.parametrize("angular", [False, True])
def test_model_gpu_route_equals_cpu_route(water_dir, monkeypatch, type_one_side, angular):
    """Energy, forces and virial of water frames: keeping every slot and the general padding
    formula change nothing but the summation length (1e-12)."""
    coord, box, atype = load_frames_torch(water_dir / "data_0", 2, ("O", "H"))
    model = build_model(small_model_cfg(("O", "H"), type_one_side=type_one_side,
                                        sel=[46, 92]))
    set_random_stats(model, seed=3, angular=angular)
    cpu, cpu_slots = predict(model, coord, box, atype)
    monkeypatch.setattr(_device, "host_read_syncs", lambda value: True)
    gpu, gpu_slots = predict(model, coord, box, atype)
    assert gpu_slots == 46 + 92 > cpu_slots  # the route really differs
    for key in ("energy", "force", "virial", "atom_energy"):
        np.testing.assert_allclose(gpu[key].numpy(), cpu[key].numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=key)


@pytest.mark.parametrize("sel", [[46, 92], [10, 20]])
def test_trim_keeps_every_used_slot(water_dir, sel):
    """keep[t] = min(max_neighbors[t], sel[t]) is the last slot any atom uses + 1 (the rule it
    replaced), and npad counts each atom's empty slots, with and without overflow."""
    coord, box, atype = load_frames_torch(water_dir / "data_1", 3, ("O", "H"))
    nl = neighbor.build_nlist(coord.numpy(), box.numpy(), atype.numpy(), 4.0, sel)
    trimmed = _trim(nl, sel, torch.device("cpu"))
    begin = np.concatenate([[0], np.cumsum(sel)])
    for t in range(len(sel)):
        block = nl.nlist[..., begin[t]:begin[t + 1]] >= 0
        used = np.nonzero(block.reshape(-1, sel[t]).any(axis=0))[0]
        assert trimmed.keep[t] == (used[-1] + 1 if used.size else 0)
        np.testing.assert_array_equal(trimmed.npad[..., t].numpy(),
                                      sel[t] - block.sum(axis=-1))
    assert trimmed.nlist.shape[-1] == sum(trimmed.keep)


def test_center_counts_come_from_the_host_types(water_dir):
    coord, box, atype = load_frames_torch(water_dir / "data_0", 2, ("O", "H"))
    model = build_model(small_model_cfg(("O", "H")))
    nl = model.build_nlist(coord, box, atype.numpy())
    assert nl.center_counts == tuple(2 * np.bincount(atype.numpy(), minlength=2))
    # types on the device: nothing known on the host
    assert model.build_nlist(coord, box, atype).center_counts == nl.center_counts
    virtual = atype.numpy().copy()
    virtual[0] = -1
    assert model.build_nlist(coord, box, virtual).center_counts is None


def small_dpa1_input(water_dir, numb_steps):
    cfg = small_water_input(water_dir, numb_steps=numb_steps)
    cfg["model"]["descriptor"] = {"type": "dpa1", "sel": 120, "rcut": 6.0, "rcut_smth": 0.5,
                                  "neuron": [4, 8], "axis_neuron": 4, "attn": 8,
                                  "attn_layer": 1, "tebd_dim": 4, "seed": 1}
    return cfg


def train_steps(raw, steps):
    trainer = build_trainer(raw)
    metrics = [trainer.train_step()[1] for _ in range(steps)]
    return trainer, metrics


@pytest.mark.parametrize("descriptor", ["se_e2_a", "dpa1"])
def test_training_gpu_route_equals_cpu_route(water_dir, tmp_path, monkeypatch, descriptor):
    """Four Adam steps: the same weights and metrics (1e-10) whichever route the step took;
    the metrics stay tensors until read."""
    monkeypatch.chdir(tmp_path)
    maker = small_water_input if descriptor == "se_e2_a" else small_dpa1_input
    raw = maker(water_dir, numb_steps=4)
    cpu, cpu_metrics = train_steps(raw, 4)
    monkeypatch.setattr(_device, "host_read_syncs", lambda value: True)
    gpu, gpu_metrics = train_steps(raw, 4)
    assert all(torch.is_tensor(v) for v in gpu_metrics[-1].values())
    for a, b in zip(cpu_metrics, gpu_metrics, strict=True):
        for key in a:
            assert float(b[key]) == pytest.approx(float(a[key]), rel=1e-10), key
    ref = dict(cpu.model.named_parameters())
    for name, p in gpu.model.named_parameters():
        np.testing.assert_allclose(p.detach().numpy(), ref[name].detach().numpy(),
                                   rtol=1e-10, atol=1e-13, err_msg=name)


def test_sel_overflow_is_reported_at_the_next_check(water_dir, tmp_path, monkeypatch,
                                                    gpu_route, fresh_overflow_log, caplog):
    monkeypatch.chdir(tmp_path)
    raw = small_water_input(water_dir, numb_steps=2)
    raw["model"]["descriptor"]["sel"] = [4, 8]
    trainer = build_trainer(raw, skip_stat=True)  # (the statistics would refuse this sel)
    monkeypatch.setattr(neighbor, "_warned_overflow", set())  # statistics logged it already
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="deepft.ops.neighbor"):
        trainer.train_step()
        trainer.train_step()
        assert "sel overflow" not in caplog.text  # deferred: no read per step
        trainer.check_neighbors()
    assert "sel overflow" in caplog.text and "sel = [4, 8]" in caplog.text
    most = [int(x) for x in caplog.text.split("up to [")[1].split("]")[0].split(",")]
    assert most[0] > 4 and most[1] > 8
    assert not trainer.neighbors_seen  # cleared after the check
