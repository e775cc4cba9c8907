"""Input configuration: the dargs schema, reading, normalization, multitask resolution.

Public API::

    load_input(path) -> dict              # parse the JSON (InputError with line/column)
    normalize(raw, source) -> dict        # strict check + defaults + shared_dict resolution
    normalize_model(model, source) -> dict  # the same for a model section on its own
    is_multitask(cfg) -> bool
    branch_names(cfg) -> list[str]        # ["Default"] for single task
    write_normalized(cfg, path)           # atomic JSON write (out.json)

The schema itself lives in the component modules (descriptor, fitting, loss, learning_rate,
training, finetune, model) and is assembled in deepft.config.schema; ``deepft
doc-train-input`` prints it (deepft.config.doc).
"""

from deepft.config.branches import branch_names, is_multitask
from deepft.config.io import load_input, write_normalized
from deepft.config.normalize import normalize, normalize_model

__all__ = ["branch_names", "is_multitask", "load_input", "normalize", "normalize_model",
           "write_normalized"]
