"""DataSampler: batch-size rules, system probabilities, epochs, determinism, exact restart."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from deepft.data import DataSampler, System, expand_systems
from deepft.data.sampler import resolve_batch_sizes, system_probabilities
from deepft.errors import InputError


@pytest.fixture(scope="module")
def water(water_dir):
    return [System(p, ["O", "H"]) for p in expand_systems(str(water_dir))]


@pytest.fixture(scope="module")
def organic(organic_dir):
    return [System(p, ["H", "C", "O"]) for p in expand_systems(str(organic_dir))]


@pytest.mark.parametrize("rule, natoms, expected", [
    ("auto", [192, 7, 10, 8, 32, 33], [1, 5, 4, 4, 1, 1]),
    ("auto:64", [192, 7, 10, 8, 32, 33], [1, 10, 7, 8, 2, 2]),
    ("max:32", [192, 7, 10, 8, 32, 33], [1, 4, 3, 4, 1, 1]),
    (3, [192, 7], [3, 3]),
    ([2, 5], [192, 7], [2, 5]),
])
def test_batch_size_rules(rule, natoms, expected):
    sizes = resolve_batch_sizes(rule, natoms)
    assert sizes == expected
    if isinstance(rule, str) and rule.startswith("auto"):
        limit = int(rule.split(":")[1]) if ":" in rule else 32
        for b, n in zip(sizes, natoms, strict=True):  # smallest b with b * natoms >= limit
            assert b * n >= limit and (b == 1 or (b - 1) * n < limit), (rule, n)


@pytest.mark.parametrize("bad", ["auto:x", "mixed:4", "max", "auto:0", 0, [1], True, 2.5])
def test_batch_size_invalid(bad):
    with pytest.raises(InputError):
        resolve_batch_sizes(bad, [3, 4])


def test_sampler_batch_sizes_on_shared_data(water, organic):
    sampler = DataSampler(water + organic, "auto")
    assert sampler.batch_sizes == [1, 1, 1, 1, 5, 4, 4]
    assert sampler.nbatches == [80, 160, 80, 80, 313, 122, 4]  # ceil(nframes / b)
    assert sampler.total_frames == 80 + 160 + 80 + 80 + 1562 + 485 + 15


def test_probabilities():
    nb = [10, 30, 60]
    np.testing.assert_allclose(system_probabilities(nb), [0.1, 0.3, 0.6])
    np.testing.assert_allclose(system_probabilities(nb, auto_prob="prob_uniform"), [1 / 3] * 3)
    # blocks: [0,1) weight 0.5, [1,3) weight 0.5 shared 30:60
    np.testing.assert_allclose(system_probabilities(nb, auto_prob="prob_sys_size;0:1:0.5;1:3:0.5"),
                               [0.5, 0.5 / 3, 1.0 / 3])
    np.testing.assert_allclose(system_probabilities(nb, auto_prob="prob_sys_size;0:1:1;1:3:3"),
                               [0.25, 0.25, 0.5])
    np.testing.assert_allclose(system_probabilities(nb, sys_probs=[0.2, 0.3, 0.5]), [0.2, 0.3, 0.5])
    # negative = unassigned: the remaining 0.6 shared by nbatch 30:60
    np.testing.assert_allclose(system_probabilities(nb, sys_probs=[0.4, -1, -1]),
                               [0.4, 0.2, 0.4])
    for bad in ({"sys_probs": [0.5, 0.5]}, {"sys_probs": [0.9, 0.9, -1]},
                {"sys_probs": [0.1, 0.1, 0.1]}, {"auto_prob": "prob_foo"},
                {"auto_prob": "prob_sys_size;0:5:1"}, {"auto_prob": "prob_sys_size;0-1-1"}):
        with pytest.raises(InputError):
            system_probabilities(nb, **bad)


def test_sampling_frequencies_follow_frame_counts(water):
    sampler = DataSampler(water, 1, seed=3)
    ndraw = 12000
    counts = np.bincount([sampler.next_batch()["system_index"] for _ in range(ndraw)],
                         minlength=4)
    expected = np.array([80, 160, 80, 80]) / 400
    # binomial standard deviation at most sqrt(0.25 / ndraw) = 0.0046; allow 4 sigma
    np.testing.assert_allclose(counts / ndraw, expected, atol=0.018)


def test_sampling_frequencies_follow_nbatch(organic):
    sampler = DataSampler(organic, "auto", seed=4)
    ndraw = 8000
    counts = np.bincount([sampler.next_batch()["system_index"] for _ in range(ndraw)],
                         minlength=3)
    expected = np.array([313, 122, 4]) / 439
    np.testing.assert_allclose(counts / ndraw, expected, atol=0.02)


def test_epochs_cover_every_frame_and_reshuffle(organic):
    small = organic[2]  # C4H3O1: 15 frames, auto batch 4 -> 4,4,4,3
    sampler = DataSampler([small], "auto", seed=7)
    epochs = []
    for _ in range(3):
        batches = [sampler.next_batch() for _ in range(4)]
        assert [len(b["frame_index"]) for b in batches] == [4, 4, 4, 3]
        frames = np.concatenate([b["frame_index"] for b in batches])
        assert sorted(frames.tolist()) == list(range(15))
        epochs.append(frames)
        b = batches[0]
        np.testing.assert_array_equal(b["coord"], small.get_frames(b["frame_index"])["coord"])
        assert b["system_path"] == small.path and b["natoms"] == 8
        np.testing.assert_array_equal(b["atype"], small.atype)
    assert not np.array_equal(epochs[0], epochs[1])
    ordered = DataSampler([small], 4, shuffle=False)
    np.testing.assert_array_equal(ordered.next_batch()["frame_index"], [0, 1, 2, 3])


def _trace(sampler, n):
    return [(b["system_index"], tuple(b["frame_index"].tolist()))
            for b in (sampler.next_batch() for _ in range(n))]


def test_deterministic_for_seed(water, organic):
    systems = water + organic
    a = _trace(DataSampler(systems, "auto", seed=11), 200)
    b = _trace(DataSampler(systems, "auto", seed=11), 200)
    c = _trace(DataSampler(systems, "auto", seed=12), 200)
    assert a == b and a != c


@pytest.mark.parametrize("codec", ["none", "json", "pickle"])
@pytest.mark.parametrize("which", ["all", "small"])
def test_exact_restart_from_state_dict(water, organic, codec, which):
    # "small": batch 4 over C4H3O1 + data_0 (4 and 20 batches per epoch), so both sides of the
    # restart cross many epochs and reshuffle
    systems = water + organic if which == "all" else [organic[2], water[0]]
    ref = DataSampler(systems, "auto" if which == "all" else 4, seed=5)
    _trace(ref, 137)
    state = ref.state_dict()
    if codec == "json":
        state = json.loads(json.dumps(state))
    elif codec == "pickle":
        state = pickle.loads(pickle.dumps(state))
    expected = _trace(ref, 300)
    restarted = DataSampler(systems, ref.batch_sizes, seed=5)
    restarted.load_state_dict(state)
    assert _trace(restarted, 300) == expected
    # even a sampler built with another seed continues identically
    other = DataSampler(systems, ref.batch_sizes, seed=99)
    other.load_state_dict(state)
    assert _trace(other, 300) == expected


def test_state_for_other_data_is_refused(water, organic):
    state = DataSampler(water, 1).state_dict()
    with pytest.raises(InputError, match="frames"):
        DataSampler(organic[:1] + water[1:], 1).load_state_dict(state)


def test_iter_all_visits_every_frame_once_in_order(water, organic):
    sampler = DataSampler(water + organic, "auto", seed=1)
    before = sampler.state_dict()
    seen = {}
    for batch in sampler.iter_all(64):
        seen.setdefault(batch["system_index"], []).extend(batch["frame_index"].tolist())
        assert len(batch["frame_index"]) <= 64
    assert [len(seen[i]) for i in range(7)] == [s.nframes for s in water + organic]
    for i, frames in seen.items():
        assert frames == list(range(len(frames))), i
    assert sum(len(f) for f in seen.values()) == sampler.total_frames
    assert sampler.state_dict() == before  # untouched random state
    sizes = [len(b["frame_index"]) for b in sampler.iter_all() if b["system_index"] == 4]
    assert sizes == [5] * 312 + [2]
