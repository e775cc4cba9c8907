"""expand_systems on folders of systems."""

from __future__ import annotations

import pytest

from deepft.data import expand_systems
from deepft.errors import DataError


def test_expand_shared_folders(data_root, water_dir, organic_dir):
    water = [str(water_dir / f"data_{i}") for i in range(4)]
    organic = [str(organic_dir / n) for n in ("C1H4O2", "C3H3O4", "C4H3O1")]
    assert expand_systems(str(water_dir)) == water
    assert expand_systems(organic_dir) == organic  # PathLike accepted
    assert expand_systems(str(data_root)) == sorted(organic + water)
    # entry order is kept (auto_prob blocks refer to it), each entry sorted
    assert expand_systems([str(water_dir), str(organic_dir)]) == water + organic
    assert expand_systems([str(organic_dir), str(water_dir / "data_2")]) == organic + water[2:3]


def test_expand_single_system_is_itself(water_dir):
    assert expand_systems(str(water_dir / "data_3")) == [str(water_dir / "data_3")]
    assert expand_systems(f"{water_dir}/data_3/") == [str(water_dir / "data_3")]


def test_expand_nested_and_symlinked(tmp_path, water_dir, organic_dir):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "w0").symlink_to(water_dir / "data_0")
    (tmp_path / "a" / "o").symlink_to(organic_dir)
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")  # must not recurse forever
    found = expand_systems(str(tmp_path))
    assert found == [str(tmp_path / "a" / "b" / "w0"),
                     str(tmp_path / "a" / "o" / "C1H4O2"), str(tmp_path / "a" / "o" / "C3H3O4"),
                     str(tmp_path / "a" / "o" / "C4H3O1")]


def test_expand_missing_path(tmp_path):
    with pytest.raises(DataError, match=r"data path .*nowhere does not exist") as err:
        expand_systems([str(tmp_path / "nowhere")])
    assert "current directory" in err.value.hint


def test_expand_folder_without_systems(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(DataError, match=r"no data system found in .*empty"):
        expand_systems(str(tmp_path / "empty"))


def test_expand_plain_file(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=r"notes.txt is a file"):
        expand_systems(str(tmp_path / "notes.txt"))
