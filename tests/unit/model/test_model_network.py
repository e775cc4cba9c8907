"""Layer / EmbeddingNet / FittingNet: resnet rule, idt, activations, initialization, seeding."""

from __future__ import annotations

import math

import pytest
import torch
from model_helpers import STRICT

from deepft.model.network import EmbeddingNet, FittingNet, Layer, derive_seed, get_activation


def plain(layer: Layer, x: torch.Tensor, act) -> torch.Tensor:
    """The DeePMD-kit layer rule written out independently."""
    h = act(x @ layer.matrix + layer.bias)
    if layer.idt is not None:
        h = h * layer.idt
    if layer.resnet and layer.num_out == layer.num_in:
        return x + h
    if layer.resnet and layer.num_out == 2 * layer.num_in:
        return torch.cat([x, x], -1) + h
    return h


@pytest.mark.parametrize("nin,nout,skip", [(4, 4, "same"), (4, 8, "double"), (4, 6, "none"),
                                           (1, 2, "double"), (1, 5, "none")])
@pytest.mark.parametrize("resnet_dt", [False, True])
def test_layer_resnet_rule(nin, nout, skip, resnet_dt):
    layer = Layer(nin, nout, resnet_dt=resnet_dt, seed=1)
    assert layer.skip == skip, f"{nin}->{nout}"
    assert (layer.idt is not None) == (resnet_dt and skip != "none"), f"{nin}->{nout} idt"
    x = torch.randn(3, 5, nin, dtype=torch.float64)
    y = layer(x)
    assert y.shape == (3, 5, nout)
    torch.testing.assert_close(y, plain(layer, x, torch.tanh), rtol=STRICT, atol=STRICT)


def test_layer_without_resnet_has_no_skip():
    layer = Layer(4, 4, resnet=False, resnet_dt=True, seed=1)
    assert layer.skip == "none" and layer.idt is None
    x = torch.randn(7, 4, dtype=torch.float64)
    torch.testing.assert_close(layer(x), torch.tanh(x @ layer.matrix + layer.bias))


def test_activations():
    x = torch.linspace(-3, 3, 41, dtype=torch.float64)
    gelu = 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    torch.testing.assert_close(get_activation("gelu")(x), gelu, rtol=STRICT, atol=STRICT)
    torch.testing.assert_close(get_activation("silu")(x), x * torch.sigmoid(x))
    torch.testing.assert_close(get_activation("relu")(x), x.clamp(min=0))
    assert get_activation("linear")(x) is x and get_activation(None)(x) is x
    with pytest.raises(ValueError, match="unknown activation"):
        get_activation("swish")


def test_initialization_statistics():
    layer = Layer(300, 500, resnet_dt=True, resnet=True, seed=3)  # 500 != 300, 600: no idt
    assert layer.idt is None
    std = 1 / math.sqrt(800)
    assert abs(layer.matrix.std().item() - std) < 0.02 * std
    assert abs(layer.matrix.mean().item()) < 0.01 * std
    assert abs(layer.bias.std().item() - 1.0) < 0.1
    wide = Layer(4000, 4000, resnet_dt=True, seed=4)
    assert abs(wide.idt.mean().item() - 0.1) < 1e-4
    assert abs(wide.idt.std().item() - 0.001) < 1e-4


def test_seeding_is_deterministic_and_per_layer():
    a, b = EmbeddingNet([8, 16], seed=11), EmbeddingNet([8, 16], seed=11)
    c = EmbeddingNet([8, 16], seed=12)
    for la, lb, lc in zip(a.layers, b.layers, c.layers, strict=True):
        assert torch.equal(la.matrix, lb.matrix) and torch.equal(la.bias, lb.bias)
        assert not torch.equal(la.matrix, lc.matrix)
    f1, f2 = FittingNet(8, [8, 8], seed=5), FittingNet(8, [8, 8], seed=5)
    assert torch.equal(f1.layers[1].idt, f2.layers[1].idt)
    assert not torch.equal(f1.layers[1].matrix, f1.layers[2].matrix[:, :8])
    assert derive_seed(None, 1) is None
    assert derive_seed(1, "ab") != derive_seed(1, "a", "b")
    assert derive_seed(5, 0) == derive_seed(5, 0) != derive_seed(5, 1)


def test_fitting_net_layout_and_trainable_per_layer():
    net = FittingNet(12, [6, 6, 12], resnet_dt=True, trainable=[False, True, True, False],
                     seed=2)
    shapes = [tuple(layer.matrix.shape) for layer in net.layers]
    assert shapes == [(12, 6), (6, 6), (6, 12), (12, 1)]
    assert [layer.skip for layer in net.layers] == ["none", "same", "double", "none"]
    assert net.layers[-1].idt is None and net.layers[-1].activation_function == "linear"
    assert [layer.matrix.requires_grad for layer in net.layers] == [False, True, True, False]
    assert net(torch.randn(5, 12, dtype=torch.float64)).shape == (5, 1)
    with pytest.raises(ValueError, match="trainable has 2 entries"):
        FittingNet(12, [6, 6], trainable=[True, False])


def test_float32_precision():
    net = EmbeddingNet([4, 8], precision="float32", seed=1)
    assert all(p.dtype == torch.float32 for p in net.parameters())
    ref = EmbeddingNet([4, 8], precision="float64", seed=1)
    # same draws, rounded to float32
    torch.testing.assert_close(net.layers[1].matrix, ref.layers[1].matrix.float())
    assert net(torch.randn(3, 1)).dtype == torch.float32
