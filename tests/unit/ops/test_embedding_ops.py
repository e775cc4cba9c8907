"""The fused training loops of deepft.ops.embedding (deepft._core.train) against their torch
formulas, their hand-written backwards against finite differences, and thread independence."""

from __future__ import annotations

import pytest
import torch

from deepft import _core
from deepft.model.tangent import TanhTangentLayer
from deepft.ops import embedding as ops

ROWS = 300  # more than two of the kernels' 128-row blocks, not a multiple of it
TOL = {torch.float64: 1e-13, torch.float32: 2e-5}


def _randn(*shape, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed + sum(shape))
    return torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype)


def _layer_inputs(skip: str, nin: int, with_idt: bool, dtype, rows: int = ROWS):
    nout = {"none": 7, "same": nin, "double": 2 * nin}[skip]
    x, xt = _randn(rows, nin, dtype=dtype, seed=1), _randn(rows, nin, dtype=dtype, seed=2)
    matrix = _randn(nin, nout, dtype=dtype, seed=3) / nin ** 0.5
    bias = _randn(nout, dtype=dtype, seed=4)
    idt = _randn(nout, dtype=dtype, seed=5) if with_idt else None
    return x, xt, matrix, bias, idt


def _close(a, b, dtype):
    if a is None or b is None:
        assert a is None and b is None
        return
    assert a.shape == b.shape
    scale = max(1.0, float(b.abs().max()))
    assert float((a - b).abs().max()) <= TOL[dtype] * scale


LAYERS = [("none", 1), ("none", 5), ("same", 5), ("double", 5), ("double", 50)]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("with_idt", [False, True])
@pytest.mark.parametrize("skip,nin", LAYERS)
def test_tanh_tangent_layer_equals_torch(skip, nin, with_idt, dtype):
    x, xt, matrix, bias, idt = _layer_inputs(skip, nin, with_idt, dtype)
    fused = ops.tanh_tangent_layer(x, xt, matrix, bias, idt, skip)
    reference = ops.tanh_tangent_layer_torch(x, xt, matrix, bias, idt, skip)
    for a, b in zip(fused, reference, strict=True):
        assert a.dtype == dtype
        _close(a, b, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("with_idt", [False, True])
@pytest.mark.parametrize("skip,nin", LAYERS)
def test_tanh_tangent_layer_backward_equals_torch(skip, nin, with_idt, dtype):
    x, xt, matrix, bias, idt = _layer_inputs(skip, nin, with_idt, dtype)
    h, zt, y, _ = ops.tanh_tangent_layer_torch(x, xt, matrix, bias, idt, skip)
    dy, dyt = _randn(*y.shape, dtype=dtype, seed=6), _randn(*y.shape, dtype=dtype, seed=7)
    for wanted in (dict(want_matrix=True, want_idt=with_idt, want_x=True),
                   dict(want_matrix=False, want_idt=False, want_x=False)):
        args = (x, xt, matrix, idt, skip, h, zt, dy, dyt)
        fused = ops.tanh_tangent_layer_backward(*args, **wanted)
        reference = ops.tanh_tangent_layer_backward_torch(*args, **wanted)
        for a, b in zip(fused, reference, strict=True):
            _close(a, b, dtype)


def test_sums_over_rows_do_not_depend_on_the_thread_count():
    # 3,000 rows x 100 columns: above the kernels' threshold for running in parallel (2^18)
    x, xt, matrix, bias, idt = _layer_inputs("double", 50, True, torch.float64, rows=3000)
    h, zt, y, _ = ops.tanh_tangent_layer(x, xt, matrix, bias, idt, "double")
    dy, dyt = _randn(*y.shape, seed=8), _randn(*y.shape, seed=9)
    before = _core.num_threads()
    try:
        results = []
        for threads in (1, 2):
            _core.set_num_threads(threads)
            results.append(ops.tanh_tangent_layer_backward(
                x, xt, matrix, idt, "double", h, zt, dy, dyt, want_matrix=True, want_idt=True,
                want_x=True))
    finally:
        _core.set_num_threads(before)
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("skip,nin", [("none", 1), ("double", 3), ("same", 3), ("none", 3)])
@pytest.mark.parametrize("with_idt", [False, True])
def test_tanh_tangent_layer_gradients_are_finite_differences(skip, nin, with_idt):
    x, xt, matrix, bias, idt = _layer_inputs(skip, nin, with_idt, torch.float64, rows=9)
    inputs = [t.requires_grad_() for t in (x, xt, matrix, bias) + ((idt,) if with_idt else ())]

    def layer(x, xt, matrix, bias, idt=None):
        return TanhTangentLayer.apply(x, xt, matrix, bias, idt, skip)

    assert torch.autograd.gradcheck(layer, inputs)


def _contraction_inputs(dtype=torch.float64, n=6, k=5, m=7):
    env = _randn(n, k, 4, dtype=dtype, seed=20)
    g, gt = _randn(n, k, m, dtype=dtype, seed=21), _randn(n, k, m, dtype=dtype, seed=22)
    a = _randn(n, 4, m, dtype=dtype, seed=23)
    return env, g, gt, a


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_contractions_equal_torch(dtype):
    env, g, gt, a = _contraction_inputs(dtype, n=40, k=13, m=100)
    _close(ops.env_contract(env, g), torch.bmm(env.transpose(1, 2), g), dtype)
    _close(ops.pair_grad(env, g, gt, a), ops.pair_grad_torch(env, g, gt, a), dtype)


def test_contraction_gradients_are_finite_differences():
    env, g, gt, a = _contraction_inputs()
    g, gt, a = (t.requires_grad_() for t in (g, gt, a))
    assert torch.autograd.gradcheck(lambda g: ops.env_contract(env, g), (g,))
    assert torch.autograd.gradcheck(lambda g, gt, a: ops.pair_grad(env, g, gt, a), (g, gt, a))


def test_differentiable_geometry_takes_the_torch_formulas():
    """With env requiring grad the contractions stay differentiable to second order."""
    env, g, gt, a = _contraction_inputs()
    env, g, gt, a = (t.requires_grad_() for t in (env, g, gt, a))
    assert torch.autograd.gradgradcheck(lambda e, g: ops.env_contract(e, g), (env, g))
    assert torch.autograd.gradgradcheck(lambda e, g, gt, a: ops.pair_grad(e, g, gt, a),
                                        (env, g, gt, a))


def test_bad_shapes_are_refused_by_name():
    env, g, gt, a = _contraction_inputs()
    with pytest.raises(ValueError, match="gt must have shape"):
        _core.train.pair_grad(env.numpy(), g.numpy(), gt[:, :2].contiguous().numpy(), a.numpy())
    x, xt, matrix, bias, _ = _layer_inputs("double", 5, False, torch.float64)
    with pytest.raises(ValueError, match="does not fit a layer 5 -> 10"):
        _core.train.tanh_tangent_layer(x.numpy(), xt.numpy(), matrix.numpy(), bias.numpy(), None,
                                       1)
