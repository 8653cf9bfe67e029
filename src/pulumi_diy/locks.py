"""Stack locks as Pulumi writes them (pulumi-diy-format.md sections 2.7 and 5).

The implementation lives in :mod:`pulumi_diy.locking`; this module is its stable import path.
"""

from __future__ import annotations

from .locking import (
    DEFAULT_STALE_AFTER,
    BreakResult,
    HeldLock,
    LockInfo,
    LockStatus,
    SkippedLock,
    StackLocks,
    WaitResult,
    acquire,
    break_locks,
    list_locks,
    load_locks,
    lock_content,
    lock_url,
    locked_message,
    parse_lock,
    pid_running,
    read_locks,
    remove_locks,
    show_locks,
    split_lock_key,
    wait_for_unlock,
)

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
