"""`stack ls`: every stack from one listing, checkpoints read concurrently and summarised, cached."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..backend.layout import LOCKS_DIR, StackRef, compression_name
from ..errors import PulumiDiyError, UsageError

if TYPE_CHECKING:
    from ..backend.backend import Backend
    from ..backend.store import ObjectInfo
    from ..state import Checkpoint

SUMMARY_KIND = "stack-summary-v1"
SORT_KEYS = ("name", "last-update", "resources", "size")


def iso_time(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


@dataclass(frozen=True)
class StackSummary:
    """One row of `stack ls`."""

    ref: StackRef
    key: str
    size: int
    modified: datetime | None
    last_update: datetime | None
    resource_count: int | None
    locks: int
    secrets_provider: str | None
    pulumi_version: str | None
    compression: str
    pending_operations: int
    tags: dict[str, str] | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        return str(self.ref)

    def to_dict(self) -> dict[str, Any]:
        # Pulumi's `stack ls --json` keys first (name, current, lastUpdate, updateInProgress,
        # resourceCount), then ours.
        return {
            "name": self.name,
            "current": False,
            "lastUpdate": iso_time(self.last_update),
            "updateInProgress": self.locks > 0,
            "resourceCount": self.resource_count,
            "project": self.ref.project,
            "stack": self.ref.name,
            "fqn": self.ref.fqn,
            "key": self.key,
            "size": self.size,
            "modified": iso_time(self.modified),
            "compression": self.compression,
            "secretsProvider": self.secrets_provider,
            "pulumiVersion": self.pulumi_version,
            "pendingOperations": self.pending_operations,
            "locks": self.locks,
            "tags": self.tags,
            "error": self.error,
        }


def summarize_checkpoint(cp: Checkpoint) -> dict[str, Any]:
    """The small, cacheable record `stack ls` needs from a checkpoint."""
    sp = cp.secrets_providers or {}
    return {
        "last_update": iso_time(cp.manifest_time),
        "resource_count": cp.resource_count,
        "secrets_provider": sp.get("type"),
        "pulumi_version": cp.pulumi_version or None,
        "pending_operations": len(cp.pending_operations),
    }


def summarize_bytes(backend: Backend, key: str, data: bytes) -> dict[str, Any]:
    """:func:`summarize_checkpoint` of stored bytes, without the full parse where it is not needed.

    The common case (a version 3/4 file with known features and the usual shapes) is read with the
    C JSON parser and only five fields are looked at; anything else goes through the full parser,
    which validates it and raises the same errors Pulumi would. (A resource whose own fields have
    the wrong types is not noticed here; `stack show` and every command that uses the checkpoint
    validate it fully.)
    """
    import json

    from ..state import KNOWN_FEATURES, decompress, parse_go_time

    def reject(token: str) -> Any:
        raise ValueError(token)

    def finite(text: str) -> float:  # Go refuses numbers out of float64 range (1e400); so does the full parser
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise ValueError(text)
        return value

    try:
        raw = decompress(data, key)
        if raw.startswith(b"\xef\xbb\xbf"):  # json.loads would skip a BOM; Go does not
            raise ValueError("byte order mark")
        doc = json.loads(raw, parse_constant=reject, parse_float=finite)
        body = doc["checkpoint"]
        features = doc.get("features") or []
        latest = body.get("latest")
        if type(doc.get("version")) is not int or doc["version"] not in (3, 4) or \
                not set(features) <= KNOWN_FEATURES or not isinstance(latest, (dict, type(None))):
            raise ValueError("not the common shape")
        latest = latest or {}
        none = type(None)
        manifest, resources = latest.get("manifest"), latest.get("resources")
        pending, sp = latest.get("pending_operations"), latest.get("secrets_providers")
        if not (isinstance(manifest, (dict, none)) and isinstance(resources, (list, none))
                and isinstance(pending, (list, none)) and isinstance(sp, (dict, none))):
            raise ValueError("not the common shape")
        manifest, resources, pending, sp = manifest or {}, resources or [], pending or [], sp or {}
        when = manifest.get("time")
        if not isinstance(when, (str, none)) or not all(isinstance(r, (dict, none)) for r in resources):
            raise ValueError("not the common shape")
        last = parse_go_time(when) if when else None
        return {
            "last_update": None if last is None or last.year == 1 else iso_time(last),
            "resource_count": len(resources),
            "secrets_provider": sp.get("type"),
            "pulumi_version": manifest.get("version") or None,
            "pending_operations": len(pending),
        }
    except PulumiDiyError:
        raise
    except Exception:  # anything unusual: the full parser decides, and names the problem
        return summarize_checkpoint(backend.parse_object(key, data))


def _parse_tag_filters(tags: Sequence[str]) -> list[tuple[str, str | None]]:
    out = []
    for t in tags:
        k, eq, v = t.partition("=")
        if not k:
            raise UsageError(f"invalid tag filter {t!r}: use NAME or NAME=VALUE")
        out.append((k, v if eq else None))
    return out


def lock_counts(backend: Backend) -> dict[StackRef, int]:
    """Number of lock files per stack, from one listing of `.pulumi/locks/` (any file in a stack's lock
    directory, as Pulumi and `lock ls` count them)."""
    from ..locking.model import split_lock_key

    counts: Counter[StackRef] = Counter()
    for o in backend.store.list(LOCKS_DIR):
        parsed = split_lock_key(o.key)
        if parsed:
            counts[parsed[0]] += 1
    return dict(counts)


def list_stacks(
    backend: Backend,
    *,
    project: str | None = None,
    tags: Sequence[str] = (),
    sort: str = "name",
    progress: Callable[[int], None] | None = None,
) -> list[StackSummary]:
    """Every stack in the backend with last update, resource count, locks and size.

    Names and sizes come from one listing; checkpoints are read concurrently and only when their
    fingerprint (etag/mtime/size) is not in the local cache.
    """
    if sort not in SORT_KEYS:
        raise UsageError(f"invalid sort key {sort!r}: one of {', '.join(SORT_KEYS)}")
    tag_filters = _parse_tag_filters(tags)
    objects = backend.list_stack_objects()
    stacks = backend.stacks(objects)
    if project is not None:
        # Legacy refs have no project and always pass, as in Pulumi.
        stacks = {r: o for r, o in stacks.items() if r.project is None or r.project == project}

    tag_values: dict[StackRef, dict[str, str]] = {}
    if tag_filters:
        tag_values = _read_tags(backend, stacks, objects)
        stacks = {r: o for r, o in stacks.items() if _tags_match(tag_values.get(r, {}), tag_filters)}

    # The locks listing runs while the checkpoints are read: one round trip less on the critical path.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as side:
        locks_future = side.submit(lock_counts, backend)
        cached, fresh, errors = _read_summaries(backend, list(stacks.values()), progress)
        locks = locks_future.result()

    rows = []
    for ref, obj in stacks.items():
        rec = cached.get(obj.key) or fresh.get(obj.key)
        if rec is None and obj.key in errors and "not found" in errors[obj.key]:
            continue  # vanished between listing and read: Pulumi skips these too
        rows.append(_summary(ref, obj, rec, locks.get(ref, 0), tag_values.get(ref) if tag_filters else None,
                             errors.get(obj.key)))
    return sort_summaries(rows, sort)


def _read_summaries(backend: Backend, objects: list[ObjectInfo], progress: Callable[[int], None] | None
                    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, str]]:
    """Summaries from the cache where the fingerprint matches, the rest read concurrently and cached."""
    fingerprints = {o.key: o.fingerprint for o in objects}
    cached = backend.cache.get_many(SUMMARY_KIND, fingerprints)
    missing = [o.key for o in objects if o.key not in cached]
    if progress and cached:
        progress(len(objects) - len(missing))
    fresh: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    for key, data in backend.iter_read(missing):
        if isinstance(data, PulumiDiyError):
            errors[key] = data.message
        else:
            try:
                fresh[key] = summarize_bytes(backend, key, data)
            except PulumiDiyError as e:
                errors[key] = e.message
        if progress:
            progress(1)
    backend.cache.put_many(SUMMARY_KIND, [(k, fingerprints[k], v) for k, v in fresh.items()])
    return cached, fresh, errors


def _summary(ref: StackRef, obj: ObjectInfo, rec: dict[str, Any] | None, locks: int,
             tags: dict[str, str] | None, error: str | None) -> StackSummary:
    rec = rec or {}
    last = rec.get("last_update")
    return StackSummary(
        ref=ref, key=obj.key, size=obj.size, modified=obj.mtime,
        last_update=datetime.fromisoformat(last.replace("Z", "+00:00")) if last else None,
        resource_count=rec.get("resource_count"), locks=locks, secrets_provider=rec.get("secrets_provider"),
        pulumi_version=rec.get("pulumi_version"), compression=compression_name(obj.key),
        pending_operations=int(rec.get("pending_operations") or 0), tags=tags, error=error,
    )


def sort_summaries(rows: list[StackSummary], sort: str) -> list[StackSummary]:
    def by_name(s: StackSummary) -> tuple[str, str]:
        return (s.ref.project or "", s.ref.name)

    rows.sort(key=by_name)
    if sort == "last-update":
        rows.sort(key=lambda s: s.last_update.timestamp() if s.last_update else 0.0, reverse=True)
    elif sort == "resources":
        rows.sort(key=lambda s: s.resource_count or 0, reverse=True)
    elif sort == "size":
        rows.sort(key=lambda s: s.size, reverse=True)
    return rows


def _read_tags(backend: Backend, stacks: dict[StackRef, ObjectInfo],
               objects: Sequence[ObjectInfo]) -> dict[StackRef, dict[str, str]]:
    from ..backend.backend import parse_tags

    present = {o.key for o in objects}
    keys = {backend.layout.tags_key(r): r for r in stacks if backend.layout.tags_key(r) in present}
    out: dict[StackRef, dict[str, str]] = {}
    for key, data in backend.iter_read(list(keys)):
        if isinstance(data, bytes):
            try:
                out[keys[key]] = parse_tags(data, backend.store.describe(key))
            except PulumiDiyError as e:  # one bad tags file: that stack matches no filter, the rest lists
                import logging

                logging.getLogger("pulumi_diy.stacks").warning("warning: tags not read: %s", e.message)
    return out


def _tags_match(values: dict[str, str], filters: list[tuple[str, str | None]]) -> bool:
    return all(k in values and (v is None or values[k] == v) for k, v in filters)
