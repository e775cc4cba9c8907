"""Bad inputs through the real CLI: one clear line on stderr, no traceback, outputs untouched.

Each case prepares a folder (input, data, model files) holding sentinel outputs (out.json,
lcurve.out, model.ckpt.pt, model.dft), runs ``python -m deepft ...`` in a subprocess and checks:
exit code != 0; stderr is exactly one line ``deepft CMD: error: ... (hint: ...)`` naming the
culprit; no ``Traceback`` (it appears with ``-v debug`` only); every sentinel is unchanged and no
new file appeared. The subprocesses run two at a time in a module fixture.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import pytest
from support.cli import run_deepft, small_water_input
from support.systems import first_frames_copy

from deepft.cli.main import main as deepft_main

SENTINELS = ("out.json", "lcurve.out", "model.ckpt.pt", "model.dft")


# ---- assets shared by the cases: a small system, trained checkpoints, a frozen model ---------
def tiny_input(system: Path, valid: Path | None = None, numb_steps: int = 1) -> dict:
    cfg = small_water_input(system.parent, numb_steps=numb_steps, disp_freq=1, save_freq=1)
    cfg["training"]["training_data"]["systems"] = [str(system)]
    cfg["training"]["validation_data"]["systems"] = [str(valid or system)]
    cfg["model"]["data_stat_nbatch"] = 1
    return cfg


def multitask_tiny(water: Path, organic: Path) -> dict:
    fit = {"neuron": [4], "seed": 1}
    loss = {"type": "ener", "start_pref_e": 1, "limit_pref_e": 1, "start_pref_f": 1,
            "limit_pref_f": 1}
    return {
        "model": {
            "shared_dict": {"tm": ["O", "H", "C"],
                            "d": {"type": "se_e2_a", "sel": [46, 92, 8], "rcut": 6.0,
                                  "rcut_smth": 0.5, "neuron": [4], "axis_neuron": 2}},
            "model_dict": {"water": {"type_map": "tm", "descriptor": "d", "fitting_net": fit},
                           "organic": {"type_map": "tm", "descriptor": "d",
                                       "fitting_net": fit}},
            "data_stat_nbatch": 1,
        },
        "learning_rate": {"start_lr": 1e-3, "stop_lr": 1e-4, "decay_steps": 1},
        "loss_dict": {"water": loss, "organic": loss},
        "training": {
            "data_dict": {"water": {"training_data": {"systems": [str(water)],
                                                      "batch_size": 1}},
                          "organic": {"training_data": {"systems": [str(organic)],
                                                        "batch_size": 1}}},
            "numb_steps": 1, "save_freq": 1, "disp_freq": 1, "seed": 1,
        },
    }


@pytest.fixture(scope="module")
def assets(tmp_path_factory, water_dir, organic_dir) -> dict[str, Path]:
    """A 4-frame water system, single- and multitask checkpoints (1 step) and their model.dft."""
    root = tmp_path_factory.mktemp("assets")
    system = first_frames_copy(water_dir / "data_0", root / "sys")
    out = {"system": system, "organic": organic_dir / "C4H3O1"}
    cwd = os.getcwd()
    try:
        for name, cfg in (("single", tiny_input(system)),
                          ("multi", multitask_tiny(system, out["organic"]))):
            folder = root / name
            folder.mkdir()
            (folder / "input.json").write_text(json.dumps(cfg))
            os.chdir(folder)
            assert deepft_main(["train", "input.json", "-v", "warning"]) == 0
            out[name] = folder / "model.ckpt-1.pt"
        assert deepft_main(["freeze", "-c", str(out["single"]), "-o", str(root / "good.dft"),
                            "-v", "warning"]) == 0
        out["dft"] = root / "good.dft"
        assert deepft_main(["freeze", "-c", str(out["multi"]), "-o", str(root / "multi.dft"),
                            "-v", "warning"]) == 0
        out["multi_dft"] = root / "multi.dft"
    finally:
        os.chdir(cwd)
    return out


# ---- the cases: name -> function(folder, assets) -> (argv, [substrings of the message]) -------
def write_cfg(folder: Path, cfg) -> None:
    (folder / "input.json").write_text(json.dumps(cfg, indent=1))


def train_with(mutate):
    """A case training on the small system after ``mutate(cfg, folder, assets)``."""
    def case(folder, assets):
        cfg = tiny_input(assets["system"])
        expect = mutate(cfg, folder, assets)
        write_cfg(folder, cfg)
        return ["train", "input.json"], expect
    return case


def train_on_system(edit):
    """A case whose training system is a copy of the small system changed by ``edit``."""
    def mutate(cfg, folder, assets):
        system = folder / "data" / "broken"
        shutil.copytree(assets["system"], system)
        expect = edit(system)
        cfg["training"]["training_data"]["systems"] = [str(system)]
        cfg["training"]["validation_data"]["systems"] = [str(assets["system"])]
        return expect
    return train_with(mutate)


def set_key(path: str, value):
    def mutate(cfg, folder, assets):
        *head, last = path.split("/")
        node = cfg
        for key in head:
            node = node[key]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
        return [last]
    return mutate


DELETE = object()


def raw_input(text: str, expect: list[str]):
    def case(folder, assets):
        (folder / "input.json").write_text(text)
        return ["train", "input.json"], expect
    return case


def npy_edit(name: str, fn, expect):
    def edit(system):
        path = system / "set.000" / f"{name}.npy"
        arr = np.load(path)
        np.save(path, fn(arr))
        return [f"{name}.npy", *expect]
    return edit


def truncate_npy(system):
    path = system / "set.000" / "coord.npy"
    path.write_bytes(path.read_bytes()[:200])
    return ["coord.npy"]


def unknown_element(system):
    (system / "type_map.raw").write_text("O\nC\n")
    return ["C", "type_map"]


def h5_missing_group(cfg, folder, assets):
    with h5py.File(folder / "data.h5", "w") as h5:
        h5.create_group("water")
    cfg["training"]["training_data"]["systems"] = [f"{folder / 'data.h5'}#/nope"]
    return ["nope"]


def multitask_case(mutate):
    def case(folder, assets):
        cfg = multitask_tiny(assets["system"], assets["organic"])
        expect = mutate(cfg)
        write_cfg(folder, cfg)
        return ["train", "input.json"], expect
    return case


def finetune_case(make_pretrained, extra=(), expect=()):
    def case(folder, assets):
        write_cfg(folder, tiny_input(assets["system"]))
        pre = make_pretrained(folder, assets)
        return ["train", "input.json", "--finetune", str(pre), *extra], list(expect)
    return case


def file_with(name: str, content: bytes):
    def make(folder, assets):
        (folder / name).write_bytes(content)
        return folder / name
    return make


def dft_variant(change):
    """A copy of the frozen model with ``change(bytes) -> bytes`` applied."""
    def make(folder, assets):
        path = folder / "bad.dft"
        path.write_bytes(change(assets["dft"].read_bytes()))
        return path
    return make


def restamped(edit_header):
    """``change`` for dft_variant: the header edited by ``edit_header(dict)``, checksum
    re-stamped, so the file reaches the validators behind the checksum."""
    def change(data: bytes) -> bytes:
        from deepft.io.model_file import assemble_model_file

        hlen = struct.unpack_from("<Q", data, 16)[0]
        header = json.loads(data[24:24 + hlen])
        edit_header(header)
        return assemble_model_file(header, data[len(data) - header["blob_nbytes"]:])
    return change


def _huge_shape(header):
    header["tensors"]["descriptor.davg"]["shape"] = [2**62, 4]


def _zero_sel(header):
    next(iter(header["branches"].values()))["descriptor"]["sel"][0] = 0


def cli_case(argv_fn, expect):
    def case(folder, assets):
        return argv_fn(folder, assets), expect
    return case


def set_version(data: bytes) -> bytes:
    return data[:8] + struct.pack("<I", 99) + data[12:]


def truncated_ckpt(folder, assets):
    data = assets["single"].read_bytes()
    (folder / "half.pt").write_bytes(data[: len(data) // 3])
    return folder / "half.pt"


CASES = {
    # ---- input JSON and command line ----
    "json_syntax": raw_input('{\n "model": {},\n "training": {}\n "loss": {}\n}\n',
                             ["input.json", "line 4, column 2"]),
    "json_not_object": raw_input("[1, 2]\n", ["JSON object"]),
    "json_duplicate_key": raw_input('{"model": {}, "model": {}}', ["'model'", "twice"]),
    "input_missing": cli_case(lambda f, a: ["train", "nothere.json"], ["nothere.json"]),
    "unknown_key": train_with(set_key("model/descriptor/rcutt", 6.0)),
    "unknown_top_key": train_with(set_key("learnig_rate", {})),
    "wrong_type": train_with(set_key("training/numb_steps", "ten")),
    "missing_key": train_with(set_key("training/numb_steps", DELETE)),
    "negative_rcut": train_with(set_key("model/descriptor/rcut", -6.0)),
    "rcut_smth_ge_rcut": train_with(set_key("model/descriptor/rcut_smth", 6.5)),
    "sel_too_small": train_with(lambda c, f, a: c["model"]["descriptor"].update(sel=[10, 20])
                                or ["sel [10, 20]", "at least [36, 69]"]),
    "empty_systems": train_with(lambda c, f, a: c["training"]["training_data"].update(
        systems=[]) or ["systems"]),
    "batch_size_zero": train_with(set_key("training/training_data/batch_size", 0)),
    "type_map_duplicate": train_with(set_key("model/type_map", ["O", "O"])),
    "nan_policy_unknown": train_with(set_key("training/nan_policy", "ignore")),
    "restart_key_bad": train_with(set_key("training/restart", "yes")),
    "loss_type_unknown": train_with(set_key("loss/type", "tensor")),
    "model_prob_unknown_branch": multitask_case(
        lambda c: c["training"].update(model_prob={"water": 1.0, "nope": 1.0}) or ["nope"]),
    "restart_missing": cli_case(lambda f, a: (write_cfg(f, tiny_input(a["system"])) or
                                              ["train", "input.json", "--restart", "gone.pt"]),
                                ["gone.pt", "does not exist"]),
    "init_model_truncated": cli_case(
        lambda f, a: (write_cfg(f, tiny_input(a["system"])) or
                      ["train", "input.json", "--init-model", str(truncated_ckpt(f, a))]),
        ["half.pt"]),
    "model_branch_without_finetune": cli_case(
        lambda f, a: (write_cfg(f, tiny_input(a["system"])) or
                      ["train", "input.json", "--model-branch", "water"]), ["--finetune"]),
    "finetune_missing": finetune_case(lambda f, a: f / "pre.pt", expect=["pre.pt"]),
    "finetune_not_deepft": finetune_case(file_with("pre.pt", b"PK\x03\x04 not a checkpoint"),
                                         expect=["pre.pt"]),
    "finetune_from_frozen": finetune_case(lambda f, a: a["dft"], expect=["frozen"]),
    "finetune_unknown_branch": finetune_case(
        lambda f, a: a["multi"], extra=["--model-branch", "nope"],
        expect=["'nope'", "['water', 'organic', 'RANDOM']"]),
    # ---- data ----
    "system_missing": train_with(lambda c, f, a: c["training"]["training_data"].update(
        systems=[str(f / "no_such_system")]) or ["no_such_system"]),
    "validation_system_missing": train_with(lambda c, f, a: c["training"]["validation_data"]
                                            .update(systems=[str(f / "no_valid")])
                                            or ["no_valid"]),
    "no_set_folder": train_on_system(lambda s: shutil.rmtree(s / "set.000") or ["set."]),
    "no_type_raw": train_on_system(lambda s: (s / "type.raw").unlink() or ["type.raw"]),
    "type_raw_not_int": train_on_system(lambda s: [(s / "type.raw").write_text("0 x 1\n"),
                                                   "type.raw"][1:]),
    "coord_wrong_shape": train_on_system(npy_edit("coord", lambda a: a[:, :-3], [])),
    "energy_frame_mismatch": train_on_system(npy_edit("energy", lambda a: a[:3], [])),
    "force_nan": train_on_system(npy_edit("force", lambda a: np.where(
        np.arange(a.size).reshape(a.shape) == 7, np.nan, a), ["NaN"])),
    "box_singular": train_on_system(npy_edit("box", lambda a: np.zeros_like(a), [])),
    "coord_truncated": train_on_system(truncate_npy),
    "element_not_in_type_map": train_on_system(unknown_element),
    "hdf5_group_missing": train_with(h5_missing_group),
    # ---- model files ----
    "test_dft_truncated": cli_case(
        lambda f, a: ["test", "-m", str(dft_variant(lambda d: d[: len(d) // 2])(f, a)),
                      "-s", str(a["system"])], ["bad.dft"]),
    "test_dft_bad_magic": cli_case(
        lambda f, a: ["test", "-m", str(dft_variant(lambda d: b"NOTADEEP" + d[8:])(f, a)),
                      "-s", str(a["system"])], ["bad.dft"]),
    "test_dft_future_version": cli_case(
        lambda f, a: ["test", "-m", str(dft_variant(set_version)(f, a)), "-s",
                      str(a["system"])], ["bad.dft", "99"]),
    "test_dft_checksum": cli_case(
        lambda f, a: ["test", "-m", str(dft_variant(
            lambda d: d[:40] + bytes([d[40] ^ 1]) + d[41:])(f, a)), "-s", str(a["system"])],
        ["bad.dft", "file is corrupt (checksum mismatch in the header)"]),
    "test_dft_overflowing_shape": cli_case(
        lambda f, a: ["test", "-m", str(dft_variant(restamped(_huge_shape))(f, a)), "-s",
                      str(a["system"])], ["bad.dft", "descriptor.davg"]),
    "test_dft_zero_sel": cli_case(
        lambda f, a: ["test", "-m", str(dft_variant(restamped(_zero_sel))(f, a)), "-s",
                      str(a["system"])], ["bad.dft", "sel"]),
    "test_model_missing": cli_case(lambda f, a: ["test", "-m", "gone.dft", "-s",
                                                 str(a["system"])], ["gone.dft"]),
    "test_system_missing": cli_case(lambda f, a: ["test", "-m", str(a["dft"]), "-s",
                                                  str(f / "no_sys")], ["no_sys"]),
    "test_unknown_branch": cli_case(lambda f, a: ["test", "-m", str(a["multi"]), "-s",
                                                  str(a["system"]), "--model-branch", "nope"],
                                    ["'nope'", "['water', 'organic']"]),
    "freeze_not_deepft": cli_case(
        lambda f, a: ["freeze", "-c", str(file_with("bad.pt", b"\x00" * 64)(f, a)),
                      "-o", "model.dft"], ["bad.pt"]),
    "freeze_truncated": cli_case(lambda f, a: ["freeze", "-c", str(truncated_ckpt(f, a)),
                                               "-o", "model.dft"], ["half.pt"]),
    "freeze_missing": cli_case(lambda f, a: ["freeze", "-c", "gone.pt", "-o", "model.dft"],
                               ["gone.pt"]),
    "freeze_unknown_branch": cli_case(lambda f, a: ["freeze", "-c", str(a["multi"]),
                                                    "--model-branch", "nope", "-o",
                                                    "model.dft"],
                                      ["'nope'", "['water', 'organic']"]),
    "show_not_deepft": cli_case(lambda f, a: ["show", str(file_with("x.pt", b"junk")(f, a)),
                                              "type-map"], ["x.pt"]),
    # ---- silent wrong answers: refused instead ----
    "test_multitask_dft_without_branch": cli_case(
        lambda f, a: ["test", "-m", str(a["multi_dft"]), "-s", str(a["system"])],
        ["multi.dft", "--model-branch", "['water', 'organic']"]),
    "change_bias_multitask_dft_without_branch": cli_case(
        lambda f, a: ["change-bias", str(a["multi_dft"]), "-s", str(a["system"]), "-o",
                      "new.dft"], ["multi.dft", "--model-branch", "['water', 'organic']"]),
    "change_bias_multitask_pt_without_branch": cli_case(
        lambda f, a: ["change-bias", str(a["multi"]), "-s", str(a["system"]), "-o", "new.pt"],
        ["--model-branch", "['water', 'organic']"]),
    "type_map_raw_repeats_an_element": train_on_system(
        lambda s: [(s / "type_map.raw").write_text("O\nO\n"), "type_map.raw", "'O'"][1:]),
    "json_infinity": train_with(set_key("learning_rate/start_lr", float("inf"))),
    "json_nan_in_a_list": train_with(set_key("model/descriptor/neuron", [4, float("nan")])),
    "loss_all_zero_keeps_lcurve": train_with(lambda c, f, a: c["loss"].update(
        start_pref_e=0, limit_pref_e=0, start_pref_f=0, limit_pref_f=0, start_pref_v=0,
        limit_pref_v=0) or ["loss", "zero"]),
    "restart_multitask_checkpoint_into_single_task": cli_case(
        lambda f, a: (write_cfg(f, tiny_input(a["system"])) or
                      ["train", "input.json", "--restart", str(a["multi"])]),
        ["multitask checkpoint", "single-task"]),
    "init_model_other_architecture": cli_case(
        lambda f, a: (write_cfg(f, set_neuron(tiny_input(a["system"]), [8, 8])) or
                      ["train", "input.json", "--init-model", str(a["single"])]),
        ["--init-model", "fitting_net/neuron"]),
    # ---- unwritable outputs and missing list files, refused before any work ----
    "freeze_output_folder_missing": cli_case(
        lambda f, a: ["freeze", "-c", str(a["single"]), "-o", "nodir/model.dft"], ["nodir"]),
    "freeze_output_is_a_folder": cli_case(
        lambda f, a: ["freeze", "-c", str(a["single"]), "-o", str(f)], ["is a folder"]),
    "train_output_under_a_file": cli_case(
        lambda f, a: (write_cfg(f, tiny_input(a["system"])) or
                      ["train", "input.json", "-o", "out.json/out.json"]), ["-o", "is a file"]),
    "train_disp_file_folder_missing": train_with(set_key("training/disp_file", "no/lcurve.out")),
    "log_path_folder_missing": cli_case(
        lambda f, a: ["test", "-m", str(a["dft"]), "-s", str(a["system"]), "-l", "no/log.txt"],
        ["-l", "no/log.txt"]),
    "test_negative_numb_test": cli_case(
        lambda f, a: ["test", "-m", str(a["dft"]), "-s", str(a["system"]), "-n", "-2"],
        ["-n -2"]),
    "test_detail_folder_missing": cli_case(
        lambda f, a: ["test", "-m", str(a["dft"]), "-s", str(a["system"]), "-d", "no/detail"],
        ["-d", "no/detail"]),
    "test_detail_kept_when_a_system_is_missing": cli_case(
        lambda f, a: [(f / "detail.e.out").write_text("earlier results\n"),
                      ["test", "-m", str(a["dft"]), "-s", str(a["system"]), "-s",
                       str(f / "no_sys"), "-d", "detail"]][1], ["no_sys"]),
    "change_bias_list_file_missing": cli_case(
        lambda f, a: ["change-bias", str(a["dft"]), "-f", "systems.txt", "-o", "new.dft"],
        ["-f", "systems.txt"]),
    "restart_with_other_branches": cli_case(
        lambda f, a: (write_cfg(f, rename_branch(multitask_tiny(a["system"], a["organic"]),
                                                 "organic", "gas")) or
                      ["train", "input.json", "--restart", str(a["multi"])]),
        ["['water', 'gas']", "['water', 'organic']"]),
    "restart_without_optimizer_state": cli_case(
        lambda f, a: (write_cfg(f, tiny_input(a["system"])) or
                      ["train", "input.json", "--restart", str(ckpt_without(f, a, "optimizer"))]),
        ["no_optimizer.pt", "'optimizer'"]),
    "save_ckpt_below_a_file": train_with(set_key("training/save_ckpt", "out.json/sub/model.ckpt")),
    "test_branch_of_a_single_task_checkpoint": cli_case(
        lambda f, a: ["test", "-m", str(a["single"]), "-s", str(a["system"]), "--model-branch",
                      "foo"], ["'foo'", "['Default']"]),
    "change_bias_output_folder_missing": cli_case(
        lambda f, a: ["change-bias", str(a["dft"]), "-s", str(a["system"]), "-o",
                      "no/new.dft"], ["no/new.dft"]),
}


def rename_branch(cfg: dict, old: str, new: str) -> dict:
    """``cfg`` with branch ``old`` called ``new`` in model_dict, loss_dict and data_dict."""
    for section in (cfg["model"]["model_dict"], cfg["loss_dict"], cfg["training"]["data_dict"]):
        section[new] = section.pop(old)
    return cfg


def ckpt_without(folder: Path, assets: dict, field: str) -> Path:
    """A copy of the single-task checkpoint without ``field``."""
    import torch

    state = torch.load(assets["single"], weights_only=True)
    del state[field]
    path = folder / f"no_{field}.pt"
    torch.save(state, path)
    return path


def set_neuron(cfg: dict, neuron: list[int]) -> dict:
    cfg["model"]["fitting_net"]["neuron"] = neuron
    return cfg


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def run_case(name: str, root: Path, assets: dict) -> dict:
    folder = root / name
    folder.mkdir()
    for sentinel in SENTINELS:
        (folder / sentinel).write_text(f"sentinel {sentinel}\n")
    argv, expect = CASES[name](folder, assets)
    before = snapshot(folder)
    proc = run_deepft(*argv, cwd=folder, check=False)
    return {"argv": argv, "expect": expect, "proc": proc, "before": before,
            "after": snapshot(folder)}


@pytest.fixture(scope="module")
def results(tmp_path_factory, assets) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("bad")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(run_case, name, root, assets) for name in CASES}
    return {name: f.result() for name, f in futures.items()}


def test_there_are_enough_cases():
    assert len(CASES) >= 30


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(results, name):
    r = results[name]
    proc, what = r["proc"], f"{name}: deepft {' '.join(r['argv'])}"
    assert proc.returncode != 0, f"{what} succeeded:\n{proc.stdout[-2000:]}"
    err = proc.stderr.strip()
    assert "Traceback" not in err, f"{what}:\n{err}"
    lines = err.splitlines()
    assert len(lines) == 1, f"{what}: expected one line on stderr:\n{err}"
    assert lines[0].startswith(f"deepft {r['argv'][0]}: error: "), f"{what}: {err}"
    assert "(hint: " in lines[0], f"{what}: no hint: {err}"
    for piece in r["expect"]:
        assert piece in lines[0], f"{what}: {piece!r} not in: {err}"
    changed = sorted(k for k in r["after"].keys() | r["before"].keys()
                     if r["after"].get(k) != r["before"].get(k))
    assert not changed, f"{what}: files changed or created: {changed}"


@pytest.mark.slow
def test_debug_level_shows_the_traceback(tmp_path, assets):
    write_cfg(tmp_path, tiny_input(assets["system"]))
    proc = run_deepft("train", "input.json", "--restart", "gone.pt", "-v", "debug",
                      cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "Traceback" in proc.stderr
    assert "gone.pt does not exist" in proc.stderr.strip().splitlines()[-1]
