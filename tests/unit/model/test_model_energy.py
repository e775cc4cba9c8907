"""EnergyModel / EnergyFitting: outputs, shapes, dtypes, bias, nlist handling, modes."""

from __future__ import annotations

import pytest
import torch
from support.models import small_model_cfg
from support.tolerances import STRICT, TIGHT

from deepft.errors import InputError
from deepft.model import build_model


def test_outputs_shapes_and_sums(make_model, water):
    model = make_model().eval()
    coord, box, atype = water
    out = model(coord, box, atype, do_atomic_virial=True)
    assert out["energy"].shape == (2,) and out["atom_energy"].shape == (2, 192)
    assert out["force"].shape == (2, 192, 3) and out["virial"].shape == (2, 9)
    assert out["atom_virial"].shape == (2, 192, 9)
    assert all(v.dtype == torch.float64 and not v.requires_grad for v in out.values())
    torch.testing.assert_close(out["atom_energy"].sum(-1), out["energy"], rtol=TIGHT, atol=0)
    torch.testing.assert_close(out["atom_virial"].sum(1), out["virial"], rtol=0, atol=TIGHT)
    # periodic system: total force is zero (Newton's third law through the pair sums)
    assert out["force"].sum(1).abs().max() < 1e-12


def test_bias_shifts_atomic_energy(make_model, water):
    model = make_model().eval()
    coord, box, atype = water
    before = model(coord, box, atype)["atom_energy"]
    with torch.no_grad():
        model.fitting.bias_atom_e += torch.tensor([1.5, -0.25], dtype=torch.float64)
    after = model(coord, box, atype)
    shift = torch.where(atype == 0, 1.5, -0.25).to(torch.float64)
    torch.testing.assert_close(after["atom_energy"] - before, shift.expand(2, -1),
                               rtol=0, atol=TIGHT)


def test_given_nlist_equals_internal_and_2d_atype(make_model, water):
    model = make_model().eval()
    coord, box, atype = water
    nl = model.build_nlist(coord, box, atype)
    a = model(coord, box, atype, nlist=nl)
    b = model(coord, box, atype.expand(2, -1))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_training_mode_keeps_graph_for_force_loss(make_model, water):
    model = make_model().train()
    coord, box, atype = water
    out = model(coord[:1], box[:1], atype)
    assert out["force"].requires_grad
    loss = (out["force"] ** 2).sum()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    # forces do not depend on the constant output bias of the fitting nets, all else they do
    assert missing == ["fitting.nets.0.layers.2.bias", "fitting.nets.1.layers.2.bias"]
    assert model.descriptor.embeddings[0].layers[0].matrix.grad.abs().sum() > 0
    with torch.no_grad():  # validation under no_grad still yields forces
        out = model(coord[:1], box[:1], atype)
    assert torch.isfinite(out["force"]).all() and not out["force"].requires_grad


def test_force_loss_gradient_matches_finite_difference(make_model, water):
    """d(sum F^2)/d(one embedding weight) by central differences: the double backward."""
    model = make_model().train()
    coord, box, atype = water
    coord, box = coord[:1], box[:1]
    w = model.descriptor.embeddings[1].layers[1].matrix
    loss = (model(coord, box, atype)["force"] ** 2).sum()
    (grad,) = torch.autograd.grad(loss, w)
    h = 1e-6
    with torch.no_grad():
        w[2, 3] += h
        plus = (model(coord, box, atype)["force"] ** 2).sum()
        w[2, 3] -= 2 * h
        minus = (model(coord, box, atype)["force"] ** 2).sum()
        w[2, 3] += h
    fd = (plus - minus) / (2 * h)
    torch.testing.assert_close(grad[2, 3], fd, rtol=1e-6, atol=1e-9)


def test_float32_model(water):
    cfg = small_model_cfg(("O", "H"), precision="float32")
    model = build_model(cfg).eval()
    ref = build_model(small_model_cfg(("O", "H"))).eval()
    coord, box, atype = water
    out32, out64 = model(coord, box, atype), ref(coord, box, atype)
    assert model.descriptor.embeddings[0].dtype == torch.float32
    assert out32["energy"].dtype == torch.float64  # bias and sums in float64
    torch.testing.assert_close(out32["energy"], out64["energy"], rtol=1e-5, atol=1e-4)
    assert out32["force"].dtype == torch.float64  # outputs follow the coordinates' dtype
    torch.testing.assert_close(out32["force"], out64["force"], rtol=1e-3, atol=1e-4)
    f32 = model(coord.float(), box.float(), atype)["force"]
    assert f32.dtype == torch.float32
    torch.testing.assert_close(f32, out64["force"].float(), rtol=1e-3, atol=1e-4)


def test_build_errors_and_helpers():
    cfg = small_model_cfg(("O", "H"))
    cfg["descriptor"]["sel"] = "auto"
    with pytest.raises(InputError, match="sel"):
        build_model(cfg)
    cfg = small_model_cfg(("O", "H"))
    cfg["descriptor"]["type"] = "se_e3"
    with pytest.raises(InputError, match="se_e3"):
        build_model(cfg)
    cfg = small_model_cfg(("O", "H"))
    cfg["fitting_net"]["numb_fparam"] = 2
    with pytest.raises(InputError, match="numb_fparam"):
        build_model(cfg)
    model = build_model(small_model_cfg(("O", "H")))
    assert model.get_type_map() == ["O", "H"] and model.get_rcut() == 4.0
    assert model.get_sel() == [20, 40]


def test_positions_requiring_grad_keep_full_graph(make_model, water):
    """With coord.requires_grad the energy is differentiable w.r.t. positions and its gradient
    is minus the returned force; the force is differentiable too (Hessian-vector product)."""
    model = make_model().eval()
    coord, box, atype = water
    coord = coord[:1].clone().requires_grad_(True)
    out = model(coord, box[:1], atype)
    (grad,) = torch.autograd.grad(out["energy"].sum(), coord, create_graph=True)
    torch.testing.assert_close(-grad, out["force"], rtol=0, atol=TIGHT)
    v = torch.randn_like(coord)
    (hv,) = torch.autograd.grad((out["force"] * v).sum(), coord, retain_graph=True)
    (hv_ref,) = torch.autograd.grad((-grad * v).sum(), coord)
    torch.testing.assert_close(hv, hv_ref, rtol=STRICT, atol=STRICT)


@pytest.mark.parametrize("activation", ["gelu", "silu"])
def test_other_activations_forces_match_energy_gradient(activation, organic):
    model = build_model(small_model_cfg(("O", "H", "C"), activation=activation)).eval()
    coord, _, atype = organic
    coord = coord[:1].clone().requires_grad_(True)
    out = model(coord, None, atype)
    (grad,) = torch.autograd.grad(out["energy"].sum(), coord)
    torch.testing.assert_close(-grad, out["force"], rtol=0, atol=TIGHT, msg=activation)


def test_frozen_parameters_still_give_forces(water):
    cfg = small_model_cfg(("O", "H"))
    ref = build_model(cfg).eval()
    cfg["descriptor"]["trainable"] = False
    cfg["fitting_net"]["trainable"] = False
    frozen = build_model(cfg).eval()
    assert not any(p.requires_grad for p in frozen.parameters())
    coord, box, atype = water
    a, b = ref(coord, box, atype), frozen.train()(coord, box, atype)
    for key in a:
        torch.testing.assert_close(a[key], b[key].detach(), rtol=0, atol=TIGHT, msg=key)
