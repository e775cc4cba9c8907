"""DeePMD-kit's own example inputs and comparisons of raw against normalized configs.

tests/unit/config/inputs/ holds, byte for byte, DeePMD-kit's examples/water/se_e2_a/input.json and
input_torch.json (deepmodeling/deepmd-kit at f7f7f182a836), and its
examples/water_multi_task/pytorch_example/input_torch.json and input_torch_sharefit.json with
the shared dpa2 descriptor replaced by the se_e2_a descriptor of the water example (the only
descriptor deepft implements; key renamed se_e2_a_descriptor, structure unchanged). The
sharefit file also drops ``dim_case_embd: 2`` (case embedding is not implemented; a test checks
that it is rejected).
"""

from __future__ import annotations

import copy
import json

from support.paths import CONFIG_INPUTS

INPUTS = CONFIG_INPUTS
SINGLE = ("water_se_e2_a.json", "water_se_e2_a_torch.json")
MULTI = ("water_multi_task_se_e2_a.json", "water_multi_task_sharefit_se_e2_a.json")


def read(name: str) -> dict:
    """The raw parsed fixture (fresh copy)."""
    return json.loads((INPUTS / name).read_text())


def without_comments(value):
    if isinstance(value, dict):
        return {k: without_comments(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [without_comments(v) for v in value]
    return value


def assert_contained(given, normalized, path="") -> None:
    """Every value of ``given`` is in ``normalized`` unchanged (1 == 1.0)."""
    if isinstance(given, dict):
        assert isinstance(normalized, dict), path
        for key, value in given.items():
            assert key in normalized, f"{path}/{key} missing after normalization"
            assert_contained(value, normalized[key], f"{path}/{key}")
    elif isinstance(given, list):
        assert isinstance(normalized, list) and len(normalized) == len(given), path
        for i, (a, b) in enumerate(zip(given, normalized, strict=True)):
            assert_contained(a, b, f"{path}/{i}")
    else:
        assert type(given) is type(normalized) or {type(given), type(normalized)} == {int, float}, \
            f"{path}: {given!r} became {normalized!r}"
        assert given == normalized, f"{path}: {given!r} became {normalized!r}"


def deep(value):
    return copy.deepcopy(value)
