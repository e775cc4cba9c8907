"""Building blocks shared by the per-component schema modules.

Each component module (descriptor, fitting, loss, ...) declares its keys as dargs ``Argument``s
with type, default and doc; value constraints ride along as ``extra_check`` +
``extra_check_errmsg`` so the checker can report them with the key path.

``inert(...)`` declares a DeePMD-kit key that deepft does not implement: it is accepted only with
the value that switches the feature off (e.g. ``exclude_types: []``), so DeePMD-kit inputs and
DeePMD-kit's own normalized ``out.json`` still load, and it is removed from the normalized
config. Any other value is rejected instead of being silently ignored.
"""

from __future__ import annotations

from typing import Any

from dargs import Argument

PRECISIONS = ("float64", "float32")
ACTIVATIONS = ("tanh", "gelu", "relu", "silu", "linear")
# accepted spellings that normalize to one of the values above
ACTIVATION_ALIASES = {"none": "linear", "None": "linear"}
PRECISION_ALIASES = {"default": "float64"}
#: keys older DeePMD-kit inputs carry that DeePMD-kit 3.2.0 rejects, with the reason
_TF_DPA1 = "a TensorFlow-era DPA-1 option that DeePMD-kit 3.2.0 no longer accepts either"
RETIRED_KEYS = {"post_ln": _TF_DPA1, "ffn": _TF_DPA1, "ffn_embed_dim": _TF_DPA1,
                "head_num": _TF_DPA1 + " (DPA-1 attention has one head)"}


class InertArgument(Argument):
    """A DeePMD-kit key accepted only with its no-effect value, dropped after checking."""

    def __init__(self, name: str, dtype: Any, off_value: Any, doc: str = "", **kwargs: Any):
        super().__init__(name, dtype, optional=True, doc=doc, **kwargs)
        self.off_value = off_value


def inert(name: str, dtype: Any, off_value: Any, what: str = "") -> InertArgument:
    """Declare DeePMD-kit key ``name`` that deepft accepts only as ``off_value``."""
    doc = (f"DeePMD-kit option{(' (' + what + ')') if what else ''} that deepft does not "
           f"implement: accepted only as ``{_json(off_value)}`` (no effect) and dropped from "
           "the normalized input.")
    return InertArgument(name, dtype, off_value, doc=doc)


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def positive(value: Any) -> bool:
    return value > 0


def non_negative(value: Any) -> bool:
    return value >= 0


def one_of(*choices: str):
    """An extra_check accepting exactly ``choices``."""
    def check(value: Any) -> bool:
        return value in choices
    return check


def all_positive(values: Any) -> bool:
    return all(v > 0 for v in values)


def all_non_negative(values: Any) -> bool:
    return all(v >= 0 for v in values)


def with_value_aliases(arg: Argument, aliases: dict[str, Any]) -> Argument:
    """Let the checker rewrite the alias values of ``arg`` to their canonical value."""
    arg.value_aliases = dict(aliases)
    return arg


def precision_arg(what: str) -> Argument:
    return with_value_aliases(Argument(
        "precision", str, optional=True, default="float64",
        extra_check=one_of(*PRECISIONS, *PRECISION_ALIASES),
        extra_check_errmsg=f"must be one of {', '.join(PRECISIONS)} or \"default\"",
        doc=f"Floating-point precision of the {what} parameters: ``float64`` or ``float32``. "
            "``\"default\"`` (DeePMD-kit's default) means float64 and is normalized to it."),
        PRECISION_ALIASES)


def activation_arg(what: str) -> Argument:
    return with_value_aliases(Argument(
        "activation_function", str, optional=True, default="tanh",
        extra_check=one_of(*ACTIVATIONS, *ACTIVATION_ALIASES),
        extra_check_errmsg=f"must be one of {', '.join(ACTIVATIONS)}",
        doc=f"Activation function of the {what}: {', '.join(ACTIVATIONS)}. ``gelu`` is the "
            "tanh approximation (DeePMD-kit's \"gelu\"); ``none`` means ``linear`` and is "
            "normalized to it."), ACTIVATION_ALIASES)


def seed_arg(what: str) -> Argument:
    return Argument("seed", [int, None], optional=True, default=None,
                    doc=f"Random seed for the initialization of the {what}; null draws one.")
