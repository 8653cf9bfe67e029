"""Locks on every storage kind: Pulumi-written lock files are found and attributed, our own lock
follows Pulumi's protocol, `break` removes only what matches, `wait` returns when a lock goes."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from pulumi_diy.backend.layout import LOCKS_DIR, StackRef
from pulumi_diy.errors import LockTimeout, NothingMatched, StackLocked
from pulumi_diy.locks import (
    break_locks,
    list_locks,
    lock_url,
    read_locks,
    remove_locks,
    show_locks,
    wait_for_unlock,
)
from tests.backends import BackendTarget, put

PROJ = StackRef("infra", "prod")
ID_A = "0b5e3f4c-8a7d-4e21-9c3b-5f1d2a6b7c8d"
ID_B = "7d2c9e1a-3b4f-4a5d-8e6f-9a0b1c2d3e4f"
ID_LEGACY = "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f"
ID_BAD = "11111111-2222-4333-8444-555555555555"


def pulumi_lock(pid: int, user: str, host: str, ts: str) -> bytes:
    """What Pulumi's json.Marshal(lockContent) writes (hand-built, not through our encoder)."""
    return (f'{{"pid":{pid},"username":"{user}","hostname":"{host}","timestamp":"{ts}"}}').encode()


def old_ts(hours: float) -> str:
    t = datetime.now(timezone(timedelta(hours=2))) - timedelta(hours=hours)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".123456789+02:00"


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    return int(proc.stdout)


def lock_key(ref: StackRef, lock_id: str) -> str:
    return f"{LOCKS_DIR}/organization/{ref.project}/{ref.name}/{lock_id}.json" if ref.project else \
        f"{LOCKS_DIR}/{ref.name}/{lock_id}.json"


def keys_under(backend: Any, prefix: str = LOCKS_DIR) -> list[str]:
    return [o.key for o in backend.store.list(prefix)]


def test_pulumi_locks_found_in_both_layouts(target: BackendTarget) -> None:
    backend = target.open(use_cache=False)
    here = socket.gethostname()
    gone = dead_pid()
    put(backend, {
        lock_key(PROJ, ID_A): pulumi_lock(4242, "alice", "ci-7", old_ts(0.1)),
        lock_key(StackRef("infra", "dev"), ID_B): pulumi_lock(gone, "bob", here, old_ts(0.01)),
        lock_key(StackRef(None, "legacy"), ID_LEGACY): pulumi_lock(7, "carol", "old-box", old_ts(30)),
        lock_key(StackRef("web", "qa"), ID_BAD): b'{"pid":12,"username":"dave",',
    })
    calls: list[tuple[str, bool]] = []
    real_list = backend.store.list

    def counting_list(prefix: str, *, recursive: bool = True) -> Any:
        calls.append((prefix, recursive))
        return real_list(prefix, recursive=recursive)

    backend.store.list = counting_list
    rows = list_locks(backend, stale_after=3600)
    assert calls == [(LOCKS_DIR, True)], "one listing of the whole locks tree"
    by_id = {s.lock.lock_id: s for s in rows}
    assert set(by_id) == {ID_A, ID_B, ID_LEGACY, ID_BAD}

    a = by_id[ID_A]
    assert (a.ref, a.lock.pid, a.lock.username, a.lock.hostname) == (PROJ, 4242, "alice", "ci-7")
    assert a.lock.key == lock_key(PROJ, ID_A)
    assert a.lock.timestamp_text is not None and a.lock.timestamp_text.endswith(".123456789+02:00")
    assert not a.stale and a.age is not None and 300 < a.age < 420
    assert a.url == lock_url(backend.url.redacted, a.lock.key) and ("/" + lock_key(PROJ, ID_A)) in a.url

    b = by_id[ID_B]
    assert b.stale and b.pid_running is False and f"pid {gone} is not running" in (b.stale_reason or "")

    legacy = by_id[ID_LEGACY]
    assert legacy.ref == StackRef(None, "legacy")
    assert legacy.stale and "older than 1h" in (legacy.stale_reason or "")

    bad = by_id[ID_BAD]
    assert bad.lock.corrupt and "invalid JSON" in bad.lock.corrupt
    assert bad.ref == StackRef("web", "qa") and bad.lock.pid is None
    assert bad.lock.mtime is not None, "a corrupt lock is dated by its object's mtime"

    assert [s.lock.lock_id for s in list_locks(backend, project="infra")] == [ID_B, ID_A]  # dev < prod
    assert [s.lock.lock_id for s in list_locks(backend, PROJ)] == [ID_A]
    assert [lock.lock_id for lock in read_locks(backend, PROJ)] == [ID_A]
    shown = show_locks(backend, PROJ).to_dict()
    assert shown["locked"] is True and shown["locks"][0]["username"] == "alice"
    assert show_locks(backend, StackRef("infra", "none")).to_dict()["locked"] is False


def test_acquire_writes_pulumi_shape_and_releases(target: BackendTarget) -> None:
    backend = target.open(use_cache=False)
    with backend.lock(PROJ, reason="test") as held:
        assert keys_under(backend) == [held.key]
        assert re.fullmatch(rf"{LOCKS_DIR}/organization/infra/prod/[0-9a-f-]{{36}}\.json", held.key)
        data = backend.store.read(held.key)
        assert data == held.content
        assert re.fullmatch(rb'\{"pid":\d+,"username":"[^"]*","hostname":"[^"]*",'
                            rb'"timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)"\}', data)
        doc = json.loads(data)
        assert list(doc) == ["pid", "username", "hostname", "timestamp"]
        assert doc["pid"] == os.getpid() and doc["hostname"] == socket.gethostname()
        rows = list_locks(backend)
        assert len(rows) == 1 and rows[0].pid_running is True and not rows[0].stale
    assert keys_under(backend) == []


def test_acquire_refused_with_pulumi_message(target: BackendTarget) -> None:
    backend = target.open(use_cache=False)
    foreign = lock_key(PROJ, ID_A)
    put(backend, {foreign: pulumi_lock(4242, "alice", "ci-7", "2026-08-21T12:00:00.123456789+02:00")})
    with pytest.raises(StackLocked) as info, backend.lock(PROJ):
        pytest.fail("must not enter")
    lines = str(info.value).splitlines()
    assert lines[0] == ("the stack is currently locked by 1 lock(s). Either wait for the other process(es) "
                        "to end or delete the lock file with `pulumi cancel`.")
    assert re.fullmatch(rf"  \S+/{re.escape(foreign)}(\?\S*)?: created by alice@ci-7 \(pid 4242\) "
                        r"at 2026-08-21T12:00:00\+02:00", lines[1]), lines[1]
    assert "pulumi-diy lock ls infra/prod" in lines[2] and "lock break" in lines[2]
    assert keys_under(backend) == [foreign], "a refused acquire leaves nothing behind"


def test_held_lock_blocks_second_acquire_and_releases_on_exception(target: BackendTarget) -> None:
    backend = target.open(use_cache=False)
    other = target.open(use_cache=False)
    with pytest.raises(RuntimeError, match="boom"), backend.lock(PROJ) as held:
        with pytest.raises(StackLocked, match=r"locked by 1 lock\(s\)") as info, other.lock(PROJ):
            pass
        assert held.key.rsplit("/", 1)[-1] in str(info.value)
        assert keys_under(backend) == [held.key]
        raise RuntimeError("boom")
    assert keys_under(backend) == []
    with other.lock(PROJ):  # free again
        pass


def test_break_never_removes_non_matching(target: BackendTarget) -> None:
    backend = target.open(use_cache=False)
    here = socket.gethostname()
    gone = dead_pid()
    locks = {
        ID_A: pulumi_lock(4242, "alice", "ci-7", old_ts(5)),
        ID_B: pulumi_lock(gone, "bob", here, old_ts(0.01)),
        ID_BAD: pulumi_lock(99, "alice", "ci-8", old_ts(0.01)),
    }
    put(backend, {lock_key(PROJ, k): v for k, v in locks.items()})

    def remaining() -> set[str]:
        return {s.lock.lock_id for s in list_locks(backend, PROJ)}

    with pytest.raises(NothingMatched):
        break_locks(backend, PROJ, user="nobody", force=True)
    with pytest.raises(NothingMatched):
        break_locks(backend, PROJ, user="alice", host="ci-9", force=True)
    with pytest.raises(NothingMatched):
        break_locks(backend, PROJ, lock_id=ID_A, user="bob")
    with pytest.raises(NothingMatched):
        break_locks(backend, PROJ, older_than=10 * 3600)
    # ID_BAD is young and its pid cannot be probed from here: not stale, so refused without --force.
    with pytest.raises(StackLocked, match="not stale; nothing was removed"):
        break_locks(backend, PROJ, user="alice")
    assert remaining() == set(locks)

    plan = break_locks(backend, PROJ, user="alice", older_than=3600, dry_run=True)
    assert plan.dry_run and [s.lock.lock_id for s in plan.matched] == [ID_A] and plan.removed == ()
    assert remaining() == set(locks), "dry run removes nothing"

    done = break_locks(backend, PROJ, user="alice", older_than=3600)
    assert [s.lock.lock_id for s in done.removed] == [ID_A]
    assert remaining() == {ID_B, ID_BAD}

    stale = break_locks(backend, PROJ, host=here)  # ID_B: its pid is dead on this host, so stale
    assert [s.lock.lock_id for s in stale.removed] == [ID_B]
    assert remaining() == {ID_BAD}

    forced = break_locks(backend, PROJ, lock_id=ID_BAD + ".json")
    assert [s.lock.lock_id for s in forced.removed] == [ID_BAD]
    assert remaining() == set()
    with pytest.raises(NothingMatched, match="has no locks"):
        break_locks(backend, PROJ, force=True)


def test_break_leaves_a_lock_that_changed_after_listing(target: BackendTarget) -> None:
    backend = target.open(use_cache=False)
    key = lock_key(PROJ, ID_A)
    put(backend, {key: pulumi_lock(1, "alice", "ci-7", old_ts(5))})
    plan = break_locks(backend, PROJ, lock_id=ID_A, dry_run=True)
    put(backend, {key: pulumi_lock(1, "alice", "ci-7", old_ts(0))})  # its owner re-locked meanwhile
    result = remove_locks(backend, plan)
    assert result.removed == () and [k.reason for k in result.skipped] == ["changed since it was listed"]
    assert keys_under(backend) == [key]


def test_wait_returns_when_lock_disappears(target: BackendTarget) -> None:
    backend = target.open(use_cache=False)
    key = lock_key(PROJ, ID_A)
    put(backend, {key: pulumi_lock(1, "alice", "ci-7", old_ts(0))})
    seen: list[int] = []
    polled = threading.Event()

    def remove_after_first_poll() -> None:
        if polled.wait(30):
            time.sleep(0.3)
            backend.store.delete(key)

    def on_poll(locks: list[Any], _elapsed: float) -> None:
        seen.append(len(locks))
        polled.set()

    remover = threading.Thread(target=remove_after_first_poll, daemon=True)
    remover.start()
    result = wait_for_unlock(backend, PROJ, timeout=30, poll=0.1, on_poll=on_poll)
    remover.join(5)
    assert result.was_locked and result.polls >= 2 and result.polls == len(seen) + 1 and set(seen) == {1}
    assert result.waited >= 0.3


def test_wait_times_out(target: BackendTarget) -> None:
    backend = target.open(use_cache=False)
    put(backend, {lock_key(PROJ, ID_A): pulumi_lock(1, "alice", "ci-7", old_ts(0))})
    started = time.monotonic()
    with pytest.raises(LockTimeout, match=rf"infra/prod is still locked after 1s: {ID_A} \(alice@ci-7 \(pid 1\)\)"):
        wait_for_unlock(backend, PROJ, timeout=1, poll=0.2)
    assert 0.9 < time.monotonic() - started < 10
    assert wait_for_unlock(backend, StackRef("infra", "free"), timeout=0).was_locked is False


_HOLDER = """
import sys, time
from pulumi_diy.backend.backend import open_backend
from pulumi_diy.backend.layout import StackRef
from pulumi_diy.config import resolve_settings
import json, os
env = json.loads(sys.argv[2])
backend = open_backend(settings=resolve_settings(backend=sys.argv[1], environ=env), use_cache=False)
with backend.lock(StackRef("infra", "prod"), reason="holder") as held:
    print(held.key, flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("kind", ["file", "s3"])
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_lock_released_on_signal(kind: str, sig: str, target_factory: Any, tmp_path: Any) -> None:
    import signal

    target = target_factory(kind)
    backend = target.open(use_cache=False)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}, **target.env,
           "PULUMI_DIY_CACHE_DIR": str(tmp_path / "cache")}
    src = os.path.join(os.path.dirname(__file__), "..", "..", "src")
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, target.url, json.dumps(env)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**env, "PYTHONPATH": os.path.abspath(src)})
    try:
        assert proc.stdout is not None
        key = proc.stdout.readline().strip()
        assert key, proc.stderr.read() if proc.stderr else ""
        assert keys_under(backend) == [key]
        proc.send_signal(getattr(signal, sig))
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    expected = (-signal.SIGTERM, 128 + signal.SIGTERM) if sig == "SIGTERM" else (-signal.SIGINT, 1, 130)
    assert code in expected
    assert keys_under(backend) == [], "the lock is deleted before the process dies"


def test_legacy_layout_lock_dir_and_corrupt_foreign_lock(target_factory: Any) -> None:
    target = target_factory("file")
    backend = target.open(use_cache=False)
    put(backend, {".pulumi/stacks/dev.json": b"{}"})  # a legacy store: bare stack names
    ref = backend.resolve("dev")
    assert ref == StackRef(None, "dev")
    with backend.lock(ref) as held:
        assert re.fullmatch(rf"{LOCKS_DIR}/dev/[0-9a-f-]{{36}}\.json", held.key)
        assert [s.ref for s in list_locks(backend)] == [ref]
    put(backend, {f"{LOCKS_DIR}/dev/{ID_BAD}.json": b"not json"})
    with pytest.raises(StackLocked, match=rf"{ID_BAD}\.json: unreadable lock file \(invalid JSON"), backend.lock(ref):
        pass


class _FlakyDeletes:
    """The real store, except that the first ``failures`` deletes are refused (as without s3:DeleteObject)."""

    def __init__(self, inner: Any, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.deletes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def delete(self, key: str, *, missing_ok: bool = False) -> None:
        from pulumi_diy.errors import AccessDenied

        self.deletes += 1
        if self.deletes <= self.failures:
            raise AccessDenied(f"{key}: access denied")
        self.inner.delete(key, missing_ok=missing_ok)


def test_release_retries_then_names_the_key(target_factory: Any) -> None:
    from pulumi_diy.errors import AccessDenied

    backend = target_factory("file").open(use_cache=False)
    real = backend.store
    backend.store = flaky = _FlakyDeletes(real, failures=3)
    with backend.lock(PROJ):
        pass
    assert flaky.deletes == 4, "three retries (20/40/80 ms), then success"
    assert [o.key for o in real.list(LOCKS_DIR)] == []

    backend.store = flaky = _FlakyDeletes(real, failures=99)
    with pytest.raises(AccessDenied) as info, backend.lock(PROJ) as held:
        pass
    assert flaky.deletes == 4
    message = str(info.value)
    assert f"delete the key {held.key}" in message and f"--lock-id {held.lock_id}" in message
    assert [o.key for o in real.list(LOCKS_DIR)] == [held.key]
    real.delete(held.key)

    with pytest.raises(ValueError, match="body failed") as body, backend.lock(PROJ) as held:
        raise ValueError("body failed")
    notes = getattr(body.value, "__notes__", None)
    if sys.version_info >= (3, 11):
        assert notes and held.key in notes[0], "the body's error is kept; the stranded key is attached to it"
    assert [o.key for o in real.list(LOCKS_DIR)] == [held.key]


class _RetriedCreate:
    """The real store, but ``create`` behaves like an SDK whose retried PUT finds its own first attempt."""

    def __init__(self, inner: Any, error: type[Exception] | None) -> None:
        self.inner = inner
        self.error = error
        self.deletes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def create(self, key: str, data: bytes) -> None:
        from pulumi_diy.errors import AccessDenied, ObjectExists

        if self.error is AccessDenied:
            raise AccessDenied(f"{key}: access denied")
        self.inner.create(key, data)
        raise ObjectExists(f"{key}: already exists")

    def delete(self, key: str, *, missing_ok: bool = False) -> None:
        self.deletes += 1
        self.inner.delete(key, missing_ok=missing_ok)


def test_create_outcomes_that_look_like_failures(target_factory: Any) -> None:
    from pulumi_diy.errors import AccessDenied, ObjectExists

    backend = target_factory("file").open(use_cache=False)
    real = backend.store
    backend.store = _RetriedCreate(real, ObjectExists)
    with backend.lock(PROJ) as held:  # the "exists" was our own landed write: the lock is held
        assert [o.key for o in real.list(LOCKS_DIR)] == [held.key]
    assert [o.key for o in real.list(LOCKS_DIR)] == []

    backend.store = refused = _RetriedCreate(real, AccessDenied)
    with pytest.raises(AccessDenied), backend.lock(PROJ):
        pass
    assert refused.deletes == 0 and [o.key for o in real.list(LOCKS_DIR)] == []
