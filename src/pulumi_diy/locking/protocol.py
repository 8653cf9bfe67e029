"""Taking a stack lock exactly the way Pulumi does (pulumi-diy-format.md section 5.2).

1. list the stack's lock directory; any file but our own -> :class:`StackLocked` with Pulumi's text;
2. write our own ``<uuid4>.json`` (an exclusive create where the store has one);
3. list again; if someone else appeared meanwhile, delete ours and fail the same way;
4. release = delete our file, retried 3 times (20/40/80 ms); a lock that cannot be deleted is
   reported with the exact key to remove.

Two contenders that both write before either re-lists both back off (spurious but safe); on stores
with read-after-write listings (local, S3, GCS, Azure, PostgreSQL) two cannot both proceed.

Read-modify-write callers must read the checkpoint *after* entering the lock (``pulumi stack
import`` reads before, which can lose a concurrent update)::

    with backend.lock(ref, reason="import"):
        checkpoint = backend.read_checkpoint(ref)
        ...  # modify and write
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from ..backend.layout import STATE_EXTS, StackRef
from ..errors import (
    AccessDenied,
    BackendMissing,
    ObjectExists,
    ObjectNotFound,
    PulumiDiyError,
    StackLocked,
    StorageError,
)
from .model import LockInfo, go_rfc3339, lock_content, lock_url, parse_lock, split_lock_key

if TYPE_CHECKING:
    from ..backend.backend import Backend

log = logging.getLogger("pulumi_diy.locks")

RELEASE_BACKOFF = (0.02, 0.04, 0.08)
_SIGNALS = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None))
                 if s is not None)


def locked_message(backend: Backend, ref: StackRef, locks: Sequence[LockInfo]) -> str:
    """Pulumi's "stack is currently locked" text, one line per lock, plus where to look next."""
    lines = [f"the stack is currently locked by {len(locks)} lock(s). Either wait for the other process(es) "
             "to end or delete the lock file with `pulumi cancel`."]
    for lock in locks:
        url = lock_url(backend.url.redacted, lock.key)
        if lock.corrupt:
            lines.append(f"  {url}: unreadable lock file ({lock.corrupt})")
        else:
            lines.append(f"  {url}: created by {lock.owner} at {go_rfc3339(lock.timestamp)}")
    lines.append(f"  (inspect with `pulumi-diy lock ls {ref}`; remove a stale lock with "
                 f"`pulumi-diy lock break {ref}`, or wait with `pulumi-diy lock wait {ref}`)")
    return "\n".join(lines)


def _foreign_locks(backend: Backend, ref: StackRef, own_key: str | None) -> list[LockInfo]:
    """Every file in the stack's lock directory except ours, parsed (one listing, concurrent reads)."""
    listed = backend.store.list(backend.layout.lock_dir(ref), recursive=False)
    objects = [o for o in listed if o.key != own_key]
    if not objects:
        return []
    mtimes = {o.key: o.mtime for o in objects}
    out = []
    for key, data in backend.iter_read([o.key for o in objects]):
        parsed = split_lock_key(key)
        lock_id = parsed[1] if parsed else key.rsplit("/", 1)[-1]
        if isinstance(data, bytes):
            out.append(parse_lock(ref, lock_id, key, data, mtime=mtimes[key]))
        else:
            # Gone or unreadable between listing and reading: it was there, so it still counts.
            reason = "deleted while being read" if isinstance(data, ObjectNotFound) else f"unreadable: {data}"
            out.append(LockInfo(ref, lock_id, key, None, None, None, None, reason, None, mtimes[key]))
    return out


class _SignalGuard:
    """Turns SIGINT/SIGTERM into exceptions while a lock is held, so ``__exit__`` releases it.

    Installed only in the main thread and only over the default handlers or a Python callable (a
    callable is chained: it runs, and if it raises, the lock is released on the way out); ignored
    signals stay ignored. During release a signal is deferred and delivered afterwards."""

    def __init__(self) -> None:
        self.previous: dict[int, Any] = {}
        self.deferring = False
        self.pending: int | None = None

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in _SIGNALS:
            prev = signal.getsignal(sig)
            if prev is signal.SIG_IGN or prev is None:
                continue  # ignored (nohup) or installed from C: leave it alone
            self.previous[sig] = prev
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.deferring:
            self.pending = signum
            return
        self.deliver(signum, frame)

    def deliver(self, signum: int, frame: FrameType | None = None) -> None:
        prev = self.previous.get(signum, signal.SIG_DFL)
        if callable(prev):
            prev(signum, frame)  # default_int_handler raises KeyboardInterrupt
            return
        if signum == getattr(signal, "SIGINT", -1):
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    def restore(self) -> None:
        for sig, prev in self.previous.items():
            signal.signal(sig, prev)
        self.previous = {}


class HeldLock:
    """A stack lock as a context manager (``with backend.lock(ref): ...``).

    Each instance writes its own ``<uuid4>.json``, so a second acquire of the same stack, even in
    the same process, is refused. ``reason`` appears in our messages only: the file keeps Pulumi's
    exact four fields."""

    def __init__(self, backend: Backend, ref: StackRef, *, reason: str | None = None,
                 content: Callable[[], bytes] = lock_content) -> None:
        self.backend = backend
        self.ref = ref
        self.reason = reason
        self.lock_id = str(uuid.uuid4())
        self.key = f"{backend.layout.lock_dir(ref)}/{self.lock_id}.json"
        self.content = b""
        self._make_content = content
        self._held = False
        self._written = False
        self._guard = _SignalGuard()

    @property
    def held(self) -> bool:
        return self._held

    def acquire(self) -> HeldLock:
        """Take the lock or raise StackLocked (the stack is left exactly as it was)."""
        if self._held:
            raise StackLocked(f"lock {self.key} is already held by this object")
        self._guard.install()
        # Signals wait until the protocol is done: an interrupt inside the create could otherwise leave
        # a write in flight that lands after we gave up, stranding a lock nobody will delete.
        self._guard.deferring = True
        try:
            foreign = _foreign_locks(self.backend, self.ref, None)
            if foreign:
                raise StackLocked(locked_message(self.backend, self.ref, foreign))
            self.content = self._make_content()
            self._written = True  # from here on the key may exist, even if the create reports a failure
            try:
                self.backend.store.create(self.key, self.content)
            except ObjectExists:
                # uuid4 keys are ours alone: "exists" means an SDK retry of a PUT that had landed.
                if self._stored() != self.content:
                    raise
            except (AccessDenied, BackendMissing):
                self._written = False  # refused outright: nothing was written
                raise
            foreign = _foreign_locks(self.backend, self.ref, self.key)
            if foreign:
                raise StackLocked(locked_message(self.backend, self.ref, foreign))
        except BaseException:
            try:
                if self._written:
                    self._release_quietly()
            finally:
                self._finish_guard()
            raise
        self._guard.deferring = False
        self._held = True
        self._sweep_leftovers()
        if self._guard.pending is not None:
            self.release()  # delivers the signal that arrived meanwhile, after deleting our file
        return self

    def _sweep_leftovers(self) -> None:
        """With the lock held, remove temporary files a killed local write of this stack left behind."""
        layout, store = self.backend.layout, self.backend.store
        base = layout.stack_base(self.ref)
        stacks_dir, name = base.rsplit("/", 1)
        files = [name + ext + bak for ext in (*STATE_EXTS, ".pulumi-tags") for bak in ("", ".bak")]
        targets = {*files, *(f + ".attrs" for f in files)}
        try:
            removed = store.remove_temp_leftovers(stacks_dir, targets)
            removed += store.remove_temp_leftovers(layout.history_dir(self.ref))
            removed += store.remove_temp_leftovers(layout.backups_dir(self.ref))
        except OSError as e:  # harmless garbage: never a reason to fail a locked operation
            log.debug("could not sweep temporary files of %s: %s", self.ref, e)
            return
        if removed:
            log.debug("removed %d temporary file(s) a killed write of %s left", removed, self.ref)

    def _stored(self) -> bytes | None:
        try:
            return self.backend.store.read(self.key)
        except PulumiDiyError:
            return None

    def release(self) -> None:
        """Delete our lock file (retried); raises, naming the key to delete, when that is impossible."""
        if not self._held and not self._written:
            return
        try:
            self._delete()
        finally:
            self._held = False
            self._finish_guard()

    def _delete(self) -> None:
        self._guard.deferring = True
        try:
            last: PulumiDiyError | None = None
            for delay in (0.0, *RELEASE_BACKOFF):
                if delay:
                    time.sleep(delay)
                try:
                    self.backend.store.delete(self.key, missing_ok=True)
                    self._written = False
                    return
                except PulumiDiyError as e:
                    last = e
            assert last is not None
            cls = type(last) if type(last).__init__ is PulumiDiyError.__init__ else StorageError
            raise cls(
                f"there was a problem deleting the lock at {lock_url(self.backend.url.redacted, self.key)}, "
                f"manual clean up may be required: delete the key {self.key} "
                f"(or run `pulumi-diy lock break {self.ref} --lock-id {self.lock_id}`): {last}"
            ) from last
        finally:
            self._guard.deferring = False

    def _release_quietly(self) -> None:
        try:
            self._delete()
        except PulumiDiyError as e:
            log.error("%s", e)

    def _finish_guard(self) -> None:
        """Restore the previous handlers, then deliver a signal that arrived while releasing."""
        self._guard.deferring = False
        pending, self._guard.pending = self._guard.pending, None
        previous = dict(self._guard.previous)
        self._guard.restore()
        if pending is not None:
            self._guard.previous = previous
            try:
                self._guard.deliver(pending)
            finally:
                self._guard.previous = {}

    def __enter__(self) -> HeldLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self.release()
            return
        try:
            self.release()
        except PulumiDiyError as e:
            # Keep the body's exception (and its exit code); the stranded lock is still reported.
            log.error("%s", e)
            if hasattr(exc, "add_note"):
                exc.add_note(str(e))

    def __repr__(self) -> str:
        state = "held" if self._held else "not held"
        why = f" for {self.reason}" if self.reason else ""
        return f"<HeldLock {self.key} ({state}){why}>"


def acquire(backend: Backend, ref: StackRef, *, reason: str | None = None) -> HeldLock:
    """A context manager holding ``ref``'s lock for the duration of the ``with`` block.

    Raises :class:`StackLocked` (exit code 4) with Pulumi's message when anyone else holds a lock.
    The lock is released on success, on exceptions and on SIGINT/SIGTERM (main thread only; the
    interrupt is re-raised after the release)."""
    return HeldLock(backend, ref, reason=reason)
