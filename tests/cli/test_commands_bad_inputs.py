"""Bad inputs of `deepft model-devi` and `deepft neighbor-stat` through the CLI entry point:
exit code 1, exactly one stderr line ``deepft CMD: error: ...`` naming the culprit, no output
file, no traceback."""

from __future__ import annotations

import pytest
from support.model_files import write_model

from deepft.cli.main import main as deepft_main


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad_devi_models")
    return {"m1": write_model(d / "m1.dft", seed=1), "m2": write_model(d / "m2.dft", seed=2),
            "swapped": write_model(d / "hw.dft", type_map=("H", "O"), seed=3)}


def run_bad(capsys, argv: list[str], *culprits: str) -> str:
    rc = deepft_main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc == 1, f"{argv}: exit code {rc}, stderr {err!r}"
    assert len(lines) == 1 and lines[0].startswith(f"deepft {argv[0]}: error: "), err
    assert "Traceback" not in err
    for c in culprits:
        assert c in lines[0], f"{argv}: {c!r} not named in {lines[0]!r}"
    return lines[0]


def test_model_devi_bad_inputs(capsys, models, water_dir, tmp_path):
    sys0 = str(water_dir / "data_0")
    m1, m2 = str(models["m1"]), str(models["m2"])
    out = tmp_path / "devi.out"
    base = ["model-devi", "-s", sys0, "-o", str(out)]
    missing = str(tmp_path / "missing.dft")
    run_bad(capsys, [*base, "-m", m1, missing], "missing.dft", "cannot open")
    run_bad(capsys, [*base, "-m", m1], "at least 2 models", "m1.dft")
    run_bad(capsys, ["model-devi", "-s", sys0, "-m", m1, m2, "-o", str(tmp_path / "no" / "d.out")],
            "-o", "does not exist")  # checked before any frame is evaluated
    run_bad(capsys, [*base, "-m", m1, str(models["swapped"])], "m1.dft", "hw.dft",
            "['O', 'H'] vs ['H', 'O']")
    nosys = str(tmp_path / "no_such_system")
    run_bad(capsys, ["model-devi", "-m", m1, m2, "-s", nosys, "-o", str(out)], nosys,
            "does not exist")
    for freq in ("0", "-5"):
        run_bad(capsys, [*base, "-m", m1, m2, "-f", freq], "frequency", freq)
    run_bad(capsys, [*base, "-m", m1, m2, "--relative", "-0.1"], "relative", "-0.1")
    run_bad(capsys, [*base, "-m", m1, m2, "--relative-v", "-1"], "relative_v", "-1")
    assert not out.exists()


def test_neighbor_stat_bad_inputs(capsys, water_dir, organic_dir, tmp_path):
    sys0 = str(water_dir / "data_0")
    nosys = str(tmp_path / "nowhere")
    run_bad(capsys, ["neighbor-stat", "-s", nosys, "-t", "O", "H"], nosys, "does not exist")
    for rcut in ("0", "-2", "nan"):
        run_bad(capsys, ["neighbor-stat", "-s", sys0, "-r", rcut, "-t", "O", "H"], "rcut", rcut)
    run_bad(capsys, ["neighbor-stat", "-s", sys0, "-t", "O"], "element H", "data_0")
    run_bad(capsys, ["neighbor-stat", "-s", str(organic_dir), "-t", "O", "H"], "element C",
            "C1H4O2")


def test_neighbor_stat_prints_as_dp(capsys, organic_dir):
    """The two lines of `dp neighbor-stat` with the values of deepft.data.neighbor_stat
    (checked against brute force in tests/unit/data/test_neighbor_stat.py)."""
    from deepft.data import System
    from deepft.data.neighbor_stat import neighbor_stat

    path = organic_dir / "C4H3O1"
    rc = deepft_main(["neighbor-stat", "-s", str(path), "-r", "4", "-t", "C", "H", "O"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    want = neighbor_stat([System(path, ["C", "H", "O"])], 4.0)
    assert 0.5 < want.min_nbor_dist < 1.6 and len(want.max_nbor_size) == 3
    assert f"[deepft] min_nbor_dist: {want.min_nbor_dist:f}" in out
    assert f"[deepft] max_nbor_size: {want.max_nbor_size}" in out
    assert sum(want.max_nbor_size) <= 7  # 8 atoms, no PBC
