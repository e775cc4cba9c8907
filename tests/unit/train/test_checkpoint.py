"""Checkpoints are written atomically, rotated, and bad files give clear errors."""

import os

import pytest
import torch

from deepft.errors import ModelFileError
from deepft.train.checkpoint import (
    list_checkpoints,
    load_checkpoint,
    newest_complete_checkpoint,
    save_checkpoint,
)


def test_save_rotate_and_latest_link(tmp_path):
    prefix = str(tmp_path / "model.ckpt")
    for step in (10, 20, 30, 40):
        save_checkpoint({"step": step, "model": {"w": torch.full((3,), float(step))}},
                        prefix, step, max_keep=2)
    kept = [p.name for p in list_checkpoints(prefix)]
    assert kept == ["model.ckpt-30.pt", "model.ckpt-40.pt"]
    latest = load_checkpoint(prefix + ".pt")
    assert latest["step"] == 40 and torch.equal(latest["model"]["w"], torch.full((3,), 40.0))
    assert os.readlink(prefix + ".pt") == "model.ckpt-40.pt"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_truncated_checkpoint_is_skipped_by_auto_restart(tmp_path):
    prefix = str(tmp_path / "model.ckpt")
    save_checkpoint({"step": 1}, prefix, 1, max_keep=5)
    save_checkpoint({"step": 2}, prefix, 2, max_keep=5)
    newest = tmp_path / "model.ckpt-2.pt"
    newest.write_bytes(newest.read_bytes()[:40])  # simulate a torn write from another tool
    with pytest.raises(ModelFileError, match="model.ckpt-2.pt"):
        load_checkpoint(newest)
    assert newest_complete_checkpoint(prefix).name == "model.ckpt-1.pt"


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    (b"not a torch file at all", "not a readable torch file"),
])
def test_bad_checkpoint_files(tmp_path, content, message):
    path = tmp_path / "x.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        load_checkpoint(path)


def test_non_deepft_torch_file(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"model": {}}, path)
    with pytest.raises(ModelFileError, match="not a deepft checkpoint"):
        load_checkpoint(path)
