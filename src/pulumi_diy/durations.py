"""Durations as users type them: `90s`, `10m`, `2h`, `7d`, `2w`, combined (`1h30m`) or bare seconds."""

from __future__ import annotations

import re

from .errors import UsageError

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str, *, what: str = "duration") -> float:
    """Seconds in ``text``; raises UsageError naming ``what`` when it is not a duration."""
    t = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t)
    pos, total = 0, 0.0
    for m in _PART.finditer(t):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(t) or not t:
        raise UsageError(f"invalid {what} {text!r}: use e.g. 90s, 10m, 2h, 7d or 1h30m")
    return total


def format_duration(seconds: float) -> str:
    """The largest unit and the next one down, e.g. `5h`, `4h59m`, `2d3h`, `90s` -> `1m30s`."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    for i, (unit, size) in enumerate(units):
        if s >= size:
            text = f"{s // size}{unit}"
            next_unit, next_size = units[i + 1]
            rest = (s % size) // next_size
            return text + (f"{rest}{next_unit}" if rest else "")
    return f"{s}s"  # pragma: no cover
