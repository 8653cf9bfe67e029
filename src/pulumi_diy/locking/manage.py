"""Seeing, breaking and waiting for locks: `lock ls`, `lock show`, `lock break`, `lock wait`."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..backend.layout import LOCKS_DIR, StackRef
from ..durations import format_duration
from ..errors import LockTimeout, NothingMatched, ObjectNotFound, PulumiDiyError, StackLocked
from .model import (
    DEFAULT_STALE_AFTER,
    LockInfo,
    LockStatus,
    lock_status,
    lock_url,
    parse_lock,
    split_lock_key,
    this_host,
)

if TYPE_CHECKING:
    from ..backend.backend import Backend
    from ..backend.store import ObjectInfo


def load_locks(backend: Backend, objects: Sequence[ObjectInfo], *, keep_gone: bool = False) -> list[LockInfo]:
    """Read and parse listed lock files concurrently. A file deleted between listing and reading is
    dropped (or kept as a placeholder with ``keep_gone``, as the acquire protocol counts it)."""
    by_key = {o.key: o for o in objects if split_lock_key(o.key) is not None}
    out: list[LockInfo] = []
    for key, data in backend.iter_read(list(by_key)):
        ref, lock_id = split_lock_key(key)  # type: ignore[misc]
        mtime = by_key[key].mtime
        if isinstance(data, bytes):
            out.append(parse_lock(ref, lock_id, key, data, mtime=mtime))
        elif not isinstance(data, ObjectNotFound) or keep_gone:
            reason = "deleted while being read" if isinstance(data, ObjectNotFound) else f"unreadable: {data}"
            out.append(LockInfo(ref, lock_id, key, None, None, None, None, reason, None, mtime))
    return out


def _sort_key(lock: LockInfo) -> tuple[str, str, float, str]:
    created = lock.created
    return (lock.ref.project or "", lock.ref.name, created.timestamp() if created else 0.0, lock.lock_id)


def read_locks(backend: Backend, ref: StackRef) -> list[LockInfo]:
    """The locks currently held on one stack (one listing of its lock directory), oldest first."""
    objects = backend.store.list(backend.layout.lock_dir(ref), recursive=False)
    return sorted(load_locks(backend, objects), key=_sort_key)


# What the last listing found, for shell completion of lock ids (served from the cache: a TAB never waits
# on the network). Key: the listed prefix; value: {"listed": epoch seconds, "locks": [lock records]}.
LOCK_LISTING_KIND = "lock-listing-v1"


def list_locks(backend: Backend, ref: StackRef | None = None, *, project: str | None = None,
               stale_after: float | None = DEFAULT_STALE_AFTER,
               now: datetime | None = None) -> list[LockStatus]:
    """Every lock in the backend (project and legacy lock directories) with its staleness verdict.

    Without ``ref`` this is one recursive listing of `.pulumi/locks/`; with it, one listing of the
    stack's lock directory. Files are read concurrently; files that are not valid locks are listed
    with ``corrupt`` set. Stale = older than ``stale_after`` seconds (None: never by age), or taken
    on this host by a pid that no longer runs."""
    if ref is not None:
        objects = backend.store.list(backend.layout.lock_dir(ref), recursive=False)
    else:
        objects = backend.store.list(LOCKS_DIR, recursive=True)
    locks = load_locks(backend, objects)
    listed = backend.layout.lock_dir(ref) if ref is not None else LOCKS_DIR
    backend.cache.put_many(LOCK_LISTING_KIND, [(listed, "", {"listed": time.time(),
                                                             "locks": [lock.to_dict() for lock in locks]})])
    if ref is not None:
        locks = [lock for lock in locks if lock.ref == ref]
    if project is not None:
        locks = [lock for lock in locks if lock.ref.project == project]
    now = now or datetime.now(timezone.utc)
    host = this_host()
    redacted = backend.url.redacted
    return [lock_status(lock, url=lock_url(redacted, lock.key), now=now, stale_after=stale_after, host=host)
            for lock in sorted(locks, key=_sort_key)]


@dataclass(frozen=True)
class StackLocks:
    """`lock show`: the locks of one stack."""

    ref: StackRef
    lock_dir: str
    locks: tuple[LockStatus, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON keys (stable): ``stack``, ``lockDir`` (key of the stack's lock directory), ``locked``
        (bool), ``locks`` (list of :meth:`LockStatus.to_dict`)."""
        return {"stack": str(self.ref), "lockDir": self.lock_dir, "locked": bool(self.locks),
                "locks": [s.to_dict() for s in self.locks]}


def show_locks(backend: Backend, ref: StackRef, *, stale_after: float | None = DEFAULT_STALE_AFTER,
               now: datetime | None = None) -> StackLocks:
    """The locks of one stack with their verdicts (an unlocked stack gives an empty ``locks``)."""
    return StackLocks(ref, backend.layout.lock_dir(ref),
                      tuple(list_locks(backend, ref, stale_after=stale_after, now=now)))


# --- break -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SkippedLock:
    status: LockStatus
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"lock": self.status.to_dict(), "reason": self.reason}


@dataclass(frozen=True)
class BreakResult:
    """What `lock break` matched and what it removed (nothing when ``dry_run``)."""

    ref: StackRef
    dry_run: bool
    matched: tuple[LockStatus, ...]
    removed: tuple[LockStatus, ...] = ()
    skipped: tuple[SkippedLock, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON keys (stable): ``stack``, ``dryRun`` (bool), ``matched`` and ``removed`` (lists of
        :meth:`LockStatus.to_dict`), ``skipped`` (list of ``{"lock": {...}, "reason": text}``: matched
        locks left alone because they disappeared or changed before deletion)."""
        return {
            "stack": str(self.ref),
            "dryRun": self.dry_run,
            "matched": [s.to_dict() for s in self.matched],
            "removed": [s.to_dict() for s in self.removed],
            "skipped": [s.to_dict() for s in self.skipped],
        }


def _normalise_id(lock_id: str) -> str:
    return lock_id[: -len(".json")] if lock_id.endswith(".json") else lock_id


def _matches(s: LockStatus, *, lock_id: str | None, older_than: float | None, user: str | None,
             host: str | None) -> bool:
    lock = s.lock
    if lock_id is not None and lock.lock_id != _normalise_id(lock_id):
        return False
    if older_than is not None and (s.age is None or s.age < older_than):
        return False
    if user is not None and lock.username != user:
        return False
    return host is None or lock.hostname == host


def _filters(lock_id: str | None, older_than: float | None, user: str | None, host: str | None) -> str:
    parts = [f"lock id {lock_id}" if lock_id else "",
             f"older than {format_duration(older_than)}" if older_than is not None else "",
             f"user {user}" if user else "", f"host {host}" if host else ""]
    return ", ".join(p for p in parts if p) or "no filter"


def break_locks(backend: Backend, ref: StackRef, *, lock_id: str | None = None,
                older_than: float | None = None, user: str | None = None, host: str | None = None,
                force: bool = False, dry_run: bool = False, stale_after: float | None = DEFAULT_STALE_AFTER,
                now: datetime | None = None) -> BreakResult:
    """Remove the locks of ``ref`` that match *all* given filters.

    Raises :class:`NothingMatched` (exit 12) when no lock matches. Without ``lock_id`` or
    ``older_than`` (which name the victims explicitly), a matching lock that is not stale is refused
    with :class:`StackLocked` unless ``force``; then nothing is removed. ``dry_run`` returns the plan
    without deleting; :func:`remove_locks` carries out a plan (what the CLI does after confirming)."""
    locks = list_locks(backend, ref, stale_after=stale_after, now=now)
    if not locks:
        raise NothingMatched(f"stack {ref} has no locks")
    matched = [s for s in locks if _matches(s, lock_id=lock_id, older_than=older_than, user=user, host=host)]
    if not matched:
        raise NothingMatched(f"none of the {len(locks)} lock(s) of stack {ref} match "
                             f"({_filters(lock_id, older_than, user, host)})")
    if lock_id is None and older_than is None and not force:
        live = [s for s in matched if not s.stale]
        if live:
            lines = [f"refusing to break {len(live)} lock(s) of stack {ref} that are not stale; "
                     "nothing was removed:"]
            for s in live:
                created = s.lock.created.isoformat() if s.lock.created else "unknown time"
                lines.append(f"  {s.lock.lock_id}: {s.lock.corrupt or s.lock.owner} since {created}")
            lines.append("  pass --lock-id ID or --older-than DURATION to name them, or --force")
            raise StackLocked("\n".join(lines))
    plan = BreakResult(ref, True, tuple(matched))
    return plan if dry_run else remove_locks(backend, plan)


def remove_locks(backend: Backend, plan: BreakResult) -> BreakResult:
    """Delete exactly the planned locks. Each is re-read right before deletion and left alone when its
    bytes differ from what was listed (its owner re-locked) or it is gone already (the store offers
    no conditional delete, so a tiny window between that read and the delete remains)."""
    removed: list[LockStatus] = []
    skipped: list[SkippedLock] = []
    for s in plan.matched:
        try:
            current = backend.store.read(s.lock.key)
        except ObjectNotFound:
            skipped.append(SkippedLock(s, "already gone"))
            continue
        except PulumiDiyError as e:
            skipped.append(SkippedLock(s, f"cannot be read: {e}"))
            continue
        if s.lock.data is None or current != s.lock.data:
            skipped.append(SkippedLock(s, "changed since it was listed"))
            continue
        backend.store.delete(s.lock.key, missing_ok=True)
        removed.append(s)
    return BreakResult(plan.ref, False, plan.matched, tuple(removed), tuple(skipped))


# --- wait ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WaitResult:
    """The stack became free."""

    ref: StackRef
    waited: float
    polls: int
    was_locked: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON keys (stable): ``stack``, ``free`` (always true: a timeout is an error), ``waitedSeconds``,
        ``polls`` (listings made), ``wasLocked`` (whether the first look found a lock)."""
        return {"stack": str(self.ref), "free": True, "waitedSeconds": round(self.waited, 3),
                "polls": self.polls, "wasLocked": self.was_locked}


def wait_for_unlock(backend: Backend, ref: StackRef, timeout: float, poll: float = 5.0, *,
                    on_poll: Callable[[list[LockInfo], float], None] | None = None,
                    sleep: Callable[[float], None] = time.sleep,
                    clock: Callable[[], float] = time.monotonic) -> WaitResult:
    """Poll the stack's lock directory until it is empty; raise :class:`LockTimeout` (exit 11) after
    ``timeout`` seconds. ``on_poll(locks, elapsed)`` is called at each poll that still finds locks."""
    start = clock()
    polls = 0
    was_locked = False
    lock_dir = backend.layout.lock_dir(ref)
    while True:
        objects = backend.store.list(lock_dir, recursive=False)
        polls += 1
        elapsed = clock() - start
        if not objects:
            return WaitResult(ref, elapsed, polls, was_locked)
        was_locked = True
        locks = load_locks(backend, objects, keep_gone=True)
        if on_poll is not None:
            on_poll(locks, elapsed)
        remaining = timeout - elapsed
        if remaining <= 0:
            holders = "; ".join(f"{lock.lock_id} ({lock.corrupt or lock.owner})" for lock in locks)
            raise LockTimeout(f"stack {ref} is still locked after {format_duration(timeout)}: {holders}")
        sleep(max(min(poll, remaining), 0.0))
