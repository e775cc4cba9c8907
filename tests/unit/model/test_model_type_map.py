"""Type-map change: known elements keep weights/statistics/bias bit-exact; new ones are fresh."""

from __future__ import annotations

import pytest
import torch
from support.models import set_random_stats, small_model_cfg

from deepft.model import build_model, build_multitask_model, change_type_map


def params_of(model, name):
    """Every tensor that belongs to element ``name`` (as embedding neighbor type, fitting type)."""
    t = model.type_map.index(name)
    d = model.descriptor
    out = {"davg": d.davg[t].clone(), "dstd": d.dstd[t].clone(),
           "bias": model.fitting.bias_atom_e[t].clone()}
    out.update({f"fit.{k}": v.clone() for k, v in model.fitting.nets[t].state_dict().items()})
    if d.type_one_side:
        out.update({f"emb.{k}": v.clone() for k, v in d.embeddings[t].state_dict().items()})
    return out


def pair_net(model, a, b):
    d = model.descriptor
    return d.embeddings[d.net_index(model.type_map.index(a), model.type_map.index(b))]


@pytest.mark.parametrize("new_map, sel", [
    (["H", "O"], None),                      # reorder
    (["H"], None),                           # subset
    (["C", "O", "H", "N"], [8, 20, 40, 4]),  # superset, new elements first and last
])
@pytest.mark.parametrize("type_one_side", [True, False])
def test_known_elements_bit_exact(new_map, sel, type_one_side):
    model = set_random_stats(build_model(small_model_cfg(("O", "H"),
                                                         type_one_side=type_one_side)))
    before = {n: params_of(model, n) for n in ("O", "H")}
    pairs = {(a, b): {k: v.clone() for k, v in pair_net(model, a, b).state_dict().items()}
             for a in ("O", "H") for b in ("O", "H")}
    fresh = model.change_type_map(new_map, sel=sel)
    new_types = [t for t, n in enumerate(new_map) if n not in ("O", "H")]
    assert fresh == {"descriptor": new_types, "fitting": new_types}
    assert model.type_map == new_map and model.descriptor.ntypes == len(new_map)
    for name in set(new_map) & {"O", "H"}:
        after = params_of(model, name)
        for key, value in before[name].items():
            assert torch.equal(after[key], value), f"{name} {key} changed"
    for (a, b), state in pairs.items():
        if a in new_map and b in new_map:
            for k, v in pair_net(model, a, b).state_dict().items():
                assert torch.equal(v, state[k]), f"net {a}-{b} {k} changed"
    d = model.descriptor
    for t in new_types:
        assert torch.equal(d.davg[t], torch.zeros(4, dtype=torch.float64))
        assert torch.equal(d.dstd[t], torch.ones(4, dtype=torch.float64))
        assert model.fitting.bias_atom_e[t] == 0
    assert d.types_without_stats == new_types and model.fitting.types_without_bias == new_types
    # same structure as a model built for the new map: a strict load works both ways
    cfg = small_model_cfg(new_map, type_one_side=type_one_side, sel=d.get_sel())
    fresh_model = build_model(cfg)
    fresh_model.load_state_dict(model.state_dict())
    model.load_state_dict(fresh_model.state_dict())


def test_new_nets_seeded_by_name_and_stats_flag_cleared(water):
    a = build_model(small_model_cfg(("O", "H")))
    b = build_model(small_model_cfg(("O", "H")))
    a.change_type_map(["O", "H", "C"], sel=[20, 40, 4])
    b.change_type_map(["C", "H", "O"], sel=[4, 40, 20])
    ca, cb = a.descriptor.embeddings[2], b.descriptor.embeddings[0]
    for x, y in zip(ca.parameters(), cb.parameters(), strict=True):
        assert torch.equal(x, y)  # same seed, same element name -> same fresh net
    assert not torch.equal(ca.layers[0].matrix, a.descriptor.embeddings[0].layers[0].matrix)
    a.descriptor.set_stats(torch.zeros(3, 4), torch.ones(3, 4) * 0.2, only_types=[2])
    assert a.descriptor.types_without_stats == []
    coord, box, atype = water
    out = a.eval()(coord, box, atype)  # runs with the grown map (no C atoms present)
    assert torch.isfinite(out["energy"]).all()


def test_new_type_needs_sel():
    model = build_model(small_model_cfg(("O", "H")))
    with pytest.raises(ValueError, match="sel is needed"):
        model.change_type_map(["O", "H", "C"])
    with pytest.raises(ValueError, match="repeats"):
        model.change_type_map(["O", "O"])


def test_multitask_shared_descriptor_remapped_once():
    section = {
        "model_dict": {b: small_model_cfg(("O", "H"), seed=s) for b, s in (("a", 1), ("b", 2))},
        "shared_links": {"d": ["a/descriptor", "b/descriptor"]},
    }
    model = build_multitask_model(section)
    emb_h = model.branches["a"].descriptor.embeddings[1]
    report = change_type_map(model, ["H", "O", "C"], sel=[40, 20, 4])
    assert report == {"a/descriptor": [2], "a/fitting": [2], "b/descriptor": [2],
                      "b/fitting": [2]}
    da, db = model.branches["a"].descriptor, model.branches["b"].descriptor
    assert da is db and da.embeddings[0] is emb_h and da.ntypes == 3
    assert model.branches["b"].type_map == ["H", "O", "C"]
