"""The whole input schema: the top-level keys assembled from the component modules."""

from __future__ import annotations

from functools import lru_cache

from dargs import Argument

from deepft.config.learning_rate import learning_rate_arg
from deepft.config.loss import loss_arg, loss_dict_arg
from deepft.config.model import model_arg, multitask_model_arg
from deepft.config.training import training_arg


def gen_args(multi_task: bool = False) -> list[Argument]:
    """Top-level arguments of a single-task or a multitask input."""
    if multi_task:
        return [model_argument(True), learning_rate_arg(), loss_dict_arg(), training_arg(True)]
    return [model_argument(False), learning_rate_arg(), loss_arg(), training_arg(False)]


def model_argument(multi_task: bool) -> Argument:
    """The ``model`` section of a single-task or a multitask input."""
    return multitask_model_arg() if multi_task else model_arg()


@lru_cache(maxsize=2)
def root(multi_task: bool = False) -> Argument:
    """The input file as one dargs Argument (a dict of the top-level keys)."""
    return Argument("input", dict, gen_args(multi_task),
                    doc="deepft training input (DeePMD-kit style).")
