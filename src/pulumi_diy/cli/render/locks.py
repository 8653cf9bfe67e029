"""Human views of lock results."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from . import human_age

if TYPE_CHECKING:
    from rich.console import Console

    from ...locking import BreakResult, LockStatus, StackLocks, WaitResult


def _local(dt: datetime | None) -> str:
    return dt.astimezone().strftime("%Y-%m-%d %H:%M:%S %z") if dt else "n/a"


def _holder(s: LockStatus) -> str:
    lock = s.lock
    if lock.corrupt:
        return f"corrupt: {lock.corrupt}"
    return f"{lock.username or '?'}@{lock.hostname or '?'}"


def _stale(s: LockStatus) -> str:
    if s.stale:
        return f"yes: {s.stale_reason}"
    return "no (pid running)" if s.pid_running else "no"


def lock_table(c: Console, rows: list[LockStatus]) -> None:
    """`lock ls`: one row per lock file."""
    from rich.table import Table

    if not rows:
        c.print("no locks", markup=False)
        return
    t = Table(box=None, pad_edge=False, header_style="bold")
    t.add_column("STACK")
    t.add_column("LOCK ID", no_wrap=True)
    t.add_column("HOLDER")
    t.add_column("PID", justify="right")
    t.add_column("CREATED")
    t.add_column("AGE", justify="right")
    t.add_column("STALE", overflow="fold")
    for s in rows:
        t.add_row(str(s.ref), s.lock.lock_id, _holder(s), "-" if s.lock.pid is None else str(s.lock.pid),
                  _local(s.lock.created), human_age(s.age), _stale(s))
    c.print(t)
    stale = sum(1 for s in rows if s.stale)
    c.print(f"{len(rows)} lock(s), {stale} stale", markup=False, style="dim")


def _lock_lines(c: Console, s: LockStatus, indent: str = "  ") -> None:
    lock = s.lock
    c.print(f"{indent}{lock.lock_id}", markup=False, style="bold")
    pid = "" if lock.pid is None else f" (pid {lock.pid})"
    c.print(f"{indent}  holder   {_holder(s)}{pid}", markup=False)
    c.print(f"{indent}  created  {_local(lock.created)} ({human_age(s.age)} ago)"
            + (" [from the object's modification time]" if lock.timestamp is None and lock.mtime else ""),
            markup=False)
    c.print(f"{indent}  stale    {_stale(s)}", markup=False)
    c.print(f"{indent}  url      {s.url}", markup=False, soft_wrap=True)


def stack_locks(c: Console, d: StackLocks) -> None:
    """`lock show`: every lock of one stack in detail."""
    if not d.locks:
        c.print(f"{d.ref}: not locked", markup=False)
        return
    c.print(f"{d.ref}: locked by {len(d.locks)} lock(s)", markup=False)
    for s in d.locks:
        _lock_lines(c, s)


def break_plan(c: Console, r: BreakResult) -> None:
    """What `lock break` is about to remove (printed on stderr before asking)."""
    c.print(f"{len(r.matched)} lock(s) of {r.ref} match:", markup=False)
    for s in r.matched:
        _lock_lines(c, s)


def break_result(c: Console, r: BreakResult) -> None:
    """`lock break`: what was (or, with --dry-run, would be) removed."""
    if r.dry_run:
        c.print(f"dry run: would remove {len(r.matched)} lock(s) of {r.ref}", markup=False)
        for s in r.matched:
            _lock_lines(c, s)
        return
    for s in r.removed:
        c.print(f"removed lock {s.lock.lock_id} of {r.ref}: {_holder(s)}"
                + ("" if s.lock.pid is None else f" (pid {s.lock.pid})")
                + f", since {_local(s.lock.created)} ({human_age(s.age)})", markup=False)
    for k in r.skipped:
        c.print(f"left lock {k.status.lock.lock_id} of {r.ref} in place: {k.reason}", markup=False)
    c.print(f"{len(r.removed)} lock(s) removed", markup=False, style="dim")


def wait_result(c: Console, r: WaitResult) -> None:
    """`lock wait`: the stack is free."""
    waited = f" after {human_age(r.waited)}" if r.was_locked else ""
    c.print(f"{r.ref} is not locked{waited}", markup=False)
