"""CUDA kernels = CPU kernels (run only with a CUDA device and a CUDA build)."""

from __future__ import annotations

import deepft._core as core
import numpy as np
import pytest
import torch
from support.tolerances import STRICT, TIGHT

from deepft.ops import build_nlist, env_mat_se_a, prod_force, prod_virial

pytestmark = [pytest.mark.cuda]


@pytest.fixture(autouse=True)
def _cuda_device(require_cuda):
    """Skips without a device (fails instead under DEEPFT_REQUIRE_CUDA=1)."""
    require_cuda(torch.cuda.is_available() and core.has_cuda(),
                 "needs a visible CUDA device and deepft built with CUDA kernels")

RCUT, RCUT_SMTH, SEL = 6.0, 0.5, [46, 92]


def water(water_dir, nframes=2):
    d = water_dir / "data_0"
    coord = np.load(d / "set.000" / "coord.npy")[:nframes].reshape(nframes, -1, 3)
    coord = coord.astype(np.float64)
    box = np.load(d / "set.000" / "box.npy")[:nframes].astype(np.float64)
    return coord, box, np.loadtxt(d / "type.raw", dtype=np.int64)


@pytest.mark.parametrize("periodic", [True, False])
def test_build_nlist_cuda_equals_cpu(water_dir, periodic):
    coord, box, atype = water(water_dir)
    box_or_none = box if periodic else None
    cpu = build_nlist(coord, box_or_none, atype, RCUT, SEL)
    gpu = build_nlist(torch.from_numpy(coord).cuda(),
                      None if box_or_none is None else torch.from_numpy(box).cuda(),
                      torch.from_numpy(atype).cuda(), RCUT, SEL)
    np.testing.assert_array_equal(gpu.nlist.cpu().numpy(), cpu.nlist)
    np.testing.assert_array_equal(gpu.image.cpu().numpy(), cpu.image)
    np.testing.assert_array_equal(gpu.max_neighbors.cpu().numpy(), cpu.max_neighbors)
    np.testing.assert_array_equal(gpu.type_counts.cpu().numpy(), cpu.type_counts)


def test_build_nlist_cuda_small_triclinic_box():
    rng = np.random.default_rng(0)
    box = np.array([[4.0, 0.0, 0.0], [0.8, 4.2, 0.0], [0.3, -0.6, 4.4]])
    coord = (rng.uniform(0, 1, size=(12, 3)) @ box)[None] + 5.0  # unwrapped positions
    atype = rng.integers(0, 2, size=12)
    cpu = build_nlist(coord, box.reshape(1, 9), atype, RCUT, [150, 150])
    gpu = build_nlist(torch.from_numpy(coord).cuda(), torch.from_numpy(box.reshape(1, 9)).cuda(),
                      torch.from_numpy(atype).cuda(), RCUT, [150, 150])
    np.testing.assert_array_equal(gpu.nlist.cpu().numpy(), cpu.nlist)
    np.testing.assert_array_equal(gpu.image.cpu().numpy(), cpu.image)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_env_mat_and_derivatives_cuda_equal_cpu(dtype):
    g = torch.Generator().manual_seed(0)
    rij = torch.randn(2, 8, 30, 3, generator=g, dtype=torch.float64).to(dtype) * 3
    mask = torch.rand(2, 8, 30, generator=g) > 0.2
    ctype = torch.randint(0, 2, (2, 8), generator=g)
    davg = torch.rand(2, 4, generator=g).to(dtype) * 0.1
    dstd = torch.rand(2, 4, generator=g).to(dtype) + 0.5
    tol = dict(rtol=TIGHT, atol=TIGHT) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-5)
    gg = torch.randn(2, 8, 30, 4, generator=g, dtype=dtype)
    vv = torch.randn(2, 8, 30, 3, generator=g, dtype=dtype)

    def run(device):
        x = rij.to(device).requires_grad_()
        em = env_mat_se_a(x, mask.to(device), ctype.to(device), davg.to(device), dstd.to(device),
                          RCUT, RCUT_SMTH)
        (grad,) = torch.autograd.grad((em * gg.to(device)).sum(), x, create_graph=True)
        (hvp,) = torch.autograd.grad((grad * vv.to(device)).sum(), x)
        return [t.detach().cpu() for t in (em, grad, hvp)]

    for a, b in zip(run("cuda"), run("cpu"), strict=True):
        torch.testing.assert_close(a, b, **tol)


def test_gradgradcheck_cuda():
    g = torch.Generator().manual_seed(1)
    rij = (torch.randn(1, 3, 6, 3, generator=g, dtype=torch.float64) * 2).cuda().requires_grad_()
    mask = (torch.rand(1, 3, 6, generator=g) > 0.2).cuda()
    ctype = torch.zeros(1, 3, dtype=torch.int64).cuda()
    davg = torch.zeros(1, 4, dtype=torch.float64).cuda()
    dstd = torch.ones(1, 4, dtype=torch.float64).cuda()

    def f(x):
        return env_mat_se_a(x, mask, ctype, davg, dstd, 3.0, 1.0)

    assert torch.autograd.gradcheck(f, (rij,))
    assert torch.autograd.gradgradcheck(f, (rij,))


def test_prod_cuda_equals_cpu(water_dir):
    coord, box, atype = water(water_dir, nframes=1)
    nl = build_nlist(coord, box, atype, RCUT, SEL)
    rng = np.random.default_rng(2)
    grad = rng.normal(size=(*nl.nlist.shape, 3))
    rij = rng.normal(size=grad.shape)
    n = coord.shape[1]
    f_cpu = prod_force(grad, nl.nlist, n)
    v_cpu, av_cpu = prod_virial(grad, rij, nl.nlist, n, atomic=True)
    t = lambda a: torch.from_numpy(a).cuda()  # noqa: E731
    f_gpu = prod_force(t(grad), t(nl.nlist), n)
    v_gpu, av_gpu = prod_virial(t(grad), t(rij), t(nl.nlist), n, atomic=True)
    np.testing.assert_allclose(f_gpu.cpu().numpy(), f_cpu, rtol=TIGHT, atol=TIGHT)
    np.testing.assert_allclose(v_gpu.cpu().numpy(), v_cpu, rtol=TIGHT, atol=STRICT)
    np.testing.assert_allclose(av_gpu.cpu().numpy(), av_cpu, rtol=TIGHT, atol=TIGHT)


def test_format_nlist_from_csr_cuda_equals_cpu_ghost_form():
    rng = np.random.default_rng(3)
    pos = rng.uniform(0, 8, size=(40, 3))
    atype = rng.integers(0, 2, size=40).astype(np.int32)
    nloc = 30
    rows = [np.delete(np.arange(40), i) for i in range(nloc)]
    numneigh = np.array([len(r) for r in rows], dtype=np.int32)
    neighbors = np.concatenate(rows).astype(np.int32)
    sel = np.array([20, 20], dtype=np.int64)
    nl_cpu, rij_cpu, max_cpu, cnt_cpu = core.format_nlist_from_full_list(
        pos, atype, nloc, numneigh, neighbors, None, 4.0, sel)
    dev = torch.device("cuda")
    offsets = np.concatenate([[0], np.cumsum(numneigh)])
    offsets = torch.tensor(offsets, dtype=torch.int64, device=dev)
    idx = torch.tensor(neighbors, device=dev)
    c = torch.tensor(pos, device=dev)
    at = torch.tensor(atype, device=dev)
    nl = torch.empty((nloc, 40), dtype=torch.int64, device=dev)
    rij = torch.empty((nloc, 40, 3), dtype=torch.float64, device=dev)
    mx = torch.empty(2, dtype=torch.int64, device=dev)
    cnt = torch.empty((nloc, 2), dtype=torch.int64, device=dev)
    core.format_nlist_from_csr_cuda_f64(c, at, nloc, offsets, idx, 4.0, sel, nl, rij, mx, cnt,
                                        torch.cuda.current_stream().cuda_stream)
    torch.cuda.synchronize()
    np.testing.assert_array_equal(nl.cpu().numpy(), nl_cpu)
    np.testing.assert_allclose(rij.cpu().numpy(), rij_cpu, atol=TIGHT)
    np.testing.assert_array_equal(mx.cpu().numpy(), max_cpu)
    np.testing.assert_array_equal(cnt.cpu().numpy(), cnt_cpu)


@pytest.mark.parametrize("descriptor", ["se_e2_a", "dpa1"])
def test_model_on_cuda_equals_cpu(water_dir, descriptor):
    """The training route on the GPU (neighbor list by the CUDA kernels from host types, every
    slot kept, no host reads) gives the CPU model's energy, forces and virial."""
    import copy

    from support.models import random_dpa1_model, set_random_stats, small_model_cfg

    from deepft.model import build_model

    coord, box, atype = (torch.from_numpy(np.ascontiguousarray(a)) for a in water(water_dir))
    if descriptor == "se_e2_a":
        model = set_random_stats(build_model(small_model_cfg(("O", "H"), type_one_side=False,
                                                             sel=SEL)), angular=True)
    else:
        model = random_dpa1_model(("O", "H"))
    cpu = model(coord, box, atype)
    gpu_model = copy.deepcopy(model).cuda()
    dev = torch.device("cuda")
    nl = gpu_model.build_nlist(coord.to(dev), box.to(dev), atype.numpy(), check_overflow=False)
    assert nl.nlist.is_cuda and nl.max_neighbors.is_cuda and nl.center_counts is not None
    gpu = gpu_model(coord.to(dev), box.to(dev), atype.to(dev), nlist=nl)
    for key in ("energy", "force", "virial", "atom_energy"):
        np.testing.assert_allclose(gpu[key].cpu().numpy(), cpu[key].detach().numpy(),
                                   rtol=1e-10, atol=1e-10, err_msg=key)
