"""``deepft show`` on multitask/single-task checkpoints and frozen models."""

from __future__ import annotations

import json

import pytest
from support.cli import run_deepft, write_json
from support.examples import SMALL_DESCRIPTOR, SMALL_FITTING, shrunk

ALL = ["model-branch", "type-map", "descriptor", "fitting-net", "size", "observed-type"]


def expected_sizes(ntypes=3, embed=(1, *SMALL_DESCRIPTOR["neuron"]), fit=SMALL_FITTING):
    """Parameter counts from the architecture: (descriptor, fitting net) of one branch."""
    def layer(i, o, idt):
        return i * o + o + (o if idt else 0)

    net = sum(layer(a, b, False) for a, b in zip(embed, embed[1:], strict=False))
    widths = [embed[-1] * SMALL_DESCRIPTOR["axis_neuron"], *fit]
    fnet = sum(layer(a, b, b in (a, 2 * a)) for a, b in zip(widths, widths[1:], strict=False))
    fnet += widths[-1] + 1
    return ntypes * net, ntypes * fnet


def lines(stdout: str) -> list[str]:
    return [ln.removeprefix("[deepft] ") for ln in stdout.splitlines()]


@pytest.mark.parametrize("model", ["model.ckpt.pt", "multi.dft"])
def test_show_multitask_model(multitask_example_run, model):
    out = lines(run_deepft("show", model, *ALL, cwd=multitask_example_run).stdout)
    desc, fit = expected_sizes()
    expected = [
        "This is a multitask model",
        # a checkpoint offers RANDOM (fine-tuning starts from it); a frozen model cannot
        "Available model branches are ['water', 'organic', 'RANDOM'], where 'RANDOM' means "
        "using a randomly initialized fitting net." if model.endswith(".pt") else
        "Available model branches are ['water', 'organic']",
        "The type_map of branch water is ['O', 'H', 'C']",
        "The type_map of branch organic is ['O', 'H', 'C']",
        "Parameter counts of branch water:",
        f"Parameters in descriptor: {desc:,}",
        f"Parameters in fitting-net: {fit:,}",
        f"Parameters in total: {desc + fit:,}",
        f"Parameters in the whole model (shared components counted once): {desc + 2 * fit:,}",
        "The observed types for each branch:",
        "water: Number of observed types: 2",
        "water: Observed types: ['H', 'O']",
        "organic: Observed types: ['H', 'C', 'O']",
        "TOTAL number of observed types in the model: 3",
        "TOTAL observed types in the model: ['H', 'C', 'O']",
    ]
    for line in expected:
        assert line in out, f"{line!r} missing from:\n" + "\n".join(out)
    assert out.index(expected[0]) < out.index(expected[1]) < out.index(expected[2])
    desc_lines = [ln for ln in out if ln.startswith("The descriptor parameter of branch")]
    assert len(desc_lines) == 2 and "'sel': [46, 92, 8]" in desc_lines[0]
    assert "'type': 'se_e2_a'" in desc_lines[1]
    fit_lines = [ln for ln in out if ln.startswith("The fitting_net parameter of branch")]
    assert "'neuron': [8, 8]" in fit_lines[0]


@pytest.mark.slow
def test_show_single_task_and_its_errors(multitask_example_run, data_root, tmp_path):
    cfg = shrunk("finetune/input.json", data_root, numb_steps=2, disp_freq=2)
    write_json(cfg, tmp_path / "input.json")
    run_deepft("train", "input.json", "--finetune", str(multitask_example_run / "model.ckpt.pt"),
               "--model-branch", "organic", cwd=tmp_path)
    out = lines(run_deepft("show", "model.ckpt.pt", "type-map", "size", "observed-type",
                           cwd=tmp_path).stdout)
    desc, fit = expected_sizes()
    assert out[:2] == ["This is a singletask model", "The type_map is ['O', 'H', 'C']"]
    assert "Parameter counts:" in out and f"Parameters in total: {desc + fit:,}" in out
    assert "Observed types: ['H', 'C', 'O']" in out
    bad = run_deepft("show", "model.ckpt.pt", "model-branch", cwd=tmp_path, check=False)
    assert bad.returncode == 1 and "requires a multitask model" in bad.stderr
    (tmp_path / "junk.pt").write_text(json.dumps({"not": "a model"}))
    bad = run_deepft("show", "junk.pt", "size", cwd=tmp_path, check=False)
    assert bad.returncode == 1 and "junk.pt" in bad.stderr and "Traceback" not in bad.stderr


def test_show_one_branch_frozen_out_of_a_multitask_model(multitask_example_run, tmp_path):
    """A model.dft holding one branch of a multitask checkpoint is a singletask model (no
    branch list, no RANDOM); the type map is that branch's."""
    run_deepft("freeze", "-c", str(multitask_example_run / "model.ckpt.pt"), "-o",
               "organic.dft", "--model-branch", "organic", cwd=tmp_path)
    out = lines(run_deepft("show", "organic.dft", "type-map", "size", cwd=tmp_path).stdout)
    desc, fit = expected_sizes()
    assert out[:2] == ["This is a singletask model", "The type_map is ['O', 'H', 'C']"], out
    assert f"Parameters in total: {desc + fit:,}" in out
    bad = run_deepft("show", "organic.dft", "model-branch", cwd=tmp_path, check=False)
    assert bad.returncode == 1 and "requires a multitask model" in bad.stderr
