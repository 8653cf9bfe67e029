"""Go ``encoding/json`` emulation: read and write JSON byte-for-byte like the Pulumi CLI.

Writing uses Python's C encoder (fast on 50 MB checkpoints) and fixes up only what Go does
differently (format doc section 3.0):

* U+2028/U+2029 are always escaped, and ``<``, ``>``, ``&`` when HTML escaping is on. These
  characters can only occur inside strings, so a replace over the whole output is safe.
* floats use Go's formatting (``3``, ``1e-7``, ``0.00001``, ``10000000000000000``). Python's C
  encoder always uses ``repr``, so when a document holds floats they are swapped for marker
  strings that carry Go's text, and the markers are replaced after encoding.

Everything else already matches: ``ensure_ascii=False`` leaves non-ASCII raw, ``\\b``/``\\f``
use the short forms (Go >= 1.22), other control characters are ``\\u00xx`` in lowercase.
"""

from __future__ import annotations

import codecs
import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from pulumi_diy.errors import CorruptInput

__all__ = [
    "COMPACT",
    "INDENTED",
    "JsonStyle",
    "detect_style",
    "dumps",
    "format_go_float",
    "format_go_time",
    "is_go_time",
    "loads",
    "normalize_go_time",
    "parse_go_time",
]


@dataclass(frozen=True)
class JsonStyle:
    """Whitespace of a JSON file: Go's compact encoder or 4-space MarshalIndent, with or
    without a trailing newline."""

    indent: bool
    trailing_newline: bool


COMPACT = JsonStyle(indent=False, trailing_newline=False)  # CLI >= 3.238
INDENTED = JsonStyle(indent=True, trailing_newline=True)  # older CLIs


def detect_style(text: bytes) -> JsonStyle:
    """Guess the style a JSON document was written in (indented iff a newline follows the
    opening bracket; the trailing newline is read from the bytes)."""
    body = text.lstrip(b" \t\r\n")
    indent = body[:1] in (b"{", b"[") and body[1:2] in (b"\n", b"\r")
    return JsonStyle(indent=indent, trailing_newline=text.endswith(b"\n"))


# --- reading --------------------------------------------------------------------------------------


def _replace_per_byte(exc: UnicodeError) -> tuple[str, int]:
    # Go's decoder turns every invalid UTF-8 byte into one U+FFFD.
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "\ufffd" * (exc.end - exc.start), exc.end


def _fffd_per_char(exc: UnicodeError) -> tuple[str, int]:
    # A Python str may hold lone surrogates (Go strings cannot); write U+FFFD like Go would.
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return "\ufffd" * (exc.end - exc.start), exc.end


codecs.register_error("pulumi_diy.gojson.decode", _replace_per_byte)
codecs.register_error("pulumi_diy.gojson.encode", _fffd_per_char)

# Literal first so the scan is fast; the lookbehind keeps "-0" inside strings ("subnet-0") out.
_NEG_ZERO = re.compile(r"-0(?![.eE\d])(?<=[\[:,\s]-0)")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_CHAR = re.compile("[\ud800-\udfff]")


def _reject_constant(token: str) -> Any:
    raise ValueError(f"invalid character {token[0]!r} looking for beginning of value")


def _parse_float(token: str) -> float:
    value = float(token)
    if math.isinf(value):
        raise ValueError(f"number {token} is out of range of a float64")
    return value


def _parse_int(token: str) -> int | float:
    # Go decodes numbers into float64, so "-0" is negative zero and must be written back as "-0".
    return -0.0 if token == "-0" else int(token)


def loads(data: bytes | str, name: str) -> Any:
    """Parse JSON the way Go's ``json.Unmarshal`` into ``interface{}`` accepts it.

    Object key order is preserved. Invalid UTF-8 and lone surrogate escapes become U+FFFD (as in
    Go); NaN/Infinity literals, out-of-range numbers and a byte order mark are rejected. Errors
    raise :class:`CorruptInput` naming ``name``.
    """
    text = bytes(data).decode("utf-8", "pulumi_diy.gojson.decode") if not isinstance(data, str) else data
    if text.startswith("\ufeff"):
        raise CorruptInput(f"{name}: invalid JSON: unexpected UTF-8 byte order mark at start of file")
    kwargs: dict[str, Any] = {"parse_constant": _reject_constant, "parse_float": _parse_float}
    if "-0" in text and (_NEG_ZERO.search(text) or text.lstrip().startswith("-0")):
        kwargs["parse_int"] = _parse_int
    try:
        obj = json.loads(text, **kwargs)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise CorruptInput(f"{name}: invalid JSON: {exc.msg} at {where}") from exc
    except RecursionError as exc:
        raise CorruptInput(f"{name}: invalid JSON: nesting too deep") from exc
    except ValueError as exc:
        raise CorruptInput(f"{name}: invalid JSON: {exc}") from exc
    if ("\\u" in text) and _SURROGATE_ESCAPE.search(text):
        obj = _fix_surrogates(obj)
    return obj


def _fix_surrogates(obj: Any) -> Any:
    if isinstance(obj, str):
        return _SURROGATE_CHAR.sub("\ufffd", obj)
    if isinstance(obj, dict):
        return {_fix_surrogates(k): _fix_surrogates(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_fix_surrogates(v) for v in obj]
    return obj


# --- writing --------------------------------------------------------------------------------------


def format_go_float(x: float) -> str:
    """Format a float64 exactly like Go's ``encoding/json`` (shortest round-trip digits, plain
    notation for 1e-6 <= |x| < 1e21, else ``1e-7`` / ``1e+21``; no ``.0`` on integral values)."""
    if not math.isfinite(x):
        raise ValueError(f"json: unsupported value: {x!r}")
    text = repr(x)
    magnitude = abs(x)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        # Python's repr already uses exponent form in this range (it switches at 1e-4 and 1e16);
        # Go keeps the same digits but drops the leading zero of a negative exponent.
        mantissa, _, exponent = text.partition("e")
        return f"{mantissa}e{exponent[0]}{int(exponent[1:])}"
    if "e" in text:
        text = format(Decimal(text), "f")
    return text[:-2] if text.endswith(".0") else text


def _has_float(obj: Any) -> bool:
    # Iterative and inlined: this walk runs on every dumps() and must stay cheap on 50 MB documents.
    stack = [obj]
    push = stack.append
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            values: Any = node.values()
        elif isinstance(node, (list, tuple)):
            values = node
        else:
            if isinstance(node, float):
                return True
            continue
        for value in values:
            kind = type(value)
            if kind is str or kind is int or kind is bool or value is None:
                continue
            if kind is float:
                return True
            push(value)
    return False


def _mark_floats(obj: Any, marker: str) -> Any:
    if isinstance(obj, float):
        return f"{marker}{format_go_float(obj)}\x00"
    if isinstance(obj, dict):
        return {k: _mark_floats(v, marker) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_mark_floats(v, marker) for v in obj]
    return obj


def dumps(obj: Any, *, indent: bool = False, html_escape: bool = False) -> bytes:
    """Serialise ``obj`` exactly as Go's encoder would, without a trailing newline.

    ``indent`` selects MarshalIndent with 4 spaces; ``html_escape`` escapes ``<``, ``>``, ``&``
    (Go's ``json.Marshal`` default). Dict order is kept: callers build Go struct order and sort
    map keys. Non-finite floats raise ``ValueError``.
    """
    marker = ""
    if _has_float(obj):
        marker = f"\x00gofloat-{uuid.uuid4().hex}:"
        obj = _mark_floats(obj, marker)
    if indent:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False, indent=4)
    else:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    if marker:
        encoded_marker = re.escape(json.dumps(marker, ensure_ascii=False)[1:-1])
        text = re.sub(f'"{encoded_marker}([-+.0-9e]+)\\\\u0000"', r"\1", text)
    if "\u2028" in text:
        text = text.replace("\u2028", "\\u2028")
    if "\u2029" in text:
        text = text.replace("\u2029", "\\u2029")
    if html_escape:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "pulumi_diy.gojson.encode")


# --- times -----------------------------------------------------------------------------------------

_TIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))\Z",
    re.ASCII,  # Go accepts ASCII digits only
)


def is_go_time(s: str) -> bool:
    """True if ``s`` is a timestamp Go's ``time.Time`` JSON decoder accepts."""
    try:
        parse_go_time(s)
    except CorruptInput:
        return False
    return True


def parse_go_time(s: str) -> datetime:
    """Parse an RFC 3339 timestamp as Go's ``time.Time`` JSON decoder does; return an aware
    datetime (fraction truncated to microseconds). Raises :class:`CorruptInput`."""
    match = _TIME_RE.match(s) if isinstance(s, str) else None
    if match is None:
        raise CorruptInput(f"invalid RFC 3339 time {s!r}")
    year, month, day, hour, minute, second, frac, zulu, sign, off_h, off_m = match.groups()
    try:
        if zulu:
            tz = timezone.utc
        else:
            if int(off_h) > 23 or int(off_m) > 59:
                raise ValueError("time zone offset out of range")
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            tz = timezone(-offset if sign == "-" else offset)
        micro = int((frac or "0")[:6].ljust(6, "0"))
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz)
    except ValueError as exc:
        raise CorruptInput(f"invalid RFC 3339 time {s!r}: {exc}") from exc


def format_go_time(dt: datetime) -> str:
    """Format an aware datetime as Go's RFC3339Nano (fraction without trailing zeros, ``Z`` for a
    zero offset, else ``+hh:mm``)."""
    offset = dt.utcoffset()
    if offset is None:
        raise ValueError("format_go_time needs an aware datetime")
    frac = f"{dt.microsecond:06d}".rstrip("0")
    text = f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    if frac:
        text += "." + frac
    return text + _format_offset(offset)


def _format_offset(offset: timedelta) -> str:
    seconds = int(offset.total_seconds())
    if seconds == 0:
        return "Z"
    minutes = seconds // 60 if seconds > 0 else -(-seconds // 60)  # Go truncates toward zero
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def normalize_go_time(s: str) -> str:
    """Re-format an RFC 3339 string the way Go prints it after a parse round trip, keeping
    nanoseconds (``.950`` -> ``.95``, ``+00:00`` -> ``Z``). Raises :class:`CorruptInput`."""
    parse_go_time(s)  # validates
    match = _TIME_RE.match(s)
    assert match is not None
    date_part = s[: match.end(6)]
    frac = (match.group(7) or "")[:9].rstrip("0")
    if match.group(8):
        zone = "Z"
    else:
        sign, hours, mins = match.group(9), int(match.group(10)), int(match.group(11))
        zone = "Z" if hours == 0 and mins == 0 else f"{sign}{hours:02d}:{mins:02d}"
    return date_part + ("." + frac if frac else "") + zone
