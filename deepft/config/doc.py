"""``deepft doc-train-input``: the whole input schema as text (dargs ``gen_doc``) or JSON."""

from __future__ import annotations

import json
import sys

from dargs import ArgumentEncoder

from deepft.config import schema

MULTITASK_ONLY = ("model", "loss_dict", "training")


def doc_text() -> str:
    """Every key of a single-task input, then the keys that differ in a multitask input."""
    single = "\n\n".join(arg.gen_doc() for arg in schema.gen_args(multi_task=False))
    multi = "\n\n".join(arg.gen_doc() for arg in schema.gen_args(multi_task=True)
                        if arg.name in MULTITASK_ONLY)
    return ("deepft training input\n=====================\n\n" + single
            + "\n\n\nMultitask input\n===============\n\n"
            "A multitask input replaces model by model/shared_dict + model/model_dict, loss by "
            "loss_dict, and training/training_data, validation_data, stat_file by "
            "training/data_dict + training/model_prob; everything else is as above.\n\n"
            + multi + "\n")


def doc_json() -> str:
    """``{"single_task": [arguments], "multi_task": [arguments]}`` in dargs' JSON encoding."""
    return json.dumps({"single_task": schema.gen_args(multi_task=False),
                       "multi_task": schema.gen_args(multi_task=True)},
                      cls=ArgumentEncoder, indent=2)


def print_doc(out_type: str = "text") -> None:
    """Print the schema to stdout; ``out_type`` is ``"text"`` or ``"json"``."""
    if out_type == "text":
        text = doc_text()
    elif out_type == "json":
        text = doc_json()
    else:
        raise ValueError(f"unknown out_type {out_type!r} (text or json)")
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
