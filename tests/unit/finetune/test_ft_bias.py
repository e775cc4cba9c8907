"""Energy-bias refit before step 0, and type-map changes (new elements, slimming, reordering)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from support.finetune_inputs import finetune, frames_of, organic_systems, single_input
from support.systems import shifted_copy
from support.tolerances import TIGHT
from support.training import load_model

SHIFT = {"C": 1.5, "H": -0.25, "O": 3.0}  # eV per atom of each element


@pytest.fixture(scope="module")
def shifted_organic(tmp_path_factory, organic_dir):
    root = tmp_path_factory.mktemp("shifted")
    return [shifted_copy(s, root / s.name, SHIFT) for s in organic_systems(organic_dir)]


def organic_input(tmp_path, systems, type_map=("C", "H", "O"), **training):
    return single_input(tmp_path, list(type_map), systems, **training)


def same_params(a, b) -> bool:
    pa, pb = list(a.parameters()), list(b.parameters())
    return len(pa) == len(pb) and all(torch.equal(x, y) for x, y in zip(pa, pb, strict=True))


def bias(model) -> np.ndarray:
    return model.fitting.bias_atom_e.detach().numpy().copy()


def test_change_by_statistic_recovers_a_per_element_shift(tmp_path, organic_dir, organic_ckpt,
                                                          shifted_organic, caplog):
    """Fine-tuning on copies whose energies are shifted by sum_i s[t_i] moves the bias by s."""
    plain, _, _, _ = finetune(organic_input(tmp_path, organic_systems(organic_dir)),
                              organic_ckpt)
    with caplog.at_level(logging.INFO, logger="deepft"):
        moved, report, _, _ = finetune(organic_input(tmp_path, shifted_organic), organic_ckpt)
    np.testing.assert_allclose(bias(moved) - bias(plain), [SHIFT["C"], SHIFT["H"], SHIFT["O"]],
                               rtol=0, atol=1e-6)
    change = report.bias_changes[0]
    assert change.mode == "change-by-statistic"
    np.testing.assert_array_equal(change.old, bias(load_model(organic_ckpt)))
    text = caplog.text
    assert "RMSE of energy per atom after linear regression is:" in text
    assert "Change output bias of ['C', 'H', 'O'] from [" in text
    assert "old bias (eV)" in text and "new bias (eV)" in text


@pytest.mark.parametrize("how", ["set-by-statistic", "RANDOM"])
def test_set_by_statistic_is_the_least_squares_fit(tmp_path, shifted_organic, organic_ckpt,
                                                   how):
    from deepft.train.statistics import stat_samples

    raw = organic_input(tmp_path, shifted_organic)
    if how == "set-by-statistic":
        raw["training"]["finetune"] = {"bias_mode": "set-by-statistic"}
        model, _, cfg, tasks = finetune(raw, organic_ckpt)
    else:
        model, _, cfg, tasks = finetune(raw, organic_ckpt, model_branch="RANDOM")
    counts, energy = frames_of(stat_samples(cfg, tasks)["Default"])
    expected = np.linalg.lstsq(counts, energy, rcond=None)[0]
    np.testing.assert_allclose(bias(model), expected, rtol=TIGHT, atol=1e-9)


def test_new_element_gets_fresh_statistics_and_bias(tmp_path, organic_dir, water_ckpt, caplog):
    """[O, H] water model fine-tuned on organic data with [O, H, C]: O/H keep weights,
    statistics and sel; C gets statistics from the new data and a least-squares bias."""
    from deepft.train.statistics import stat_samples

    pre = load_model(water_ckpt)
    with caplog.at_level(logging.INFO, logger="deepft"):
        model, report, cfg, tasks = finetune(
            organic_input(tmp_path, organic_systems(organic_dir), ("O", "H", "C")), water_ckpt)
    desc, pdesc = model.descriptor, pre.descriptor
    torch.testing.assert_close(desc.davg[:2], pdesc.davg, rtol=0, atol=0)
    torch.testing.assert_close(desc.dstd[:2], pdesc.dstd, rtol=0, atol=0)
    assert desc.sel[:2] == pdesc.sel and cfg["model"]["descriptor"]["sel"] == desc.sel
    samples = stat_samples(cfg, tasks)["Default"]
    fresh = desc.compute_input_stats(samples)
    np.testing.assert_allclose(desc.davg[2].numpy(), fresh["davg"][2], rtol=TIGHT)
    np.testing.assert_allclose(desc.dstd[2].numpy(), fresh["dstd"][2], rtol=TIGHT)
    assert desc.types_without_stats == []
    for t in range(2):  # embedding nets of known neighbor types and fitting nets of known types
        assert same_params(desc.embeddings[t], pdesc.embeddings[t])
        assert same_params(model.fitting.nets[t], pre.fitting.nets[t])
    change = report.bias_changes[0]
    assert change.placeholders == [2] and change.old[2] == 0.0
    assert "(new)" in change.table()
    # the C bias is part of the least-squares solution of label - prediction
    counts, energy = frames_of(samples)
    from deepft.train.bias import predict_energy

    residual = energy - predict_energy(model, samples)
    np.testing.assert_allclose(np.linalg.lstsq(counts, residual, rcond=None)[0], 0, atol=1e-6)
    assert "statistics of new elements ['C']" in caplog.text


@pytest.mark.parametrize("type_map", [["O", "H"], ["H", "O"]])
def test_reordered_or_slimmer_type_map_keeps_known_elements(tmp_path, water_dir,
                                                            multitask_ckpt, type_map):
    """[O, H, C] pretrained -> [O, H] (C dropped) or [H, O] (dropped and reordered)."""
    pre = load_model(multitask_ckpt).branches["water"]
    raw = single_input(tmp_path, type_map, [water_dir / "data_1"], batch_size=1)
    model, _, cfg, _ = finetune(raw, multitask_ckpt, model_branch="water")
    old = pre.type_map
    assert model.type_map == type_map and model.descriptor.ntypes == 2
    for t, name in enumerate(type_map):
        o = old.index(name)
        torch.testing.assert_close(model.descriptor.davg[t], pre.descriptor.davg[o], rtol=0,
                                   atol=0)
        assert model.descriptor.sel[t] == pre.descriptor.sel[o]
        assert same_params(model.fitting.nets[t], pre.fitting.nets[o])
        assert same_params(model.descriptor.embeddings[t], pre.descriptor.embeddings[o])
    assert cfg["model"]["descriptor"]["sel"] == model.descriptor.sel
