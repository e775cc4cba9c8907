"""C++ tests (tests/cpp) built with CMake and run from pytest: the unit tests of the kernels,
the model-file reader and the core, and the model-file fuzzer, each in a release build and in
an AddressSanitizer + UBSan build that fails on any sanitizer report. Nothing is skipped: a
missing compiler or cmake is a failure."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cpp_build import build, openblas_dir, run, sanitizer_reports
from support.model_files import write_model
from support.models import write_dpa1_model

from deepft.io.model_file import encode_model_file, read_model_file

MIN_TESTS = 28  # TEST cases in tests/cpp/*.cc: a build that silently lost some fails
FUZZ_CASES = {"release": 20000, "asan": 5000}
TIMEOUT_S = {"release": 120, "asan": 300}


#: the DPA-1 models of the C++ tests (test_deep_pot.cc, test_dpa1_header.cc): "smooth" (strip,
#: smooth type embedding, two attention layers, two-sided) and "sharp" (concat, no smoothing,
#: one layer, one-sided, a type-embedding bias and a temperature); sel 40 holds every neighbor
DPA1_MODELS = {
    "DEEPFT_TEST_DPA1_MODEL": {"seed": 4, "rcut": 4.0, "rcut_smth": 0.5, "sel": 40},
    "DEEPFT_TEST_DPA1_SHARP_MODEL": {
        "seed": 5, "rcut": 4.0, "rcut_smth": 0.5, "sel": 40, "tebd_input_mode": "concat",
        "smooth_type_embedding": False, "attn_layer": 1, "type_one_side": True,
        "use_tebd_bias": True, "temperature": 0.6},
}


@pytest.fixture(scope="module")
def dpa1_models(tmp_path_factory) -> dict[str, str]:
    """Environment variable -> path of each DPA-1 test model."""
    d = tmp_path_factory.mktemp("cpp_dpa1_models")
    return {env: str(write_dpa1_model(d / f"{env.lower()}.dft", **kw))
            for env, kw in DPA1_MODELS.items()}


@pytest.fixture(scope="module")
def seed_models(tmp_path_factory, dpa1_models) -> list[Path]:
    """Small real models of every flavour the core reads, and one of format version 1."""
    d = tmp_path_factory.mktemp("cpp_models")
    models = [
        write_model(d / "f64.dft"),
        write_model(d / "f32.dft", precision="float32", seed=1),
        write_model(d / "pair.dft", type_one_side=False, type_map=("C", "H", "O"),
                    sel=(5, 6, 7), seed=2),
        write_model(d / "multi.dft", branches=("a", "b"), activation="gelu", seed=3),
    ]
    src = read_model_file(models[0])
    header = {k: v for k, v in src.header.items()
              if k not in ("tensors", "blob_nbytes", "format_version")}
    v1 = d / "v1.dft"
    v1.write_bytes(encode_model_file(header, src.tensors, version=1))
    dpa1_f32 = write_dpa1_model(d / "dpa1_f32.dft", seed=6, precision="float32", sel=12)
    return [*models, v1, *map(Path, dpa1_models.values()), dpa1_f32]


@pytest.fixture(scope="module", params=["release", "asan"])
def cpp_build(request) -> tuple[str, Path]:
    return request.param, build(request.param)


def test_cpp_unit_tests(cpp_build, seed_models, dpa1_models):
    kind, out = cpp_build
    proc = run(out / "deepft_cpp_tests", [],
               {"DEEPFT_TEST_MODEL": str(seed_models[0]), **dpa1_models}, TIMEOUT_S[kind])
    assert not sanitizer_reports(proc.stderr), proc.stderr[-6000:]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    # the dense-math backend the build found is the one that ran (no silent fallback)
    backend = "OpenBLAS" if openblas_dir(out) else "plain loops"
    assert f"dense math: {backend}" in proc.stdout, proc.stdout[:500]
    summary = re.search(r"(\d+) tests, (\d+) failed checks", proc.stdout)
    assert summary and int(summary[1]) >= MIN_TESTS and int(summary[2]) == 0, proc.stdout


def test_sanitizer_build_reports_errors():
    """The canary reads past a heap buffer: the sanitizer build must stop with a report
    (else the sanitizer runs of the other tests prove nothing)."""
    proc = run(build("asan") / "deepft_cpp_tests", ["--sanitizer-canary"], {}, TIMEOUT_S["asan"])
    assert proc.returncode != 0 and "heap-buffer-overflow" in proc.stderr, proc.stderr[-3000:]
    assert sanitizer_reports(proc.stderr)


def test_model_file_fuzzer(cpp_build, seed_models, tmp_path):
    kind, out = cpp_build
    cases = FUZZ_CASES[kind]
    proc = run(out / "deepft_fuzz_model_file",
               [str(cases), "20261205", str(tmp_path), *map(str, seed_models)],
               {"OMP_NUM_THREADS": "1"},  # tiny systems: thread start-up would dominate
               TIMEOUT_S[kind])
    assert not sanitizer_reports(proc.stderr), proc.stderr[-6000:]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    stats = dict(re.findall(r"(\w+) (\d+)", proc.stdout.strip().splitlines()[-1]))
    stats = {k: int(v) for k, v in stats.items()}
    assert stats["cases"] == cases and stats["failures"] == 0
    # not vacuous: the fuzzer reached the evaluator and the validator both
    assert stats["computed"] > cases // 20, stats
    assert stats["refused"] > cases // 2, stats
