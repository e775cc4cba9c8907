"""Learning-rate schedule and ener loss against DeePMD-kit's formulas
(docs/deepmd-compatibility.md)."""

import math

import pytest
import torch

from deepft.train.loss import EnergyLoss, metric_values
from deepft.train.lr import ExpDecayLR


def test_exp_lr_reaches_stop_lr_at_numb_steps():
    lr = ExpDecayLR(1e-3, 1e-5, decay_steps=100, numb_steps=1000)
    assert lr.value(0) == pytest.approx(1e-3, rel=1e-15)
    assert lr.value(99) == pytest.approx(1e-3, rel=1e-15)
    assert lr.value(100) == pytest.approx(1e-3 * (1e-2) ** 0.1, rel=1e-12)
    assert lr.value(1000) == pytest.approx(1e-5, rel=1e-12)


def test_exp_lr_given_decay_rate_wins():
    lr = ExpDecayLR(1e-3, 1e-8, decay_steps=10, numb_steps=1000, decay_rate=0.5)
    assert lr.value(25) == pytest.approx(1e-3 * 0.25, rel=1e-15)


def test_exp_lr_shortens_decay_steps_longer_than_run():
    lr = ExpDecayLR(1e-3, 1e-5, decay_steps=5000, numb_steps=1000)
    assert lr.decay_steps == 11  # DeePMD-kit: numb_steps // 100 + 1
    assert lr.value(lr.decay_steps) < 1e-3


def make_pred_label(natoms=5, nframes=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    pred = {"energy": r(nframes), "force": r(nframes, natoms, 3), "virial": r(nframes, 9),
            "atom_energy": r(nframes, natoms)}
    label = {"energy": r(nframes), "force": r(nframes, natoms, 3), "virial": r(nframes, 9),
             "atom_ener": r(nframes, natoms), "atom_pref": torch.ones(nframes, natoms,
                                                                        dtype=torch.float64),
             "find_energy": 1.0, "find_force": 1.0, "find_virial": 1.0, "find_atom_ener": 0.0,
             "find_atom_pref": 0.0}
    return pred, label


def test_ener_loss_formula_and_prefactor_interpolation():
    cfg = {"start_pref_e": 0.02, "limit_pref_e": 1.0, "start_pref_f": 1000.0,
           "limit_pref_f": 1.0, "start_pref_v": 0.5, "limit_pref_v": 0.1}
    loss_fn = EnergyLoss(cfg, start_lr=1e-3)
    pred, label = make_pred_label()
    lr = 1e-4
    loss, metrics = loss_fn(pred, label, lr, step=10)
    assert all(torch.is_tensor(v) and v.dtype == torch.float64 for v in metrics.values())
    metrics = metric_values(metrics)  # one read of all of them
    assert all(type(v) is float for v in metrics.values())
    coef = lr / 1e-3
    pe = 1.0 + (0.02 - 1.0) * coef
    pf = 1.0 + (1000.0 - 1.0) * coef
    pv = 0.1 + (0.5 - 0.1) * coef
    n = 5
    de = torch.mean((pred["energy"] - label["energy"]) ** 2).item()
    df = torch.mean((pred["force"] - label["force"]) ** 2).item()
    dv = torch.mean((pred["virial"] - label["virial"]) ** 2).item()
    expected = pe * de / n + pf * df + pv * dv / n
    assert loss.item() == pytest.approx(expected, rel=1e-13)
    assert metrics["rmse_e"] == pytest.approx(math.sqrt(de) / n, rel=1e-13)
    assert metrics["rmse_f"] == pytest.approx(math.sqrt(df), rel=1e-13)
    assert metrics["rmse_v"] == pytest.approx(math.sqrt(dv) / n, rel=1e-13)
    assert metrics["rmse"] == pytest.approx(math.sqrt(expected), rel=1e-13)


def test_absent_labels_do_not_contribute():
    cfg = {"start_pref_e": 1.0, "limit_pref_e": 1.0, "start_pref_f": 1.0, "limit_pref_f": 1.0,
           "start_pref_v": 1.0, "limit_pref_v": 1.0}
    pred, label = make_pred_label()
    label["find_virial"] = 0.0
    loss_with, _ = EnergyLoss(cfg, 1e-3)(pred, label, 1e-3, 0)
    cfg_nov = dict(cfg, start_pref_v=0.0, limit_pref_v=0.0)
    loss_without, metrics = EnergyLoss(cfg_nov, 1e-3)(pred, label, 1e-3, 0)
    assert loss_with.item() == pytest.approx(loss_without.item(), rel=1e-14)
    assert "rmse_v" not in metrics


def test_stage_splits_override_e_and_f_prefactors():
    cfg = {"start_pref_e": 0.02, "limit_pref_e": 1.0, "start_pref_f": 1000.0,
           "limit_pref_f": 1.0, "stage_splits": [{"start_step": 50, "pref_e": 10.0,
                                                  "pref_f": 0.5}]}
    loss_fn = EnergyLoss(cfg, 1e-3)
    assert loss_fn.prefactors(1e-3, 49)["f"] == pytest.approx(1000.0)
    p = loss_fn.prefactors(1e-3, 50)
    assert (p["e"], p["f"]) == (10.0, 0.5)


def test_warmup_then_decay_shifted():
    from deepft.train.lr import build_lr

    lr = build_lr({"type": "exp", "start_lr": 1e-3, "stop_lr": 1e-5, "decay_steps": 10},
                  numb_steps=110, warmup_steps=10)
    assert lr.value(0) == 0.0
    assert lr.value(5) == pytest.approx(5e-4)
    assert lr.value(10) == pytest.approx(1e-3)
    assert lr.value(110) == pytest.approx(1e-5, rel=1e-12)
