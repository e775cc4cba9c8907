"""Layer / EmbeddingNet / FittingNet: resnet rule, idt, activations, initialization, seeding."""

from __future__ import annotations

import math

import pytest
import torch
from support.tolerances import TIGHT

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
    torch.testing.assert_close(y, plain(layer, x, torch.tanh), rtol=TIGHT, atol=TIGHT)


def test_layer_without_resnet_has_no_skip():
    layer = Layer(4, 4, resnet=False, resnet_dt=True, seed=1)
    assert layer.skip == "none" and layer.idt is None
    x = torch.randn(7, 4, dtype=torch.float64)
    torch.testing.assert_close(layer(x), torch.tanh(x @ layer.matrix + layer.bias))


def test_activations():
    x = torch.linspace(-3, 3, 41, dtype=torch.float64)
    gelu = 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    torch.testing.assert_close(get_activation("gelu")(x), gelu, rtol=TIGHT, atol=TIGHT)
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


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # emitted inside torch.func
@pytest.mark.parametrize("activation", ["tanh", "gelu", "relu", "silu", "linear"])
@pytest.mark.parametrize("nin,nout", [(1, 4), (1, 2), (4, 4), (4, 8), (4, 3)])
def test_forward_tangent_equals_jvp(activation, nin, nout):
    """(y, dy/ds) of the forward-mode pass = torch.func.jvp of the plain forward."""
    layer = Layer(nin, nout, activation_function=activation, resnet_dt=True, seed=nin + nout)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(6, nin, dtype=torch.float64, generator=gen)
    xt = torch.randn(6, nin, dtype=torch.float64, generator=gen)
    y, yt = layer.forward_tangent(x, xt)
    y_ref, yt_ref = torch.func.jvp(layer, (x,), (xt,))
    torch.testing.assert_close(y, y_ref, rtol=TIGHT, atol=TIGHT, msg=activation)
    torch.testing.assert_close(yt, yt_ref, rtol=TIGHT, atol=TIGHT, msg=activation)


@pytest.mark.parametrize("nin,nout,resnet_dt", [(1, 4, False), (4, 4, True), (4, 8, True),
                                                (5, 3, False)])
def test_tanh_tangent_layer_gradcheck(nin, nout, resnet_dt):
    from deepft.model.tangent import TanhTangentLayer

    layer = Layer(nin, nout, resnet_dt=resnet_dt, seed=1)
    x = torch.randn(5, nin, dtype=torch.float64, requires_grad=True)
    xt = torch.randn(5, nin, dtype=torch.float64, requires_grad=True)
    params = [layer.matrix, layer.bias] + ([layer.idt] if layer.idt is not None else [])

    def fn(x, xt, w, b, *idt):
        return TanhTangentLayer.apply(x, xt, w, b, idt[0] if idt else None, layer.skip)

    assert torch.autograd.gradcheck(fn, (x, xt, *params))


def test_embedding_net_tangent_matches_autograd():
    net = EmbeddingNet([4, 8, 8], resnet_dt=True, seed=9)
    s = torch.linspace(-2, 3, 11, dtype=torch.float64).reshape(11, 1).requires_grad_()
    g, gt = net.forward_tangent(s)
    torch.testing.assert_close(g, net(s), rtol=TIGHT, atol=TIGHT)
    jac = torch.stack([torch.autograd.grad(net(s)[:, m].sum(), s)[0][:, 0] for m in range(8)], 1)
    torch.testing.assert_close(gt, jac, rtol=TIGHT, atol=TIGHT)
