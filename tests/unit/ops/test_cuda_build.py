"""The CUDA kernels are compiled into deepft._core whenever nvcc is available."""

from __future__ import annotations

import shutil
from pathlib import Path

import deepft._core as core
import pytest

KERNELS = [b"forward_kernel", b"vjp_kernel", b"jvp_kernel", b"hvp_kernel", b"search_kernel",
           b"csr_kernel", b"force_kernel", b"atom_virial_kernel"]


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed: CPU-only build")
def test_cuda_kernels_compiled_in():
    assert core.cuda_compiled(), "nvcc exists but the extension was built without CUDA"
    blob = Path(core.__file__).read_bytes()
    assert b".nv_fatbin" in blob, "no device code embedded in the extension"
    missing = [k.decode() for k in KERNELS if k not in blob]
    assert not missing, f"kernels missing from the extension: {missing}"
    for name in ("build_nlist_cuda_f64", "format_nlist_from_csr_cuda_f32", "env_mat_se_a_cuda_f64",
                 "prod_cuda_f32"):
        assert hasattr(core, name), name


@pytest.mark.skipif(core.cuda_compiled(), reason="CUDA build: the stubs are not compiled")
def test_cpu_only_build_reports_missing_cuda():
    with pytest.raises(RuntimeError, match="without CUDA"):
        core.env_mat_se_a_cuda_f64(0, 1, 1, 1, 1, 1, 1, 1, 1, 6.0, 0.5, 1, 0, 0, 0)
