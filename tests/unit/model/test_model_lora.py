"""LoRA adapters: step 0 equals the base model; merged equals unmerged."""

from __future__ import annotations

import torch
from support.tolerances import TIGHT

from deepft.model import Layer, LoRALayer, apply_lora, merge_lora


def test_lora_at_init_equals_base_and_trains_only_adapters(make_model, water):
    model = make_model().eval()
    coord, box, atype = water
    base = model(coord, box, atype)
    names_before = set(model.state_dict())
    wrapped = apply_lora(model, rank=2, alpha=4.0, seed=3)
    assert "fitting.nets.0.layers.0" in wrapped
    assert "descriptor.embeddings.0.layers.0" not in wrapped  # 1 -> n layer skipped
    assert "descriptor.embeddings.0.layers.1" in wrapped
    lora = model(coord, box, atype)
    for key in base:
        assert torch.equal(base[key], lora[key]), f"{key} differs at step 0"
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.endswith(("lora_a", "lora_b")) for n in trainable)
    new_keys = set(model.state_dict()) - names_before
    assert new_keys == {f"{p}.lora_{x}" for p in wrapped for x in "ab"}


def test_merged_equals_unmerged(make_model, water):
    model = make_model().eval()
    coord, box, atype = water
    apply_lora(model, rank=3, seed=5, include=("fitting.", "descriptor.embeddings.1"))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, LoRALayer):
                module.lora_b.normal_(0, 0.1)
    unmerged = model(coord, box, atype)
    paths = merge_lora(model)
    assert paths and not any(isinstance(m, LoRALayer) for m in model.modules())
    assert all(type(model.fitting.nets[0].layers[k]) is Layer for k in range(3))
    merged = model(coord, box, atype)
    for key in unmerged:
        torch.testing.assert_close(merged[key], unmerged[key], rtol=TIGHT, atol=TIGHT,
                                   msg=key)
    assert not any(k.endswith(("lora_a", "lora_b")) for k in model.state_dict())


def test_lora_layer_math():
    base = Layer(6, 6, resnet_dt=True, seed=1)
    lora = LoRALayer(base, rank=2, alpha=1.0, seed=2)
    assert lora.matrix is base.matrix and not base.matrix.requires_grad
    with torch.no_grad():
        lora.lora_b.normal_()
    x = torch.randn(4, 6, dtype=torch.float64)
    w = base.matrix + 0.5 * lora.lora_a @ lora.lora_b
    want = x + torch.tanh(x @ w + base.bias) * base.idt
    torch.testing.assert_close(lora(x), want, rtol=TIGHT, atol=TIGHT)
    torch.testing.assert_close(lora.merge()(x), want, rtol=TIGHT, atol=TIGHT)
