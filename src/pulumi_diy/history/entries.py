"""History entries (``*.history.json``, Pulumi's UpdateInfo; format doc section 3.8): list and show.

Only the entries shown are read, concurrently, and each parsed entry is cached locally by the
file's fingerprint (history files never change once written).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..backend.layout import StackRef
from ..errors import CorruptInput, PulumiDiyError
from .versions import HistoryVersion, list_versions, measure_versions, resolve_version

if TYPE_CHECKING:
    from ..backend.backend import Backend

ENTRY_KIND = "history-entry-v1"
CHECKPOINT_SUMMARY_KIND = "history-checkpoint-v1"
DEFAULT_LIMIT = 20

_CI_KEYS = (("ciSystem", "ci.system"), ("ciBuildId", "ci.build.id"), ("ciBuildNumber", "ci.build.number"),
            ("ciBuildType", "ci.build.type"), ("ciBuildUrl", "ci.build.url"), ("ciPrNumber", "ci.pr.number"))


def pulumi_time(seconds: int | None) -> str | None:
    """A Unix time as ``pulumi stack history --json`` prints it (RFC 5424, milliseconds, UTC)."""
    if seconds is None:
        return None
    dt = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _is_secure(v: Any) -> bool:
    return isinstance(v, dict) and len(v) == 1 and isinstance(v.get("secure"), str)


def _has_secure(v: Any) -> bool:
    if _is_secure(v):
        return True
    if isinstance(v, dict):
        return any(_has_secure(x) for x in v.values())
    if isinstance(v, list):
        return any(_has_secure(x) for x in v)
    return False


def config_json(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The ``config`` of ``pulumi stack history --json``: ``{value?, objectValue?, secret}`` per key, secure
    values blinded (no value) exactly as Pulumi prints them without ``--show-secrets``."""
    from ..secrets.values import go_json_marshal

    out: dict[str, dict[str, Any]] = {}
    for key in sorted(config):
        v = config[key]
        if _has_secure(v):
            out[key] = {"secret": True}
        elif isinstance(v, str):
            out[key] = {"value": v, "secret": False}
        elif isinstance(v, (dict, list)):
            out[key] = {"value": go_json_marshal(v), "objectValue": v, "secret": False}
        else:
            out[key] = {"value": go_json_marshal(v), "secret": False}
    return out


def mask_config(config: dict[str, Any]) -> dict[str, Any]:
    """Config for display: every ``{secure: ...}`` leaf replaced by ``[secret]``."""

    def mask(v: Any) -> Any:
        if _is_secure(v):
            return "[secret]"
        if isinstance(v, dict):
            return {k: mask(x) for k, x in v.items()}
        if isinstance(v, list):
            return [mask(x) for x in v]
        return v

    return {k: mask(config[k]) for k in sorted(config)}


@dataclass(frozen=True)
class HistoryEntry:
    """One update as recorded in history, with its version number and files."""

    ref: StackRef
    version: int
    nanos: int
    key: str
    checkpoint_key: str | None
    checkpoint_size: int | None
    kind: str = ""
    start_time: int | None = None
    end_time: int | None = None
    message: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    result: str = ""
    resource_changes: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def id(self) -> str:
        return str(self.nanos)

    @property
    def started(self) -> datetime | None:
        if self.start_time is None:
            return None
        return datetime.fromtimestamp(self.start_time, tz=timezone.utc)

    @property
    def duration(self) -> int | None:
        if self.start_time is None or self.end_time is None or self.result == "in-progress":
            return None
        return max(self.end_time - self.start_time, 0)

    def env(self, name: str) -> str | None:
        value = self.environment.get(name)
        return value if value else None

    @property
    def user(self) -> str | None:
        return self.env("git.author")

    @property
    def pulumi_version(self) -> str | None:
        return self.env("pulumi.version")

    def to_dict(self) -> dict[str, Any]:
        # `pulumi stack history --json` keys first, in its order, then ours.
        out: dict[str, Any] = {
            "version": self.version,
            "kind": self.kind,
            "startTime": pulumi_time(self.start_time),
            "message": self.message,
            "environment": dict(self.environment),
            "config": config_json(self.config),
        }
        if self.result:
            out["result"] = self.result
        if self.result != "in-progress":
            out["endTime"] = pulumi_time(self.end_time)
            out["resourceChanges"] = dict(self.resource_changes)
        out.update({
            "stack": str(self.ref),
            "id": self.id,
            "duration": self.duration,
            "user": self.user,
            "userEmail": self.env("git.author.email"),
            "gitHead": self.env("git.head"),
            "gitBranch": self.env("git.headName"),
            "gitDirty": self.env("git.dirty"),
        })
        for name, env_key in _CI_KEYS:
            out[name] = self.env(env_key)
        out.update({
            "pulumiVersion": self.pulumi_version,
            "historyKey": self.key,
            "checkpointKey": self.checkpoint_key,
            "checkpointSize": self.checkpoint_size,
            "error": self.error,
        })
        return out


def parse_update_info(data: bytes, name: str) -> dict[str, Any]:
    """A ``.history.json[.gz|.zst]`` file -> the UpdateInfo object, checked the way Go's decoder would."""
    from ..state import decompress, loads

    doc = loads(decompress(data, name), name)
    if not isinstance(doc, dict):
        raise CorruptInput(f"{name}: history entry is not a JSON object")
    checks: tuple[tuple[str, type | tuple[type, ...]], ...] = (
        ("kind", str), ("message", str), ("result", str), ("startTime", int), ("endTime", int),
        ("environment", dict), ("config", dict), ("resourceChanges", dict))
    for key, typ in checks:
        v = doc.get(key)
        if v is not None and (not isinstance(v, typ) or isinstance(v, bool)):
            raise CorruptInput(f"{name}: history entry field {key!r} has the wrong type")
    return doc


def _entry(version: HistoryVersion, doc: dict[str, Any] | None, error: str | None) -> HistoryEntry:
    cp = version.checkpoint
    base = dict(ref=version.ref, version=version.version, nanos=version.nanos, key=version.history.key,
                checkpoint_key=cp.key if cp else None, checkpoint_size=cp.size if cp else None)
    if doc is None:
        return HistoryEntry(**base, error=error)  # type: ignore[arg-type]
    env = {str(k): str(v) for k, v in (doc.get("environment") or {}).items()}
    changes = {str(k): int(v) for k, v in (doc.get("resourceChanges") or {}).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return HistoryEntry(
        **base,  # type: ignore[arg-type]
        kind=str(doc.get("kind") or ""), start_time=doc.get("startTime"), end_time=doc.get("endTime"),
        message=str(doc.get("message") or ""), environment=dict(sorted(env.items())),
        config=dict(doc.get("config") or {}), result=str(doc.get("result") or ""), resource_changes=changes,
    )


def read_entries(backend: Backend, versions: Sequence[HistoryVersion],
                 progress: Callable[[int], None] | None = None) -> list[HistoryEntry]:
    """Parse the history files of ``versions`` (cache first, then concurrent reads), in the given order.

    An unreadable entry comes back with ``error`` set instead of failing the whole list.
    """
    fingerprints = {v.history.key: v.history.fingerprint for v in versions}
    cached: dict[str, Any] = backend.cache.get_many(ENTRY_KIND, fingerprints)
    if progress and cached:
        progress(len(cached))
    missing = [v.history.key for v in versions if v.history.key not in cached]
    errors: dict[str, str] = {}
    fresh: dict[str, dict[str, Any]] = {}
    for key, data in backend.iter_read(missing):
        if isinstance(data, PulumiDiyError):
            errors[key] = data.message
        else:
            try:
                fresh[key] = parse_update_info(data, backend.store.describe(key))
            except PulumiDiyError as e:
                errors[key] = e.message
        if progress:
            progress(1)
    backend.cache.put_many(ENTRY_KIND, [(k, fingerprints[k], v) for k, v in fresh.items()])
    out = []
    for v in versions:
        key = v.history.key
        doc = cached.get(key) if key in cached else fresh.get(key)
        out.append(_entry(v, doc if isinstance(doc, dict) else None, errors.get(key)))
    return out


@dataclass(frozen=True)
class HistoryPage:
    """`history ls STACK`: the newest entries first and how many exist."""

    ref: StackRef
    total: int
    entries: tuple[HistoryEntry, ...]

    def to_dict(self) -> list[dict[str, Any]]:
        # The same top-level shape as `pulumi stack history --json`: an array of updates.
        return [e.to_dict() for e in self.entries]


def list_history(backend: Backend, ref: StackRef, *, limit: int | None = DEFAULT_LIMIT, offset: int = 0,
                 progress: Callable[[int], None] | None = None) -> HistoryPage:
    """The stack's updates, newest first: ``limit`` entries (None or 0 = all) after skipping ``offset``.

    Costs one listing of the history directory plus reads of just the entries returned. A stack
    without history is an empty page; a stack that does not exist raises StackNotFound.
    """
    listing = list_versions(backend, ref, sizes=False)  # sizes of the entries shown only (PostgreSQL)
    if not listing.versions:
        backend.current_object(ref)  # StackNotFound for a stack that does not exist at all
    newest_first = list(reversed(listing.versions))
    end = None if not limit else offset + limit
    shown = measure_versions(backend, newest_first[offset:end])
    return HistoryPage(ref, len(newest_first), tuple(read_entries(backend, shown, progress)))


@dataclass(frozen=True)
class CheckpointSummary:
    """What `history show` says about the checkpoint saved with an entry."""

    key: str
    size: int
    resource_count: int | None
    pulumi_version: str | None
    secrets_provider: str | None
    pending_operations: int
    manifest_time: str | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "size": self.size, "resourceCount": self.resource_count,
                "pulumiVersion": self.pulumi_version, "secretsProvider": self.secrets_provider,
                "pendingOperations": self.pending_operations, "time": self.manifest_time, "error": self.error}


@dataclass(frozen=True)
class HistoryDetails:
    """`history show`: one entry in full (config with secure values masked) and its checkpoint."""

    entry: HistoryEntry
    total: int
    checkpoint: CheckpointSummary | None

    @property
    def masked_config(self) -> dict[str, Any]:
        return mask_config(self.entry.config)

    def to_dict(self) -> dict[str, Any]:
        out = self.entry.to_dict()
        out["configMasked"] = self.masked_config
        out["versions"] = self.total
        out["checkpoint"] = self.checkpoint.to_dict() if self.checkpoint else None
        return out


def _checkpoint_summary(backend: Backend, version: HistoryVersion) -> CheckpointSummary | None:
    obj = version.checkpoint
    if obj is None:
        return None
    cached = backend.cache.get_many(CHECKPOINT_SUMMARY_KIND, {obj.key: obj.fingerprint}).get(obj.key)
    if isinstance(cached, dict):
        return CheckpointSummary(**cached)
    try:
        cp = backend.parse_object(obj.key, backend.store.read(obj.key))
    except PulumiDiyError as e:
        return CheckpointSummary(obj.key, obj.size, None, None, None, 0, None, error=e.message)
    sp = cp.secrets_providers or {}
    summary = CheckpointSummary(
        key=obj.key, size=obj.size, resource_count=cp.resource_count if cp.latest is not None else None,
        pulumi_version=cp.pulumi_version or None, secrets_provider=sp.get("type"),
        pending_operations=len(cp.pending_operations), manifest_time=cp.manifest.get("time") or None)
    backend.cache.put_many(CHECKPOINT_SUMMARY_KIND, [(obj.key, obj.fingerprint, dataclasses.asdict(summary))])
    return summary


def show_entry(backend: Backend, ref: StackRef, spec: str | int) -> HistoryDetails:
    """One history entry in full, plus a summary of the checkpoint saved with it."""
    listing = list_versions(backend, ref)
    version = resolve_version(listing, spec)
    entry = read_entries(backend, [version])[0]
    return HistoryDetails(entry, len(listing.versions), _checkpoint_summary(backend, version))
