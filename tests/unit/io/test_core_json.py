"""The C++ core's JSON parser (model.dft headers), through deepft._core.infer.parse_json."""

from __future__ import annotations

import json
import math

import pytest
from deepft._core import infer as core

VALID = [
    "{}", "[]", "0", "-0", "1", "-1", "1.5", "-1.5e-3", "2E+10", "1e-300", "1.7976931348623157e308",
    "9223372036854775807", "-9223372036854775808",
    "0.1", "3.141592653589793", "true", "false", "null", '""', '"abc"',
    r'"\"\\\/\b\f\n\r\t"', r'"\u00e9\u4e2d\ud83d\ude00"', '"é中😀 raw utf-8"', r'"\u0000x"',
    ' \t\n\r{ "a" : [ 1 , { "b" : null } ] , "c" : "d" } \n',
    '{"type_map": ["O", "H", "Ünï"], "tensors": {"x.y": {"shape": [2, 3], "offset": 64}}}',
    "[[[[[[[[[[1]]]]]]]]]]",
]


@pytest.mark.parametrize("text", VALID)
def test_parses_like_python_json(text):
    got = core.parse_json(text)
    want = json.loads(text)
    assert got == want, text
    assert type(got) is type(want), text


def test_number_types_and_exact_values():
    assert core.parse_json("9007199254740993") == 9007199254740993  # > 2^53, exact as int
    assert isinstance(core.parse_json("1.0"), float)
    assert math.copysign(1.0, core.parse_json("-0.0")) == -1.0
    assert core.parse_json("0.1") == 0.1 and core.parse_json("1e23") == 1e23
    assert core.parse_json("[1e-320]") == [1e-320]  # subnormal
    # integers beyond int64 are kept as the nearest double (documented in json.h)
    big = core.parse_json("123456789012345678901")
    assert isinstance(big, float) and big == float(123456789012345678901)
    assert core.parse_json("9223372036854775808") == 2.0**63


def test_object_key_order_is_kept():
    text = '{"z": 1, "a": 2, "m": 3}'
    assert list(core.parse_json(text)) == ["z", "a", "m"]


@pytest.mark.parametrize("text, where", [
    ("", "line 1, column 1"),
    ("[1, 2,]", "line 1, column 7"),
    ('{"a": 1,}', "expected a string key"),
    ("01", "leading zero"),
    ("1.", "digit after '.'"),
    ("1e", "exponent"),
    ("-", "invalid value"),
    ("NaN", "invalid value"),
    ("Infinity", "invalid value"),
    ("tru", "invalid literal"),
    ('"abc', "unterminated string"),
    ('"a\tb"', "control character"),
    (r'"\x"', "invalid escape"),
    (r'"\u12g4"', "invalid hex digit"),
    (r'"\ud83d"', "unpaired high surrogate"),
    (r'"\ude00"', "unpaired low surrogate"),
    ('{"a": 1, "a": 2}', "duplicate key 'a'"),
    ("[1] [2]", "unexpected text after"),
    ('{"a" 1}', "expected ':'"),
    ("{\n  \"a\": [1,\n   2 3]}", "line 3, column 6"),
    ("1e999", "out of the range"),
    ("[" * 600 + "]" * 600, "nesting deeper"),
])
def test_errors_say_what_and_where(text, where):
    with pytest.raises(ValueError, match="line .*column") as err:
        core.parse_json(text)
    assert where in str(err.value), str(err.value)


def test_many_keys_parse_in_linear_time():
    """A crafted header with 200k keys must not hang the reader (duplicate-key checks are
    hashed: about 0.3 s here; the former pairwise check took about 80 s)."""
    import json
    import time

    max_seconds = 5.0
    text = json.dumps({f"k{i}": i for i in range(200_000)})
    start = time.perf_counter()
    assert len(core.parse_json(text)) == 200_000
    assert time.perf_counter() - start < max_seconds
    with pytest.raises(ValueError, match="duplicate key 'k7'"):
        core.parse_json(text[:-1] + ', "k7": 0}')
