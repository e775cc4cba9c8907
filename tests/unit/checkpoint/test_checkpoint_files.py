"""Checkpoints are written atomically, rotated, loaded without running code from the file,
and bad files give clear errors naming the file and the field."""

import os
import stat

import pytest
import torch

from deepft.checkpoint import (
    list_checkpoints,
    load_checkpoint,
    newest_complete_checkpoint,
    save_checkpoint,
)
from deepft.errors import ModelFileError


def state(step: int, **extra) -> dict:
    """The smallest state load_checkpoint accepts, plus ``extra``."""
    return {"step": step, "config": {"model": {}}, "model": {}, **extra}


def test_save_rotate_and_latest_link(tmp_path):
    prefix = str(tmp_path / "model.ckpt")
    for step in (10, 20, 30, 40):
        save_checkpoint(state(step, model={"w": torch.full((3,), float(step))}),
                        prefix, step, max_keep=2)
    kept = [p.name for p in list_checkpoints(prefix)]
    assert kept == ["model.ckpt-30.pt", "model.ckpt-40.pt"]
    latest = load_checkpoint(prefix + ".pt")
    assert latest["step"] == 40 and torch.equal(latest["model"]["w"], torch.full((3,), 40.0))
    assert os.readlink(prefix + ".pt") == "model.ckpt-40.pt"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_truncated_checkpoint_is_skipped_by_auto_restart(tmp_path):
    prefix = str(tmp_path / "model.ckpt")
    save_checkpoint(state(1), prefix, 1, max_keep=5)
    save_checkpoint(state(2), prefix, 2, max_keep=5)
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


def test_checkpoint_gets_the_users_permissions(tmp_path):
    """Written with 0o666 less the umask (a colleague can read it), not a temp file's 0o600."""
    old = os.umask(0o022)
    try:
        path = save_checkpoint(state(1), str(tmp_path / "model.ckpt"), 1, max_keep=1)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


class RunsCode:
    """A pickled object whose loading would call os.system (what a hostile file does)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("where", ["top", "config", "rng"])
def test_checkpoint_that_would_run_code_is_refused_unexecuted(tmp_path, where):
    marker = tmp_path / "pwned"
    content = state(1, format="deepft-checkpoint", format_version=1)
    if where == "top":
        content = RunsCode(marker)
    elif where == "config":
        content["config"]["model"]["x"] = RunsCode(marker)
    else:
        content["rng"] = {"branch": RunsCode(marker)}
    path = tmp_path / "hostile.pt"
    torch.save(content, path)
    with pytest.raises(ModelFileError, match="could run code") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value)
    assert not marker.exists(), "loading the checkpoint executed code from it"


@pytest.mark.parametrize("change, field", [
    (lambda s: s.pop("config"), "'config'"),
    (lambda s: s.pop("model"), "'model'"),
    (lambda s: s.pop("step"), "'step'"),
    (lambda s: s.update(config=[1, 2]), "'config'"),
    (lambda s: s.update(step="ten"), "'step'"),
    (lambda s: s.update(step=True), "'step'"),
    (lambda s: s.update(config={"training": {}}), "'config/model'"),
    (lambda s: s.update(model={"w": [1.0, 2.0]}), "'model'"),
    (lambda s: s.update(format_version=99), "format version 99"),
])
def test_inconsistent_checkpoints_name_the_field(tmp_path, change, field):
    content = state(1, format="deepft-checkpoint", format_version=1)
    change(content)
    path = tmp_path / "bad.pt"
    torch.save(content, path)
    with pytest.raises(ModelFileError) as err:
        load_checkpoint(path)
    assert str(path) in str(err.value) and field in str(err.value)


def test_frozen_model_and_folder_are_not_checkpoints(tmp_path):
    frozen = tmp_path / "model.dft"
    frozen.write_bytes(b"DEEPFTMD" + bytes(64))
    with pytest.raises(ModelFileError, match="frozen model"):
        load_checkpoint(frozen)
    with pytest.raises(ModelFileError, match="is a folder"):
        load_checkpoint(tmp_path)
