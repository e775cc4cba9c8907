"""Configure, build and run the C++ tests of tests/cpp (CMake, cached under build/cpp-tests).

Two builds: ``release`` (-O2, the OpenBLAS backend when the scipy-openblas32 wheel is there)
and ``asan`` (-O1 with AddressSanitizer + UndefinedBehaviorSanitizer, every report fatal).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "tests" / "cpp"
BUILD_ROOT = REPO / "build" / "cpp-tests"  # ignored by git (build/)

SANITIZE = "-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
BUILDS = {
    "release": ["-DCMAKE_BUILD_TYPE=Release"],
    "asan": ["-DCMAKE_BUILD_TYPE=RelWithDebInfo", f"-DCMAKE_CXX_FLAGS={SANITIZE}",
             f"-DCMAKE_C_FLAGS={SANITIZE}", f"-DCMAKE_EXE_LINKER_FLAGS={SANITIZE}",
             "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g"],
}
# Every sanitizer report stops the program with a non-zero exit code.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "halt_on_error=1:abort_on_error=0:detect_leaks=1:allocator_may_return_null=1"
                    ":detect_stack_use_after_return=1:strict_string_checks=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}


@functools.cache
def build(kind: str) -> Path:
    """Configures (once) and builds ``kind``; returns its build directory."""
    cmake = shutil.which("cmake")
    if cmake is None:
        raise RuntimeError("cmake is not on PATH (pip install cmake): the C++ tests need it")
    out = BUILD_ROOT / kind
    if not (out / "CMakeCache.txt").exists():
        gen = ["-G", "Ninja"] if shutil.which("ninja") else []
        _run([cmake, "-S", str(SOURCE), "-B", str(out), *gen,
              f"-DPython_EXECUTABLE={sys.executable}", *BUILDS[kind]], "configure")
    _run([cmake, "--build", str(out), "-j", "2"], "build")
    return out


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        raise RuntimeError(f"C++ tests: {what} failed ({' '.join(cmd)}):\n"
                           f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")


def openblas_dir(out: Path) -> str | None:
    """The scipy-openblas32 library folder the build found (None: plain-loop fallback)."""
    cache = (out / "CMakeCache.txt").read_text()
    found = re.search(r"^DEEPFT_OPENBLAS_LIBDIR:INTERNAL=(.+)$", cache, re.MULTILINE)
    return found[1] if found else None


def run(exe: Path, args: list[str], env: dict[str, str], timeout: float):
    """Runs a test executable; returns the CompletedProcess (stdout, stderr as text).

    The core dlopens OpenBLAS through the executable's RUNPATH; under ASan the dlopen call is
    intercepted (the caller becomes libasan, whose search path lacks it), so the wheel's folder
    is put on LD_LIBRARY_PATH: the sanitizer build then runs the OpenBLAS path too."""
    full = {**os.environ, **SANITIZER_ENV, **env}
    libdir = openblas_dir(exe.parent)
    if libdir is not None:
        full["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (libdir, os.environ.get("LD_LIBRARY_PATH")) if p)
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=full,
                          timeout=timeout)


def sanitizer_reports(stderr: str) -> list[str]:
    """Lines of AddressSanitizer / UBSan / LeakSanitizer reports in ``stderr``."""
    return [line for line in stderr.splitlines()
            if re.search(r"ERROR: (Address|Leak)Sanitizer|runtime error:", line)]
