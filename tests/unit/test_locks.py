"""Pure lock logic: parsing Pulumi's lock files, writing ours byte for byte, keys, URLs, staleness."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_diy.backend.layout import StackRef
from pulumi_diy.locking.model import (
    GO_ZERO_TIME,
    LockInfo,
    go_now_nano,
    go_rfc3339,
    judge,
    lock_content,
    lock_url,
    parse_lock,
    pid_running,
    split_lock_key,
)
from pulumi_diy.locks import LockInfo as ReexportedLockInfo

REF = StackRef("infra", "prod")
KEY = ".pulumi/locks/organization/infra/prod/0b5e3f4c-8a7d-4e21-9c3b-5f1d2a6b7c8d.json"
LOCK_ID = "0b5e3f4c-8a7d-4e21-9c3b-5f1d2a6b7c8d"
# The example of pulumi-diy-format.md section 2.7 (constructed), as Go's json.Marshal writes it.
PULUMI_BYTES = b'{"pid":4242,"username":"alice","hostname":"ci-7","timestamp":"2026-08-21T12:00:00.123456789+02:00"}'


@pytest.fixture
def tz_plus_two() -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "XXX-02:00"  # POSIX: two hours east of UTC, no DST
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()


def test_parse_pulumi_lock() -> None:
    lock = parse_lock(REF, LOCK_ID, KEY, PULUMI_BYTES)
    assert ReexportedLockInfo is LockInfo
    assert (lock.pid, lock.username, lock.hostname, lock.corrupt) == (4242, "alice", "ci-7", None)
    assert lock.timestamp == datetime(2026, 8, 21, 10, 0, 0, 123456, tzinfo=timezone.utc)
    assert lock.timestamp is not None and lock.timestamp.utcoffset() == timedelta(hours=2)
    assert lock.owner == "alice@ci-7 (pid 4242)"
    assert lock.data == PULUMI_BYTES
    assert lock.to_dict() == {
        "stack": "infra/prod", "lockId": LOCK_ID, "key": KEY, "pid": 4242, "username": "alice",
        "hostname": "ci-7", "timestamp": "2026-08-21T12:00:00.123456789+02:00", "corrupt": None,
    }


def test_go_zero_values_are_not_corrupt() -> None:
    # Go's Unmarshal leaves missing/null fields at their zero values without an error.
    lock = parse_lock(REF, LOCK_ID, KEY, b'{"pid":null,"hostname":"h","extra":[1]}')
    assert lock.corrupt is None and lock.pid is None and lock.username is None and lock.timestamp is None
    assert lock.owner == "@h (pid 0)"


@pytest.mark.parametrize(("data", "why"), [
    (b"", "invalid JSON"),
    (b'{"pid":1,', "invalid JSON"),
    (b"[1,2]", "not a JSON object"),
    (b'{"pid":"42"}', "`pid` is not an integer"),
    (b'{"pid":1.5}', "`pid` is not an integer"),
    (b'{"pid":true}', "`pid` is not an integer"),
    (b'{"username":7}', "`username` is not a str"),
    (b'{"timestamp":"yesterday"}', "invalid RFC 3339 time"),
    (b"\xff\xfe", "invalid"),
])
def test_corrupt_locks_say_why(data: bytes, why: str) -> None:
    mtime = datetime(2026, 1, 1, tzinfo=timezone.utc)
    lock = parse_lock(REF, LOCK_ID, KEY, data, mtime=mtime)
    assert lock.corrupt is not None and why in lock.corrupt
    assert lock.created == mtime and lock.data == data


def test_non_json_file_in_lock_dir_counts_as_corrupt_lock() -> None:
    key = ".pulumi/locks/organization/infra/prod/x.json.tmp"
    assert split_lock_key(key) == (REF, "x.json.tmp")
    assert "not a .json lock file" in (parse_lock(REF, "x.json.tmp", key, PULUMI_BYTES).corrupt or "")


@given(st.binary(max_size=200))
def test_parse_lock_never_raises(data: bytes) -> None:
    lock = parse_lock(REF, LOCK_ID, KEY, data)
    assert lock.data == data
    if lock.corrupt is None:
        assert isinstance(json.loads(data), dict)


@given(st.integers(min_value=0, max_value=2**31), st.text(max_size=20), st.text(max_size=20))
def test_own_lock_round_trips_through_parser(pid: int, user: str, host: str) -> None:
    data = lock_content(pid=pid, username=user, hostname=host, timestamp="2026-08-21T12:00:00Z")
    lock = parse_lock(REF, LOCK_ID, KEY, data)
    assert (lock.pid, lock.username, lock.hostname, lock.corrupt) == (pid, user, host, None)


def test_lock_content_is_pulumis_bytes() -> None:
    data = lock_content(pid=4242, username="alice", hostname="ci-7", timestamp="2026-08-21T12:00:00.123456789+02:00")
    assert data == PULUMI_BYTES
    # json.Marshal escapes HTML characters; non-ASCII stays raw UTF-8.
    assert lock_content(pid=1, username="a<b>&c", hostname="hôte", timestamp="2026-08-21T12:00:00Z") == \
        '{"pid":1,"username":"a\\u003cb\\u003e\\u0026c","hostname":"hôte","timestamp":"2026-08-21T12:00:00Z"}'.encode()


def test_lock_content_defaults_describe_this_process() -> None:
    doc = json.loads(lock_content())
    assert list(doc) == ["pid", "username", "hostname", "timestamp"]
    assert doc["pid"] == os.getpid() and doc["username"] and doc["hostname"]


def test_go_now_nano_local_time_with_offset(tz_plus_two: None) -> None:
    ns = int(datetime(2026, 8, 21, 10, 0, 0, tzinfo=timezone.utc).timestamp()) * 10**9 + 123456789
    assert go_now_nano(ns) == "2026-08-21T12:00:00.123456789+02:00"
    assert go_now_nano(ns - 123456789 + 500_000_000) == "2026-08-21T12:00:00.5+02:00"
    assert go_now_nano(ns - 123456789) == "2026-08-21T12:00:00+02:00"


def test_go_now_nano_utc_is_z() -> None:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        assert go_now_nano(1_000_000_000_000_000_010) == "2001-09-09T01:46:40.00000001Z"
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()


def test_go_rfc3339_keeps_the_locks_zone_and_drops_the_fraction() -> None:
    lock = parse_lock(REF, LOCK_ID, KEY, PULUMI_BYTES)
    assert go_rfc3339(lock.timestamp) == "2026-08-21T12:00:00+02:00"
    assert go_rfc3339(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc)) == "2026-01-02T03:04:05Z"
    assert go_rfc3339(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(-timedelta(hours=7, minutes=30)))) == \
        "2026-01-02T03:04:05-07:30"
    assert go_rfc3339(None) == GO_ZERO_TIME


@pytest.mark.parametrize(("key", "expected"), [
    (KEY, (REF, LOCK_ID)),
    (".pulumi/locks/dev/abc.json", (StackRef(None, "dev"), "abc")),
    (".pulumi/locks/organization/p/s/x", (StackRef("p", "s"), "x")),
    (".pulumi/locks/dev", None),
    (".pulumi/locks/other/p/s/x.json", None),
    (".pulumi/stacks/dev.json", None),
])
def test_split_lock_key(key: str, expected: tuple[StackRef, str] | None) -> None:
    assert split_lock_key(key) == expected


@pytest.mark.parametrize(("url", "expected"), [
    ("s3://bucket/team?region=eu-west-1&endpoint=http://x:9000",
     f"s3://bucket/team/{KEY}?region=eu-west-1&endpoint=http://x:9000"),
    ("s3://bucket?region=us-east-1", f"s3://bucket/{KEY}?region=us-east-1"),
    ("file:///var/state", f"file:///var/state/{KEY}"),
    ("azblob://container/", f"azblob://container/{KEY}"),
    ("postgres://****:****@db:5432/pulumi?table=t", f"postgres://****:****@db:5432/pulumi/{KEY}?table=t"),
])
def test_lock_url_like_pulumi(url: str, expected: str) -> None:
    assert lock_url(url, KEY) == expected


def _lock(*, host: str = "ci-7", pid: int | None = 42, hours: float | None = 1.0, corrupt: bool = False) -> LockInfo:
    now = datetime(2026, 8, 21, 12, tzinfo=timezone.utc)
    ts = None if hours is None else now - timedelta(hours=hours)
    if corrupt:
        return LockInfo(REF, LOCK_ID, KEY, None, None, None, None, "invalid JSON", None, ts)
    return LockInfo(REF, LOCK_ID, KEY, pid, "alice", host, ts, None, "t")


NOW = datetime(2026, 8, 21, 12, tzinfo=timezone.utc)


def test_stale_by_age() -> None:
    v = judge(_lock(hours=3), now=NOW, stale_after=7200, host="other", probe=lambda pid: True)
    assert v.stale and v.reason == "older than 2h (age 3h)" and v.age == 3 * 3600 and v.pid_running is None
    assert not judge(_lock(hours=1), now=NOW, stale_after=7200, host="other").stale
    assert not judge(_lock(hours=30), now=NOW, stale_after=None, host="other").stale
    corrupt = judge(_lock(hours=3, corrupt=True), now=NOW, stale_after=7200, host="ci-7")
    assert corrupt.stale and corrupt.age == 3 * 3600, "a corrupt lock is dated by its object's mtime"
    future = judge(_lock(hours=-1), now=NOW, stale_after=7200, host="other")
    assert future.age == 0 and not future.stale, "clock skew never makes a lock stale"
    assert judge(_lock(hours=None), now=NOW, stale_after=1, host="other").age is None


def test_stale_by_dead_pid_only_on_this_host() -> None:
    dead = judge(_lock(hours=0.1), now=NOW, stale_after=7200, host="CI-7", probe=lambda pid: False)
    assert dead.stale and dead.reason == "pid 42 is not running on this host (ci-7)" and dead.pid_running is False
    alive = judge(_lock(hours=0.1), now=NOW, stale_after=7200, host="ci-7", probe=lambda pid: True)
    assert not alive.stale and alive.pid_running is True
    probed: list[int | None] = []

    def probe(pid: int | None) -> bool:
        probed.append(pid)
        return False

    elsewhere = judge(_lock(hours=0.1), now=NOW, stale_after=7200, host="laptop", probe=probe)
    assert not elsewhere.stale and probed == [], "a pid on another host is never probed"


def test_pid_running_semantics() -> None:
    assert pid_running(os.getpid()) is True
    assert pid_running(0) is None and pid_running(-1) is None and pid_running(None) is None
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
    assert pid_running(int(finished.stdout)) is False
    assert pid_running(1) is True  # init: alive, even when signalling it is not permitted (EPERM)
