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


def test_installed_binaries_carry_no_build_machine_path():
    """RUNPATH/RPATH of the compiled module (and the LAMMPS plugin when built) hold only
    $ORIGIN-relative entries: pip's build folder is gone after the install."""
    import re
    import subprocess
    from pathlib import Path

    import pytest

    if "site-packages" not in Path(core.__file__).parts:
        pytest.skip("a development build (tools/dev_build.sh) keeps absolute build paths")
    readelf = shutil.which("readelf")
    assert readelf, "readelf (binutils, installed with the C++ compiler) is needed"
    package = Path(core.__file__).resolve().parent
    binaries = [Path(core.__file__), *package.glob("lmp/*.so")]
    for binary in binaries:
        dynamic = subprocess.run([readelf, "-d", str(binary)], capture_output=True, text=True,
                                 check=True).stdout
        for paths in re.findall(r"\((?:RPATH|RUNPATH)\)\s+Library r\w*path: \[(.*)\]", dynamic):
            for entry in paths.split(":"):
                assert entry.startswith("$ORIGIN"), f"{binary.name}: {entry}"
