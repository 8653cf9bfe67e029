"""Go encoding/json emulation: literal Go outputs, parsing rules and round-trip properties."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulumi_diy.errors import CorruptInput
from pulumi_diy.state.gojson import (
    COMPACT,
    INDENTED,
    JsonStyle,
    detect_style,
    dumps,
    format_go_float,
    format_go_time,
    loads,
    normalize_go_time,
    parse_go_time,
)

# --- numbers (each right-hand side is what Go's encoding/json prints for the float64) -------------


@pytest.mark.parametrize(
    ("value", "go"),
    [
        (3.0, "3"),
        (100.0, "100"),
        (1.5, "1.5"),
        (0.1, "0.1"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (0.00001, "0.00001"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e16, "10000000000000000"),
        (123456789.0, "123456789"),
        (1.2345678901234567e19, "12345678901234567000"),
        (-0.0, "-0"),
        (-2.5, "-2.5"),
        (5e-324, "5e-324"),
        (1e-100, "1e-100"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
    ],
)
def test_go_float_format(value: float, go: str) -> None:
    assert format_go_float(value) == go
    assert dumps(value) == go.encode()
    assert dumps({"v": [value]}) == b'{"v":[' + go.encode() + b"]}"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_cannot_be_encoded(value: float) -> None:
    with pytest.raises(ValueError):
        dumps({"x": value})
    with pytest.raises(ValueError):
        format_go_float(value)


def test_ints_are_written_as_is() -> None:
    assert dumps([0, -1, 12345678901234567890, True, None]) == b"[0,-1,12345678901234567890,true,null]"


# --- strings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "go"),
    [
        ("\u2028", r'"\u2028"'),
        ("a\u2029b", r'"a\u2029b"'),
        ("\b\f", r'"\b\f"'),
        ("\x01\x1f", r'"\u0001\u001f"'),
        ("\t\n\r\"\\", r'"\t\n\r\"\\"'),
        ("<>&", '"<>&"'),
        ("é✓😀", '"é✓😀"'),
        ("\x7f", '"\x7f"'),
        ("/", '"/"'),
    ],
)
def test_go_string_escaping(text: str, go: str) -> None:
    assert dumps(text) == go.encode("utf-8")


def test_html_escaping_only_when_asked() -> None:
    doc = {"<k>": "a<b>&c"}
    assert dumps(doc) == b'{"<k>":"a<b>&c"}'
    assert dumps(doc, html_escape=True) == b'{"\\u003ck\\u003e":"a\\u003cb\\u003e\\u0026c"}'


def test_compact_shape() -> None:
    assert dumps({"a": 1, "b": [1, 2], "c": {}, "d": []}) == b'{"a":1,"b":[1,2],"c":{},"d":[]}'


def test_indented_shape_matches_marshal_indent() -> None:
    doc = {"z": {}, "a": [], "n": {"x": [1, {"y": None}], "s": "t"}}
    expected = (
        '{\n    "z": {},\n    "a": [],\n    "n": {\n        "x": [\n            1,\n            {\n'
        '                "y": null\n            }\n        ],\n        "s": "t"\n    }\n}'
    )
    assert dumps(doc, indent=True) == expected.encode()


def test_dict_order_is_kept() -> None:
    assert dumps({"b": 1, "a": 2}) == b'{"b":1,"a":2}'


# --- reading --------------------------------------------------------------------------------------


def test_loads_keeps_key_order() -> None:
    assert list(loads(b'{"b":1,"a":2,"c":3}', "f")) == ["b", "a", "c"]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b'{"a": 1,\n "b": }', "line 2 column"),
        (b"", "line 1 column 1"),
        (b'{"a": NaN}', "invalid JSON"),
        (b'{"a": Infinity}', "invalid JSON"),
        (b"[1e400]", "out of range"),
        (b"{} {}", "Extra data"),
        (b"\xef\xbb\xbf{}", "byte order mark"),
    ],
)
def test_loads_errors_name_the_file(data: bytes, fragment: str) -> None:
    with pytest.raises(CorruptInput) as info:
        loads(data, "stacks/dev.json")
    assert info.value.message.startswith("stacks/dev.json: invalid JSON: ")
    assert fragment in info.value.message


def test_invalid_utf8_and_lone_surrogates_become_replacement_chars() -> None:
    assert loads(b'["a\xe2\x82b"]', "f") == ["a\ufffd\ufffdb"]
    assert loads(b'["\\ud800x", "\\ud83d\\ude00"]', "f") == ["\ufffdx", "😀"]
    assert loads(b'{"\\udc00": 1}', "f") == {"\ufffd": 1}


def test_negative_zero_survives_a_round_trip() -> None:
    assert dumps(loads(b'{"a":-0,"b":[-0]}', "f")) == b'{"a":-0,"b":[-0]}'
    assert dumps(loads(b'{"a":"x-0","b":-0.5}', "f")) == b'{"a":"x-0","b":-0.5}'


@pytest.mark.parametrize(
    ("text", "style"),
    [
        (b'{"version":3}', COMPACT),
        (b'{\n    "version": 3\n}\n', INDENTED),
        (b'{\n    "version": 3\n}', JsonStyle(indent=True, trailing_newline=False)),
        (b'{"version":3}\n', JsonStyle(indent=False, trailing_newline=True)),
    ],
)
def test_detect_style(text: bytes, style: JsonStyle) -> None:
    assert detect_style(text) == style


# --- times ------------------------------------------------------------------------------------------


def test_go_time_format() -> None:
    utc = timezone.utc
    assert format_go_time(datetime(2026, 8, 21, 12, 3, 12, 100000, utc)) == "2026-08-21T12:03:12.1Z"
    assert format_go_time(datetime(2026, 8, 21, 12, 0, 0, 0, utc)) == "2026-08-21T12:00:00Z"
    minus7 = timezone(-timedelta(hours=7))
    assert format_go_time(datetime(2026, 8, 21, 12, 0, 0, 123400, minus7)) == "2026-08-21T12:00:00.1234-07:00"
    assert format_go_time(datetime(1, 1, 1, tzinfo=utc)) == "0001-01-01T00:00:00Z"
    with pytest.raises(ValueError):
        format_go_time(datetime(2026, 1, 1))


def test_go_time_parse() -> None:
    when = parse_go_time("2026-08-21T14:03:11.529810123+02:00")
    assert when == datetime(2026, 8, 21, 12, 3, 11, 529810, timezone.utc)
    assert when.utcoffset() == timedelta(hours=2)
    assert parse_go_time("0001-01-01T00:00:00Z") == datetime(1, 1, 1, tzinfo=timezone.utc)
    for bad in ("2026-08-21 14:03:11Z", "2026-13-01T00:00:00Z", "2026-08-21T14:03:11", "yesterday"):
        with pytest.raises(CorruptInput):
            parse_go_time(bad)


def test_normalize_go_time_keeps_nanoseconds() -> None:
    assert normalize_go_time("2017-11-08T11:52:26.954469000-08:00") == "2017-11-08T11:52:26.954469-08:00"
    assert normalize_go_time("2026-08-21T12:03:12.123456789+00:00") == "2026-08-21T12:03:12.123456789Z"
    assert normalize_go_time("2026-08-21T12:03:12.000Z") == "2026-08-21T12:03:12Z"


# --- properties -------------------------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    _scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=25,
)


def go_equal(a: Any, b: Any) -> bool:
    """Equality as Go sees it: every JSON number is a float64."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(go_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(go_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@settings(max_examples=300)
@given(json_values, st.booleans())
def test_round_trip(value: Any, indent: bool) -> None:
    text = dumps(value, indent=indent)
    assert go_equal(loads(text, "f"), value)
    assert dumps(loads(text, "f"), indent=indent) == text
    assert go_equal(json.loads(text), value)  # and it is plain JSON any parser reads


@settings(max_examples=200)
@given(json_values)
def test_html_escaped_output_parses_to_the_same_value(value: Any) -> None:
    escaped = dumps(value, html_escape=True)
    assert not any(c in escaped for c in (b"<", b">", b"&"))
    assert dumps(loads(escaped, "f")) == dumps(value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_go_float_is_shortest_round_trip(value: float) -> None:
    text = format_go_float(value)
    assert float(text) == value
    assert "e-0" not in text and not text.endswith(".0")
    magnitude = abs(value)
    assert ("e" in text) == (magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21))
