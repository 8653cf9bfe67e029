"""The only place that prints. Commands hand results here; JSON goes to stdout as-is from the
results' ``to_dict()``, people get Rich tables (colour only on a TTY and never with NO_COLOR).
Diagnostics and progress go to stderr. Domain views live in the submodules of this package."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from ..context import AppContext

_consoles: dict[tuple[bool, bool], Console] = {}


def console(actx: AppContext, *, stderr: bool = False) -> Console:
    key = (stderr, actx.color)
    if key not in _consoles:
        from rich.console import Console

        stream = sys.stderr if stderr else sys.stdout
        # Pipes and files get whole lines (no 80-column wrapping); terminals get their width.
        width = None if stream.isatty() else 400
        # Text from the backend (names, types, lock fields) is data: never Rich markup or :emoji: codes.
        _consoles[key] = Console(
            width=width,
            file=stream,
            no_color=not actx.color,
            highlight=False,
            soft_wrap=False,
            markup=False,
            emoji=False,
            force_terminal=None if actx.color else False,
        )
    c = _consoles[key]
    c.file = sys.stderr if stderr else sys.stdout  # CliRunner swaps the streams per invocation
    return c


def reset() -> None:
    _consoles.clear()


def to_jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def emit(actx: AppContext, value: Any, human: Callable[[Console, Any], None]) -> None:
    """Print a result: JSON under --json, else through the given human view."""
    if actx.json:
        emit_json(value)
    else:
        human(console(actx), value)


def write_raw(data: bytes) -> None:
    """Documents (exports) go to stdout byte for byte."""
    sys.stdout.flush()
    buf = getattr(sys.stdout, "buffer", None)
    if buf is not None:
        buf.write(data)
        buf.flush()
    else:
        sys.stdout.write(data.decode("utf-8"))


def info(actx: AppContext, message: str) -> None:
    """A diagnostic line on stderr (suppressed by --quiet)."""
    if not actx.quiet:
        console(actx, stderr=True).print(message, markup=False, highlight=False)


def warn(actx: AppContext, message: str) -> None:
    console(actx, stderr=True).print(f"warning: {message}", markup=False, highlight=False,
                                     style="yellow" if actx.color else None)


def error(actx: AppContext | None, code: int, name: str, message: str) -> None:
    """The one error line (or JSON object under --json), exit code decided by the caller."""
    if actx is not None and actx.json:
        emit_json({"error": {"code": code, "name": name, "message": message}})
        return
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()


def _no_progress(n: int = 1) -> None:
    return None


@contextlib.contextmanager
def progress(actx: AppContext, description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr for long work, hidden with --quiet, --json or without a TTY."""
    if actx.quiet or actx.json or not sys.stderr.isatty():
        yield _no_progress
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    # Its own console: without colour (NO_COLOR, --no-color) a terminal still gets the bar, uncoloured.
    bar_console = Console(file=sys.stderr, no_color=not actx.color, highlight=False, markup=False, emoji=False)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=bar_console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        yield advance


def human_size(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def human_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(max(seconds, 0))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600}h"
