"""load_input / write_normalized: atomic output, readable back."""

from __future__ import annotations

import json

import pytest

from deepft.config import load_input, write_normalized
from deepft.errors import InputError


def test_write_replaces_atomically_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "out.json"
    write_normalized({"a": 1}, path)
    write_normalized({"a": 2, "b": [1.5, None]}, path)
    assert load_input(path) == {"a": 2, "b": [1.5, None]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.json"
    write_normalized({"a": 1}, path)
    with pytest.raises(TypeError):
        write_normalized({"a": object()}, path)
    assert json.loads(path.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_write_into_missing_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot write the normalized input .*missing"):
        write_normalized({}, tmp_path / "missing" / "out.json")


def test_relative_path_in_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_normalized({"x": 1}, "out.json")
    assert load_input("out.json") == {"x": 1}
