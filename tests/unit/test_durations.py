from __future__ import annotations

import pytest

from pulumi_diy.durations import format_duration, parse_duration
from pulumi_diy.errors import UsageError


@pytest.mark.parametrize("text,seconds", [("90", 90), ("90s", 90), ("10m", 600), ("2h", 7200), ("7d", 604800),
                                          ("2w", 1209600), ("1h30m", 5400), ("500ms", 0.5), (" 3H ", 10800)])
def test_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "2x", "1h 30m", "-5m", "1.5.2s", "m10"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="invalid --timeout"):
        parse_duration(text, what="--timeout")


@pytest.mark.parametrize("seconds,text", [(0, "0s"), (59.9, "59s"), (60, "1m"), (90, "1m30s"), (3600, "1h"),
                                          (18002, "5h"), (17999, "4h59m"), (183605, "2d3h"), (86400, "1d")])
def test_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
