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

from deepft.io.model_file import encode_model_file, read_model_file

MIN_TESTS = 21  # TEST cases in tests/cpp/*.cc: a build that silently lost some fails
FUZZ_CASES = {"release": 20000, "asan": 5000}
TIMEOUT_S = {"release": 120, "asan": 300}


@pytest.fixture(scope="module")
def seed_models(tmp_path_factory) -> list[Path]:
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
    return [*models, v1]


@pytest.fixture(scope="module", params=["release", "asan"])
def cpp_build(request) -> tuple[str, Path]:
    return request.param, build(request.param)


def test_cpp_unit_tests(cpp_build, seed_models):
    kind, out = cpp_build
    proc = run(out / "deepft_cpp_tests", [], {"DEEPFT_TEST_MODEL": str(seed_models[0])},
               TIMEOUT_S[kind])
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
