"""Stack locks: Pulumi's lock files, our own lock (``Backend.lock``), and list / break / wait.

``pulumi_diy.locks`` re-exports this package's public API."""

from __future__ import annotations

from .manage import (
    BreakResult,
    SkippedLock,
    StackLocks,
    WaitResult,
    break_locks,
    list_locks,
    load_locks,
    read_locks,
    remove_locks,
    show_locks,
    wait_for_unlock,
)
from .model import (
    DEFAULT_STALE_AFTER,
    LockInfo,
    LockStatus,
    lock_content,
    lock_url,
    parse_lock,
    pid_running,
    split_lock_key,
)
from .protocol import HeldLock, acquire, locked_message

__all__ = [
    "DEFAULT_STALE_AFTER",
    "BreakResult",
    "HeldLock",
    "LockInfo",
    "LockStatus",
    "SkippedLock",
    "StackLocks",
    "WaitResult",
    "acquire",
    "break_locks",
    "list_locks",
    "load_locks",
    "lock_content",
    "lock_url",
    "locked_message",
    "parse_lock",
    "pid_running",
    "read_locks",
    "remove_locks",
    "show_locks",
    "split_lock_key",
    "wait_for_unlock",
]
