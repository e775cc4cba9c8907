"""Strict check of a config against the dargs schema, filling defaults on the way.

One top-down pass over the dargs ``Argument`` tree (the same tree ``deepft doc-train-input``
prints): for every dict it resolves the variant flag (``type``/``method``, with aliases such as
``se_a``), renames key aliases, rejects unknown keys (with the closest valid key), checks each
value's type and constraint, fills defaults, and drops inert DeePMD-kit keys set to their no-op
value. Integers given for float keys become floats, so the normalized config has one type per
key. Every failure is an ``InputError`` naming the JSON key path; no dargs exception escapes.
"""

from __future__ import annotations

import difflib
import json
import math
import types
import typing
from collections.abc import Callable
from copy import deepcopy
from typing import Any, get_args, get_origin

from dargs import Argument

from deepft.config._args import RETIRED_KEYS, InertArgument
from deepft.errors import InputError

NoneType = type(None)
Path = tuple[str, ...]
_NO_DEFAULT = Argument("x", int).default  # dargs' private "no default" marker


class Checker:
    """Holds the source name and how paths are shown.

    ``remap(path) -> (shown path, branch or None)`` maps a path inside a component copied from
    ``model/shared_dict`` back to where the user wrote it; the message then names the branch.
    """

    def __init__(self, source: str,
                 remap: Callable[[Path], tuple[Path, str | None]] | None = None):
        self.source = source
        self.remap = remap or (lambda p: (p, None))
        self.via: str | None = None

    def show_path(self, path: Path) -> str:
        """``a/b/c`` as the user wrote it (remembers the branch for the next ``fail``)."""
        shown, self.via = self.remap(tuple(path))
        return "/".join(shown)

    def fail(self, message: str, hint: str | None = None) -> InputError:
        if self.via is not None:
            message += f" (in a shared_dict entry used by branch {self.via})"
            self.via = None
        return InputError(f"{self.source}: {message}", hint=hint)

    # ---- values ------------------------------------------------------------------------
    def value(self, arg: Argument, value: Any, path: Path) -> Any:
        """Checked (and normalized) ``value`` of ``arg`` at ``path``."""
        value = self.typed(arg, value, path)
        if not finite(value):
            raise self.fail(f"{self.show_path(path)} = {show(value)} is not a finite number "
                            "(JSON Infinity and NaN are refused)", hint=first_line(arg.doc))
        aliases = getattr(arg, "value_aliases", None)
        if aliases and isinstance(value, str) and value in aliases:
            value = aliases[value]
        if arg.extra_check is not None and not arg.extra_check(value):
            raise self.fail(f"{self.show_path(path)} = {show(value)} is invalid: "
                            f"{arg.extra_check_errmsg or 'it fails its check'}",
                            hint=first_line(arg.doc))
        if arg.sub_fields or arg.sub_variants:
            if arg.repeat and isinstance(value, dict):
                value = {k: self.dict(arg, self.as_dict(v, path + (k,)), path + (k,))
                         for k, v in value.items()}
            elif arg.repeat and isinstance(value, list):
                value = [self.dict(arg, self.as_dict(v, path + (str(i),)), path + (str(i),))
                         for i, v in enumerate(value)]
            elif isinstance(value, dict):
                value = self.dict(arg, value, path)
        return value

    def typed(self, arg: Argument, value: Any, path: Path) -> Any:
        dtypes = sorted(arg.dtype, key=type_name)  # dargs keeps them in a set
        for dtype in dtypes:
            if matches(value, dtype, exact=True):
                return value
        for dtype in dtypes:
            if matches(value, dtype, exact=False):
                return coerce(value, dtype)
        expected = " or ".join(type_name(t) for t in dtypes)
        raise self.fail(f"{self.show_path(path)} must be {expected}, got {kind(value)} "
                        f"{show(value)}", hint=first_line(arg.doc))

    def as_dict(self, value: Any, path: Path) -> dict:
        if not isinstance(value, dict):
            raise self.fail(f"{self.show_path(path)} must be an object, got {kind(value)} "
                            f"{show(value)}")
        return value

    # ---- dicts -------------------------------------------------------------------------
    def dict(self, arg: Argument, given: dict, path: Path) -> dict:
        """Checked copy of ``given`` with defaults filled, in schema order."""
        given = dict(given)
        self.choose_variants(arg, given, path)
        fields = arg.flatten_sub(given, list(path))
        self.rename_aliases(fields, given, path)
        unknown = [k for k in given if k not in fields]
        if unknown:
            raise self.unknown_key(unknown[0], fields, path)
        out = {}
        for name, sub in fields.items():
            where = path + (name,)
            if isinstance(sub, InertArgument):
                if name in given and not same(given[name], sub.off_value):
                    raise self.fail(
                        f"{self.show_path(where)} = {show(given[name])} is a DeePMD-kit option "
                        f"deepft does not implement (only {show(sub.off_value)}, which has no "
                        "effect, is accepted)", hint=f"remove {name} from the input")
                continue
            if name in given:
                out[name] = self.value(sub, given[name], where)
            elif sub.optional:
                if sub.default is not _NO_DEFAULT:
                    out[name] = self.value(sub, deepcopy(sub.default), where)
            else:
                raise self.fail(f"missing key {self.show_path(where)}",
                                hint=first_line(sub.doc) or f"add {name}")
        return out

    def choose_variants(self, arg: Argument, given: dict, path: Path) -> None:
        for variant in arg.sub_variants.values():
            flag = variant.flag_name
            where = path + (flag,)
            choices = list(variant.choice_dict)
            if flag not in given:
                if variant.optional:
                    given[flag] = variant.default_tag
                    continue
                raise self.fail(f"missing key {self.show_path(where)}",
                                hint=f"set it to one of {', '.join(choices)}")
            tag = given[flag]
            if not isinstance(tag, str):
                raise self.fail(f"{self.show_path(where)} must be a string, got {kind(tag)} "
                                f"{show(tag)}", hint=f"one of {', '.join(choices)}")
            tag = variant.choice_alias.get(tag, tag)
            if tag not in variant.choice_dict:
                close = difflib.get_close_matches(tag, choices + list(variant.choice_alias), 1)
                guess = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.fail(f"{self.show_path(where)} = {show(tag)} is not supported{guess}",
                                hint=f"deepft supports {', '.join(choices)}")
            given[flag] = tag

    def rename_aliases(self, fields: dict[str, Argument], given: dict, path: Path) -> None:
        for name, sub in fields.items():
            for alias in sub.alias:
                if alias in given:
                    if name in given:
                        raise self.fail(f"{self.show_path(path + (name,))} is given twice (also "
                                        f"as its alias {alias})", hint=f"remove {alias}")
                    given[name] = given.pop(alias)

    def unknown_key(self, key: str, fields: dict[str, Argument], path: Path) -> InputError:
        names = [n for n, a in fields.items() if not isinstance(a, InertArgument)]
        if key in RETIRED_KEYS:
            return self.fail(f"{self.show_path(path + (key,))} is not an input key any more: "
                             f"{RETIRED_KEYS[key]}", hint=f"remove {key} from the input")
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
        guess = f" (did you mean {close[0]!r}?)" if close else ""
        where = self.show_path(path) or "the top level"
        return self.fail(f"unknown key {self.show_path(path + (key,))}{guess}",
                         hint=f"valid keys in {where}: {', '.join(names)}")


# ---- types -------------------------------------------------------------------------------
def matches(value: Any, dtype: Any, exact: bool) -> bool:
    """Whether ``value`` (parsed JSON) has type ``dtype``; ``exact=False`` lets int be float."""
    origin, args = get_origin(dtype), get_args(dtype)
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, a, exact) for a in args)
    if dtype is NoneType or dtype is None:
        return value is None
    if dtype is bool:
        return isinstance(value, bool)
    if dtype is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if dtype is float:
        if isinstance(value, bool):
            return False
        return isinstance(value, float) or (not exact and isinstance(value, int))
    if dtype in (str, dict, list):
        return isinstance(value, dtype)
    if origin is list:
        return isinstance(value, list) and all(matches(v, args[0], exact) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            isinstance(k, str) and matches(v, args[1], exact) for k, v in value.items())
    raise TypeError(f"unsupported schema type {dtype!r}")


def coerce(value: Any, dtype: Any) -> Any:
    """``value`` with integers turned into floats where ``dtype`` asks for floats."""
    origin, args = get_origin(dtype), get_args(dtype)
    if origin in (typing.Union, types.UnionType):
        for a in args:
            if matches(value, a, exact=True):
                return value
        return next(coerce(value, a) for a in args if matches(value, a, exact=False))
    if dtype is float:
        return float(value)
    if origin is list:
        return [coerce(v, args[0]) for v in value]
    if origin is dict:
        return {k: coerce(v, args[1]) for k, v in value.items()}
    return value


def type_name(dtype: Any) -> str:
    origin, args = get_origin(dtype), get_args(dtype)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args)
    names = {NoneType: "null", bool: "a boolean", int: "an integer", float: "a number",
             str: "a string", dict: "an object", list: "a list"}
    if dtype in names:
        return names[dtype]
    if origin is list:
        return f"a list of {plural(args[0])}"
    if origin is dict:
        return f"an object of {plural(args[1])}"
    return str(dtype)


def plural(dtype: Any) -> str:
    origin, args = get_origin(dtype), get_args(dtype)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(plural(a) for a in args)
    names = {NoneType: "nulls", bool: "booleans", int: "integers", float: "numbers",
             str: "strings", dict: "objects", list: "lists"}
    if dtype in names:
        return names[dtype]
    if origin is list:
        return f"lists of {plural(args[0])}"
    return type_name(dtype)


def kind(value: Any) -> str:
    if value is None:
        return "null"
    for t, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
                    (list, "list"), (dict, "object")):
        if isinstance(value, t):
            return name
    return type(value).__name__


def show(value: Any, limit: int = 80) -> str:
    """JSON spelling of ``value``, shortened to ``limit`` characters."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def same(a: Any, b: Any) -> bool:
    """JSON equality where 1 == 1.0 but true != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def first_line(doc: str) -> str | None:
    if not doc:
        return None
    return doc.replace("``", "").split(". ")[0].rstrip(".") + "."


def finite(value: Any) -> bool:
    """False when ``value`` is a non-finite float or a list holding one (dicts are checked key by
    key as the schema descends into them)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(finite(v) for v in value)
    return True
