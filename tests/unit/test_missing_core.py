"""A source checkout without the compiled module, run from its root: `from deepft import _core`
fails with an ImportError that says the checkout shadows the installed package and what to do
(not Python's bare "cannot import name '_core'")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SO = "_core" + __import__("importlib.machinery").machinery.EXTENSION_SUFFIXES[0]

SCRIPT = """
try:
    from deepft.infer import DeepPot
    DeepPot("model.dft")
except ImportError as exc:
    print("ImportError:", exc)
    print("name:", exc.name)
"""


@pytest.fixture
def checkout(tmp_path) -> Path:
    """tmp/src: pyproject.toml and the Python files of deepft/, no compiled module."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "deepft", src / "deepft",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    shutil.copyfile(REPO / "pyproject.toml", src / "pyproject.toml")
    return src


def run_in(src: Path, site: Path) -> str:
    """Run SCRIPT in ``src`` with ``site`` as the only other import folder (``-S``: no
    site-packages, so no installed or editable deepft of this environment interferes). numpy,
    which deepft.infer needs, is linked into ``site``."""
    import numpy

    site.mkdir(parents=True, exist_ok=True)
    numpy_dir = Path(numpy.__file__).resolve().parent
    for name in ("numpy", "numpy.libs"):
        target = numpy_dir.parent / name
        if target.exists() and not (site / name).exists():
            (site / name).symlink_to(target)
    env = dict(os.environ, PYTHONPATH=str(site))
    proc = subprocess.run([sys.executable, "-S", "-c", SCRIPT], cwd=src, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_checkout_shadowing_an_installed_package(checkout, tmp_path):
    site = tmp_path / "site"
    (site / "deepft").mkdir(parents=True)
    (site / "deepft" / SO).write_bytes(b"")  # never imported: the checkout comes first
    info = site / "deepft-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: deepft\nVersion: 0.1.0\n")
    (info / "RECORD").write_text(f"deepft/{SO},,\n")
    out = run_in(checkout, site)
    assert out.startswith("ImportError: cannot import deepft._core, the compiled C++ extension")
    assert f"{checkout / 'deepft'} does not hold it" in out
    assert f"a source checkout which shadows the installed deepft at {site / 'deepft'}" in out
    for fix in ("run Python from another folder", "pip install -e .", "tools/dev_build.sh"):
        assert fix in out
    assert "name: deepft._core" in out


def test_checkout_without_a_build(checkout, tmp_path):
    out = run_in(checkout, tmp_path / "bare_site")
    assert "a source checkout in which the extension was not built" in out
    assert "shadows" not in out and "tools/dev_build.sh" in out
