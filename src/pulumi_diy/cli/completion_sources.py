"""Where completion values come from, without touching the network: the local cache and quick listings.

The cache is read straight from its SQLite file, read-only (records that `stack ls`, `history ls`
and the listings of history and lock directories wrote, see ``backend/cache.py`` and the
``*_LISTING_KIND`` readers below); ``file://`` backends are also listed, each listing cut off after
:data:`LISTING_BUDGET` seconds (then the cache answers). Remote backends that were never listed give
nothing rather than block. Only the standard library and the light path/URL modules are imported.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

LISTING_BUDGET = 1.0  # seconds a file:// listing may take before we give up on it
# pulumi_diy.history.entries.ENTRY_KIND, not imported: that package pulls in diff and restore code.
HISTORY_ENTRY_KIND = "history-entry-v1"
# Listings that commands record for completion (the writers are in the library; see the readers below).
HISTORY_LISTING_KIND = "history-listing-v1"  # written by history.versions.list_versions
LOCK_LISTING_KIND = "lock-listing-v1"  # written by locking.manage.list_locks
VERSION_WINDOW = 20  # version numbers offered before anything is typed, newest first
RELATIVE_WINDOW = 5  # relative versions (-1 .. -5) offered before anything is typed

Items = list[tuple[str, str]]


@dataclass(frozen=True)
class Target:
    """The backend a completion is for, and where its records are in the local cache."""

    kind: str
    root: str
    backend_id: str
    cache_file: str | None

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)


def target_for(backend: str | None, cache_dir: str | None, use_cache: bool = True,
               environ: dict[str, str] | None = None) -> Target | None:
    """Resolve the backend URL and cache file as the command would (flag > env > credentials file)."""
    from ..backend.cache import CACHE_FORMAT, backend_cache_id
    from ..backend.urls import parse_backend_url
    from ..config import resolve_settings

    settings = resolve_settings(backend=backend, cache_dir=cache_dir, environ=environ)
    if not settings.backend_url.value:
        return None
    url = parse_backend_url(settings.backend_url.value, env=settings.env, cwd=settings.cwd, home=settings.home)
    cache_file = None
    if use_cache and settings.cache_dir.value:
        cache_file = os.path.join(settings.cache_dir.value, f"cache-v{CACHE_FORMAT}.sqlite3")
    return Target(url.kind, url.root, backend_cache_id(url.kind, url.root, url.bucket), cache_file)


def cached_records(target: Target, kind: str) -> dict[str, Any]:
    """``key -> value`` of one kind of record; {} when there is no cache, it is broken or busy."""
    if not target.cache_file or not os.path.isfile(target.cache_file):
        return {}
    import sqlite3
    from urllib.parse import quote

    try:
        db = sqlite3.connect(f"file:{quote(target.cache_file)}?mode=ro", uri=True, timeout=0.2)
        try:
            rows = db.execute("SELECT key, value FROM records WHERE backend = ? AND kind = ?",
                              (target.backend_id, kind)).fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return {}
    return {key: _json(value) for key, value in rows}


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _scandir(path: str, deadline: float) -> Iterator[os.DirEntry[str]]:
    if time.monotonic() > deadline:
        raise TimeoutError(path)
    try:
        with os.scandir(path) as it:
            yield from it
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return


def _utc(nanos: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(nanos / 1e9))


def _rel(top: str, stack: tuple[str, str]) -> list[str]:
    """The per-stack directory under ``top`` (project layout, or legacy when the project is "")."""
    project, name = stack
    return [*top.split("/"), *([project] if project else []), name]


# --- stacks -----------------------------------------------------------------------------------------------


def _stack_ref_of_key(key: str) -> str | None:
    from ..backend.layout import Layout

    for layout in (Layout(project_mode=True), Layout(project_mode=False)):
        parsed = layout.parse_stack_key(key)
        if parsed is not None:
            return str(parsed[0])
    return None


def _listed_stacks(target: Target, deadline: float) -> dict[str, str]:
    from ..backend.layout import STACKS_DIR

    found: dict[str, str] = {}
    for entry in _scandir(target.path(*STACKS_DIR.split("/")), deadline):
        if entry.is_dir():
            for inner in _scandir(entry.path, deadline):
                if name := _stack_ref_of_key(f"{STACKS_DIR}/{entry.name}/{inner.name}"):
                    found[name] = "stack"
        elif name := _stack_ref_of_key(f"{STACKS_DIR}/{entry.name}"):
            found[name] = "stack (legacy layout)"
    return found


def _summary_help(record: Any) -> str:
    if not isinstance(record, dict):
        return "stack"
    parts = []
    if record.get("resource_count") is not None:
        parts.append(f"{record['resource_count']} resources")
    if record.get("last_update"):
        parts.append(f"updated {str(record['last_update'])[:10]}")
    return ", ".join(parts) or "stack"


def stack_names(target: Target) -> dict[str, str]:
    """Stack name -> a short description. file:// is listed (fresh and cheap), described from the
    cache; other backends come from the cache alone. A listing over budget falls back to the cache."""
    from ..stacks import SUMMARY_KIND

    records = cached_records(target, SUMMARY_KIND)
    cached = {name: _summary_help(rec) for key, rec in records.items() if (name := _stack_ref_of_key(key))}
    if target.kind == "file":
        try:
            listed = _listed_stacks(target, time.monotonic() + LISTING_BUDGET)
        except (TimeoutError, OSError):
            return cached
        return {name: cached.get(name, help_text) for name, help_text in listed.items()}
    return cached


def deleted_stacks(target: Target) -> Items:
    """file://: stacks with backups/ copies or a .bak but no checkpoint (what `stack restore` takes)."""
    from ..backend.layout import BACKUPS_DIR, STACKS_DIR

    if target.kind != "file":
        return []
    deadline = time.monotonic() + LISTING_BUDGET
    found = set()
    for entry in _scandir(target.path(*BACKUPS_DIR.split("/")), deadline):
        inner = [e.name for e in _scandir(entry.path, deadline) if e.is_dir()]
        found |= {f"{entry.name}/{n}" for n in inner} if inner else {entry.name}
    for entry in _scandir(target.path(*STACKS_DIR.split("/")), deadline):
        for f in _scandir(entry.path, deadline) if entry.is_dir() else ():
            if f.name.endswith(".bak") and (name := _stack_ref_of_key(f"{STACKS_DIR}/{entry.name}/{f.name[:-4]}")):
                found.add(name)
    return [(n, "deleted stack") for n in sorted(found - set(_listed_stacks(target, deadline)))]


# --- history, backups, locks ----------------------------------------------------------------------------


def history_ids(target: Target, project: str, stack: str) -> tuple[list[int], bool]:
    """The stack's history ids (unix nanos), oldest first, and whether they are its whole history (then
    position + 1 is the version number, as :func:`pulumi_diy.history.versions.number_versions` counts).

    file:// is listed; other backends use the last listing of the directory a command recorded in the
    cache (:data:`HISTORY_LISTING_KIND`), else the ids of the entries ``history ls`` cached (not numbered:
    only a full listing can number versions, and ids are accepted wherever a version is).
    """
    from ..backend.layout import HISTORY_DIR, parse_history_name

    rel = _rel(HISTORY_DIR, (project, stack))
    if target.kind == "file":
        deadline = time.monotonic() + LISTING_BUDGET
        try:
            listed = sorted((h.nanos, e.name) for e in _scandir(target.path(*rel), deadline)
                            if (h := parse_history_name(e.name)) is not None and h.kind == "history")
            return [nanos for nanos, _ in listed], True
        except (TimeoutError, OSError):
            pass
    directory = "/".join(rel)
    record = cached_records(target, HISTORY_LISTING_KIND).get(directory)
    if isinstance(record, dict) and isinstance(record.get("ids"), list):
        return [int(n) for n in record["ids"] if isinstance(n, int) and not isinstance(n, bool)], True
    prefix = directory + "/"
    ids = sorted({h.nanos for key in cached_records(target, HISTORY_ENTRY_KIND) if key.startswith(prefix)
                  and (h := parse_history_name(key[len(prefix):])) is not None})
    return ids, False


def history_versions(target: Target, project: str, stack: str, incomplete: str = "", *,
                     current: bool = False) -> Items:
    """What a VERSION may be, newest first: ``latest`` (and ``current`` where the command takes it), the
    newest :data:`VERSION_WINDOW` numbers and a few relative ``-N`` while nothing is typed, every number
    once digits are, and the 19-digit ids once the digits typed outgrow every number (or always, when
    only ids are known). Each with its date.
    """
    ids, numbered = history_ids(target, project, stack)
    total = len(ids)
    items: Items = []
    if ids:
        items.append(("latest", f"version {total}, {_utc(ids[-1])}" if numbered else f"the newest update, "
                      f"{_utc(ids[-1])}"))
    if current:
        items.append(("current", "the stack's current checkpoint"))
    newest_first = list(enumerate(ids, start=1))[::-1]
    if numbered:
        shown = newest_first if incomplete else newest_first[:VERSION_WINDOW]
        items += [(str(n), _utc(nanos)) for n, nanos in shown]
        if not incomplete:
            items += [(f"-{k}", f"version {n}, {_utc(nanos)}")
                      for k, (n, nanos) in enumerate(newest_first[1:RELATIVE_WINDOW + 1], start=1)]
        if len(incomplete) > len(str(total)):
            items += [(str(nanos), f"version {n}, {_utc(nanos)}") for n, nanos in newest_first]
    else:
        shown = newest_first if incomplete else newest_first[:VERSION_WINDOW]
        items += [(str(nanos), _utc(nanos)) for _, nanos in shown]
    return items


def backup_ids(target: Target, stack: tuple[str, str]) -> Items:
    """file://: the timestamps of a stack's backups/ copies, newest first, and ``bak``."""
    from ..backend.layout import BACKUPS_DIR, parse_backup_name

    if target.kind != "file":
        return []
    entries = _scandir(target.path(*_rel(BACKUPS_DIR, stack)), time.monotonic() + LISTING_BUDGET)
    found = sorted({p[1] for e in entries if (p := parse_backup_name(e.name)) is not None}, reverse=True)
    return [("bak", "the .bak next to the checkpoint")] + [(str(n), _utc(n)) for n in found]


def _lock_dir(stack: tuple[str, str]) -> str:
    from ..backend.layout import LOCKS_DIR, ORGANIZATION

    project, name = stack
    return f"{LOCKS_DIR}/{ORGANIZATION}/{project}/{name}" if project else f"{LOCKS_DIR}/{name}"


def _is_stack_lock_dir(directory: str) -> bool:
    from ..backend.layout import LOCKS_DIR, ORGANIZATION

    if not directory.startswith(LOCKS_DIR + "/"):
        return False
    rest = directory[len(LOCKS_DIR) + 1:].split("/")
    return len(rest) == 1 or (len(rest) == 3 and rest[0] == ORGANIZATION)


def lock_ids(target: Target, stack: tuple[str, str] | None) -> Items:
    """Lock ids with their holder: file:// from one walk of ``.pulumi/locks`` (or one stack's lock
    directory), other backends (and a file:// walk over budget) from the cache (:func:`cached_locks`)."""
    if target.kind == "file":
        try:
            return _listed_locks(target, stack)
        except (TimeoutError, OSError):
            pass
    return sorted((_lock_id(key), _holder(doc)) for key, doc in cached_locks(target).items()
                  if stack is None or key.rsplit("/", 1)[0] == _lock_dir(stack))


def _listed_locks(target: Target, stack: tuple[str, str] | None) -> Items:
    from ..backend.layout import LOCKS_DIR, ORGANIZATION

    deadline = time.monotonic() + LISTING_BUDGET
    base = target.path(*LOCKS_DIR.split("/"))
    if stack is not None:
        dirs = [target.path(*_lock_dir(stack).split("/"))]
    else:
        dirs = []
        for entry in _scandir(base, deadline):
            if entry.name == ORGANIZATION:
                dirs += [s.path for p in _scandir(entry.path, deadline) for s in _scandir(p.path, deadline)]
            else:
                dirs.append(entry.path)
    return sorted((e.name[: -len(".json")], _lock_holder(e.path))
                  for d in dirs for e in _scandir(d, deadline) if e.name.endswith(".json"))


def cached_locks(target: Target) -> dict[str, dict[str, Any]]:
    """Lock key -> what is known of it (``username``, ``hostname``, ``timestamp``, ``corrupt``), for the
    locks that the newest cached listing covering their directory saw.

    Records of :data:`LOCK_LISTING_KIND`: key = the listed prefix (``.pulumi/locks`` for the whole tree,
    or one stack's lock directory), value = ``{"listed": unix seconds, "locks": [{"key": ..., and
    optionally "username", "hostname", "timestamp", "corrupt"}]}`` (``LockInfo.to_dict()`` fits). A
    newer listing of a directory replaces what an older one said about it, so broken locks disappear;
    the holder of a lock may come from any listing (a lock file is never rewritten: a new lock is a new id).
    """
    listings: list[tuple[float, str, dict[str, dict[str, Any]]]] = []
    for prefix, record in cached_records(target, LOCK_LISTING_KIND).items():
        if not isinstance(record, dict) or not isinstance(record.get("locks"), list):
            continue
        listed = record.get("listed")
        when = float(listed) if isinstance(listed, (int, float)) and not isinstance(listed, bool) else 0.0
        locks = {str(doc["key"]): doc for doc in record["locks"] if isinstance(doc, dict) and doc.get("key")}
        listings.append((when, prefix.rstrip("/"), locks))
    listings.sort(key=lambda item: item[0])
    known: dict[str, dict[str, Any]] = {}
    for _, _, locks in listings:
        for key, doc in locks.items():
            known.setdefault(key, {}).update(doc)
    out: dict[str, dict[str, Any]] = {}
    for key, doc in known.items():
        directory = key.rsplit("/", 1)[0]
        if not _is_stack_lock_dir(directory):
            continue
        covering = [locks for _, prefix, locks in listings
                    if directory == prefix or directory.startswith(prefix + "/")]
        if covering and key in covering[-1]:
            out[key] = doc
    return out


def _lock_id(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    return name[: -len(".json")] if name.endswith(".json") else name


def _holder(doc: dict[str, Any]) -> str:
    if doc.get("corrupt"):
        return f"corrupt lock file: {doc['corrupt']}"
    if not {"pid", "username", "hostname", "timestamp"} & doc.keys():
        return "lock file (holder not read yet: `lock ls` reads it)"
    return f"{doc.get('username') or '?'}@{doc.get('hostname') or '?'} since {doc.get('timestamp') or '?'}"


def _lock_holder(path: str) -> str:
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read(4096))
        return _holder(doc) if isinstance(doc, dict) else "unreadable lock file"
    except (OSError, ValueError):
        return "unreadable lock file"
