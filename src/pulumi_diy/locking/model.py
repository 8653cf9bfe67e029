"""Lock files as Pulumi writes and reads them, and the staleness verdict (pure, no storage I/O).

Format (pulumi-diy-format.md section 2.7): ``.pulumi/locks/<fqn>/<lockID>.json`` holding Go's
``json.Marshal`` of ``{"pid","username","hostname","timestamp"}``: compact, that key order, no
trailing newline, timestamp in RFC3339Nano local time with its offset.
"""

from __future__ import annotations

import getpass
import json
import os
import posixpath
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..backend.layout import LOCKS_DIR, ORGANIZATION, StackRef
from ..errors import CorruptInput

# Go's zero time.Time, which Pulumi prints for a lock file without a timestamp.
GO_ZERO_TIME = "0001-01-01T00:00:00Z"
DEFAULT_STALE_AFTER = 2 * 3600.0


# --- times ---------------------------------------------------------------------------------------

def _offset_text(offset: timedelta | None) -> str:
    """Go's `Z07:00`: `Z` for a zero offset, else `+hh:mm`."""
    minutes = round((offset or timedelta(0)).total_seconds() / 60)
    if minutes == 0:
        return "Z"
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def go_now_nano(ns: int | None = None) -> str:
    """`time.Now()` marshalled by Go: local time, nanoseconds without trailing zeros, `+hh:mm` or `Z`."""
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    local = datetime.fromtimestamp(secs, tz=timezone.utc).astimezone()
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{frac:09d}".rstrip("0")
    return text + ("." + digits if digits else "") + _offset_text(local.utcoffset())


def go_rfc3339(dt: datetime | None) -> str:
    """`t.Format(time.RFC3339)` in the time's own zone (what Pulumi's "stack is locked" lines show)."""
    if dt is None:
        return GO_ZERO_TIME
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + _offset_text(dt.utcoffset())


def _parse_time(text: str) -> datetime:
    from ..state.gojson import parse_go_time

    return parse_go_time(text)


# --- the lock file -------------------------------------------------------------------------------

@dataclass(frozen=True)
class LockInfo:
    """One lock file. ``corrupt`` says why Pulumi could not parse it (the other fields may then be None).

    ``data`` is the exact bytes read (compared again right before a lock is broken); ``mtime`` comes
    from the listing and dates locks whose content has no usable timestamp.
    """

    ref: StackRef
    lock_id: str
    key: str
    pid: int | None
    username: str | None
    hostname: str | None
    timestamp: datetime | None
    corrupt: str | None = None
    timestamp_text: str | None = None
    mtime: datetime | None = None
    data: bytes | None = None

    @property
    def created(self) -> datetime | None:
        """When the lock was taken: its own timestamp, else the object's modification time."""
        return self.timestamp or self.mtime

    @property
    def owner(self) -> str:
        """``user@host (pid N)`` as Pulumi prints it."""
        return f"{self.username or ''}@{self.hostname or ''} (pid {self.pid or 0})"

    def to_dict(self) -> dict[str, Any]:
        """JSON keys (stable): ``stack`` (project/stack or stack), ``lockId``, ``key`` (relative to the
        backend root), ``pid``, ``username``, ``hostname``, ``timestamp`` (as written in the file,
        RFC3339Nano), ``corrupt`` (null, or why the file is not a valid lock)."""
        return {
            "stack": str(self.ref),
            "lockId": self.lock_id,
            "key": self.key,
            "pid": self.pid,
            "username": self.username,
            "hostname": self.hostname,
            "timestamp": self.timestamp_text if self.timestamp is not None else None,
            "corrupt": self.corrupt,
        }


def _field(doc: dict[str, Any], name: str, kind: type) -> Any:
    """Go's json.Unmarshal into the lock struct: null or missing = zero value, a wrong type = error."""
    value = doc.get(name)
    if value is None:
        return None
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise ValueError(f"`{name}` is not an integer: {value!r}")
        return int(value)
    if not isinstance(value, kind):
        raise ValueError(f"`{name}` is not a {kind.__name__}: {value!r}")
    return value


def parse_lock(ref: StackRef, lock_id: str, key: str, data: bytes, *,
               mtime: datetime | None = None) -> LockInfo:
    """Parse a lock file; anything Go's decoder would reject gives a LockInfo with ``corrupt`` set."""
    try:
        if not key.endswith(".json"):
            raise ValueError("not a .json lock file (Pulumi still counts it as a lock)")
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        pid = _field(doc, "pid", int)
        username = _field(doc, "username", str)
        hostname = _field(doc, "hostname", str)
        ts_text = _field(doc, "timestamp", str)
        when = _parse_time(ts_text) if ts_text is not None else None
        return LockInfo(ref, lock_id, key, pid, username, hostname, when, None, ts_text, mtime, data)
    except (ValueError, CorruptInput, RecursionError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        if isinstance(e, json.JSONDecodeError):
            reason = f"invalid JSON ({e.msg} at offset {e.pos})"
        return LockInfo(ref, lock_id, key, None, None, None, None, reason, None, mtime, data)


def split_lock_key(key: str) -> tuple[StackRef, str] | None:
    """A key under `.pulumi/locks/` -> (stack, lock id), for both layouts' directories.

    Any file in a stack's lock directory counts (Pulumi's check does not look at the name); the lock
    id of a `.json` file is its name without the extension, else the whole name."""
    if not key.startswith(LOCKS_DIR + "/"):
        return None
    rest = key[len(LOCKS_DIR) + 1:].split("/")
    name = rest[-1]
    lock_id = name[: -len(".json")] if name.endswith(".json") else name
    if len(rest) == 4 and rest[0] == ORGANIZATION:
        return StackRef(rest[1], rest[2]), lock_id
    if len(rest) == 2:
        return StackRef(None, rest[0]), lock_id
    return None


def lock_url(redacted_backend_url: str, key: str) -> str:
    """Pulumi's `lockURLForError`: the key joined onto the URL's path, query kept at the end."""
    try:
        parts = urlsplit(redacted_backend_url)
    except ValueError:
        return f"{redacted_backend_url}/{key}"
    path = posixpath.normpath(posixpath.join(parts.path or "/", key)) if parts.path else key
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


# --- our own lock ----------------------------------------------------------------------------------

def current_username() -> str:
    """Go's `user.Current().Username`: the login name of the effective user id."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, OSError):
        return getpass.getuser()


def this_host() -> str:
    """Go's `os.Hostname()`."""
    return socket.gethostname()


def lock_content(*, pid: int | None = None, username: str | None = None, hostname: str | None = None,
                 timestamp: str | None = None) -> bytes:
    """The bytes Pulumi's `json.Marshal(lockContent)` produces (compact, HTML-escaped, no newline)."""
    from ..state.gojson import dumps

    doc = {
        "pid": os.getpid() if pid is None else pid,
        "username": current_username() if username is None else username,
        "hostname": this_host() if hostname is None else hostname,
        "timestamp": go_now_nano() if timestamp is None else timestamp,
    }
    return dumps(doc, html_escape=True)


# --- staleness -------------------------------------------------------------------------------------

def pid_running(pid: int | None) -> bool | None:
    """Whether ``pid`` runs on this host: True, False, or None when it cannot be told."""
    if pid is None or pid <= 0 or os.name == "nt":
        # pid 0/-1 would signal a whole process group; on Windows os.kill terminates the process.
        return None
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it just belongs to another user
    except OSError:
        return None
    return True


@dataclass(frozen=True)
class Verdict:
    """Whether a lock looks abandoned and why."""

    age: float | None
    stale: bool
    reason: str | None
    pid_running: bool | None


def judge(lock: LockInfo, *, now: datetime, stale_after: float | None, host: str,
          probe: Any = pid_running) -> Verdict:
    """Stale = older than ``stale_after`` seconds, or its pid no longer runs and it was taken on ``host``."""
    created = lock.created
    age = max((now - created).total_seconds(), 0.0) if created else None
    alive: bool | None = None
    if lock.hostname and lock.hostname.casefold() == host.casefold():
        alive = probe(lock.pid)
    if alive is False:
        return Verdict(age, True, f"pid {lock.pid} is not running on this host ({lock.hostname})", alive)
    if stale_after is not None and age is not None and age > stale_after:
        from ..durations import format_duration

        shown_age = age if age < 3600 else age - age % 60  # seconds are noise once it is hours old
        why = f"older than {format_duration(stale_after)} (age {format_duration(shown_age)})"
        return Verdict(age, True, why, alive)
    return Verdict(age, False, None, alive)


@dataclass(frozen=True)
class LockStatus:
    """A lock with its staleness verdict and the URL Pulumi would print for it."""

    lock: LockInfo
    url: str
    age: float | None
    stale: bool
    stale_reason: str | None
    pid_running: bool | None

    @property
    def ref(self) -> StackRef:
        return self.lock.ref

    def to_dict(self) -> dict[str, Any]:
        """JSON keys (stable): those of :meth:`LockInfo.to_dict`, plus ``url`` (the lock file's URL,
        credentials redacted), ``created`` (ISO 8601 UTC: the lock's timestamp, else the object's
        modification time), ``ageSeconds`` (number or null), ``stale`` (bool), ``staleReason`` (null or
        text) and ``pidRunning`` (true/false when taken on this host, else null)."""
        created = self.lock.created
        created_text = None if created is None else \
            created.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        return {
            **self.lock.to_dict(),
            "url": self.url,
            "created": created_text,
            "ageSeconds": None if self.age is None else round(self.age, 3),
            "stale": self.stale,
            "staleReason": self.stale_reason,
            "pidRunning": self.pid_running,
        }


def lock_status(lock: LockInfo, *, url: str, now: datetime, stale_after: float | None, host: str,
                probe: Any = pid_running) -> LockStatus:
    v = judge(lock, now=now, stale_after=stale_after, host=host, probe=probe)
    return LockStatus(lock, url, v.age, v.stale, v.reason, v.pid_running)
