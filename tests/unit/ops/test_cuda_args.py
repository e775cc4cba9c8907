"""The CUDA bindings check every tensor argument before any launch: a non-CUDA object or a
wrong dtype is a TypeError, a wrong shape, non-contiguous strides, a read-only output or
memory off the current device a ValueError, each naming the argument. Runs without a GPU:
the arguments are stand-ins exposing ``__cuda_array_interface__`` like torch CUDA tensors."""

from __future__ import annotations

import deepft._core as core
import numpy as np
import pytest
import torch

NC, NNEI, NT = 5, 7, 2
FAKE_ADDRESS = 0x7F00_0000_0000  # never dereferenced: the device check refuses it


class FakeCuda:
    """A stand-in for a torch CUDA tensor (``__cuda_array_interface__`` version 3)."""

    def __init__(self, shape, typestr="<f8", strides=None, readonly=False):
        self.__cuda_array_interface__ = {"shape": tuple(shape), "typestr": typestr,
                                         "data": (FAKE_ADDRESS, readonly), "strides": strides,
                                         "version": 3}


def env_args(**change):
    """Arguments of env_mat_se_a_cuda_f64 op 1 (vjp), with some replaced."""
    args = {"op": 1, "rij": FakeCuda((NC, NNEI, 3)), "mask": FakeCuda((NC, NNEI), "|b1"),
            "center_type": FakeCuda((NC,), "<i4"), "davg": FakeCuda((NT, 4)),
            "dstd": FakeCuda((NT, 4)), "rcut": 6.0, "rcut_smth": 0.5,
            "a": FakeCuda((NC, NNEI, 4)), "b": FakeCuda((NC, NNEI, 3))}
    args.update(change)
    return args


def _device_refusal():
    """What valid metadata on a fake address gives: no CUDA in the build, or not CUDA memory."""
    if core.cuda_compiled():
        return ValueError, "rij is not CUDA memory|rij points to host memory"
    return RuntimeError, "without CUDA"


@pytest.mark.parametrize("change, exc, message", [
    ({"rij": np.zeros((NC, NNEI, 3))}, TypeError, "rij must be a CUDA array .* got ndarray"),
    ({"rij": torch.zeros(NC, NNEI, 3)}, TypeError, "rij must be a CUDA array .* got Tensor"),
    ({"rij": FakeCuda((NC, NNEI, 3), "<f4")}, TypeError, r"rij must have dtype float64 \(<f8\)"),
    ({"center_type": FakeCuda((NC,), "<i8")}, TypeError, "center_type must have dtype int32"),
    ({"mask": FakeCuda((NC, NNEI), "<i4")}, TypeError, "mask must have dtype bool"),
    ({"mask": FakeCuda((NC, NNEI - 1), "|b1")}, ValueError,
     r"mask must have shape \(5, 7\), got \(5, 6\)"),
    ({"dstd": FakeCuda((NT + 1, 4))}, ValueError, r"dstd must have shape \(2, 4\)"),
    ({"a": FakeCuda((NC, NNEI, 3))}, ValueError, r"grad_em must have shape \(5, 7, 4\)"),
    ({"b": FakeCuda((NC, NNEI, 3), readonly=True)}, ValueError, "grad_rij is read-only"),
    ({"b": None}, TypeError, "grad_rij must be a CUDA array .* got NoneType"),
    ({"davg": FakeCuda((NT, 4), strides=(8, 16))}, ValueError, "davg must be C-contiguous"),
    ({"op": 7}, ValueError, "op must be 0"),
])
def test_env_mat_cuda_arguments_are_checked(change, exc, message):
    with pytest.raises(exc, match=message):
        core.env_mat_se_a_cuda_f64(**env_args(**change))


def test_valid_metadata_reaches_the_device_check():
    exc, message = _device_refusal()
    with pytest.raises(exc, match=message):
        core.env_mat_se_a_cuda_f64(**env_args())
    # contiguous strides spelled out are accepted like None
    with pytest.raises(exc, match=message):
        core.env_mat_se_a_cuda_f64(**env_args(rij=FakeCuda((NC, NNEI, 3), strides=(168, 24, 8))))


def test_prod_cuda_arguments_are_checked():
    g, nl = FakeCuda((2, NC, NNEI, 3), "<f4"), FakeCuda((2, NC, NNEI), "<i8")
    with pytest.raises(ValueError, match=r"force must have shape \(2, 9, 3\), got \(2, 8, 3\)"):
        core.prod_cuda_f32(False, g, None, nl, 9, FakeCuda((2, 8, 3), "<f4"))
    with pytest.raises(TypeError, match="nlist must have dtype int64"):
        core.prod_cuda_f32(False, g, None, FakeCuda((2, NC, NNEI), "<i4"), 9,
                           FakeCuda((2, 9, 3), "<f4"))
    with pytest.raises(TypeError, match="rij must be a CUDA array"):  # virial needs rij
        core.prod_cuda_f32(True, g, None, nl, 9, FakeCuda((2, 9), "<f4"))
    with pytest.raises(ValueError, match="need nall >= nloc"):
        core.prod_cuda_f32(False, g, None, nl, NC - 1, FakeCuda((2, NC - 1, 3), "<f4"))


def test_neighbor_cuda_arguments_are_checked():
    sel = np.array([3, 4], dtype=np.int64)
    coord = FakeCuda((2, 6, 3))
    nlist = FakeCuda((2, 6, 7), "<i8")
    with pytest.raises(ValueError, match=r"atype must have shape \(6\), got \(5\)"):
        core.build_nlist_cuda_f64(coord, None, FakeCuda((5,), "<i4"), 3.0, sel, nlist)
    with pytest.raises(ValueError, match=r"box must have shape \(2, 9\)"):
        core.build_nlist_cuda_f64(coord, FakeCuda((1, 9)), FakeCuda((6,), "<i4"), 3.0, sel, nlist)
    with pytest.raises(ValueError, match=r"nlist must have shape \(2, 6, 7\)"):
        core.build_nlist_cuda_f64(coord, None, FakeCuda((6,), "<i4"), 3.0, sel,
                                  FakeCuda((2, 6, 8), "<i8"))
    with pytest.raises(ValueError, match=r"offsets must have shape \(5\)"):
        core.format_nlist_from_csr_cuda_f64(FakeCuda((9, 3)), FakeCuda((9,), "<i4"), 4,
                                            FakeCuda((4,), "<i8"), FakeCuda((20,), "<i4"), 3.0,
                                            sel, FakeCuda((4, 7), "<i8"))
