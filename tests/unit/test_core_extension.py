"""The compiled extension builds, imports and reports its CUDA status truthfully."""

import shutil

import deepft._core as core


def test_version_is_a_string():
    assert isinstance(core.version(), str) and core.version()


def test_cuda_compiled_when_nvcc_present():
    # CMake's DEEPFT_CUDA=AUTO compiles the .cu sources whenever nvcc is found.
    if shutil.which("nvcc"):
        assert core.cuda_compiled()


def test_has_cuda_false_without_a_device():
    import torch

    assert core.has_cuda() == (core.cuda_compiled() and torch.cuda.is_available())
