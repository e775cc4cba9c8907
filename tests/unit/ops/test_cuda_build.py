"""The CUDA kernels are compiled into deepft._core whenever nvcc is available."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import deepft._core as core
import pytest
import torch

KERNELS = [b"forward_kernel", b"vjp_kernel", b"jvp_kernel", b"hvp_kernel", b"search_kernel",
           b"csr_kernel", b"force_kernel", b"atom_virial_kernel"]


def test_cuda_kernels_compiled_in(require_cuda):
    require_cuda(shutil.which("nvcc") is not None, "nvcc not installed: CPU-only build")
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
    from test_cuda_args import env_args

    with pytest.raises(RuntimeError, match="without CUDA"):
        core.env_mat_se_a_cuda_f64(**env_args())


def test_require_cuda_turns_the_no_gpu_skip_into_a_failure(tmp_path):
    """With DEEPFT_REQUIRE_CUDA=1 the CUDA consistency tests cannot pass by skipping."""
    test = Path(__file__).resolve().parents[2] / "consistency" / "test_kernels_cuda.py"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test),
           "-k", "prod_cuda_equals_cpu", "--rootdir", str(test.parents[2])]
    runs = {}
    for flag in ("0", "1"):
        env = {**os.environ, "DEEPFT_REQUIRE_CUDA": flag}
        runs[flag] = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300,
                                    cwd=tmp_path)
    if torch.cuda.is_available() and core.has_cuda():
        assert runs["1"].returncode == 0, runs["1"].stdout[-3000:]
        return
    assert runs["0"].returncode == 0 and "1 skipped" in runs["0"].stdout, runs["0"].stdout[-3000:]
    assert runs["1"].returncode != 0, runs["1"].stdout[-3000:]
    assert "DEEPFT_REQUIRE_CUDA=1 but needs a visible CUDA device" in runs["1"].stdout
