"""Stack operations: list (fast, cached), show, resources, export. Read-only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .backend.layout import LOCKS_DIR, StackRef
from .errors import PulumiDiyError, UsageError

if TYPE_CHECKING:
    from .backend.backend import Backend
    from .backend.store import ObjectInfo
    from .state import Checkpoint

SUMMARY_KIND = "stack-summary-v1"
SORT_KEYS = ("name", "last-update", "resources", "size")


def _iso(dt: datetime | None) -> str | None:
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
            "lastUpdate": _iso(self.last_update),
            "updateInProgress": self.locks > 0,
            "resourceCount": self.resource_count,
            "project": self.ref.project,
            "stack": self.ref.name,
            "fqn": self.ref.fqn,
            "key": self.key,
            "size": self.size,
            "modified": _iso(self.modified),
            "compression": self.compression,
            "secretsProvider": self.secrets_provider,
            "pulumiVersion": self.pulumi_version,
            "pendingOperations": self.pending_operations,
            "locks": self.locks,
            "tags": self.tags,
            "error": self.error,
        }


def _compression_of(key: str) -> str:
    return "gzip" if key.endswith(".gz") else "zstd" if key.endswith(".zst") else "none"


def summarize_checkpoint(cp: Checkpoint) -> dict[str, Any]:
    """The small, cacheable record `stack ls` needs from a checkpoint."""
    sp = cp.secrets_providers or {}
    return {
        "last_update": _iso(cp.manifest_time),
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

    from .state import KNOWN_FEATURES, decompress, parse_go_time

    def reject(token: str) -> Any:
        raise ValueError(token)

    try:
        doc = json.loads(decompress(data, key), parse_constant=reject)
        body = doc["checkpoint"]
        features = doc.get("features") or []
        latest = body.get("latest")
        if doc.get("version") not in (3, 4) or not set(features) <= KNOWN_FEATURES or \
                not isinstance(latest, (dict, type(None))):
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
            "last_update": None if last is None or last.year == 1 else _iso(last),
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
    """Number of lock files per stack, from one listing of `.pulumi/locks/`."""
    counts: Counter[StackRef] = Counter()
    for o in backend.store.list(LOCKS_DIR):
        parsed = backend.layout.parse_lock_key(o.key)
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

    side = ThreadPoolExecutor(max_workers=1)
    locks_future = side.submit(lock_counts, backend)
    fingerprints = {o.key: o.fingerprint for o in stacks.values()}
    cached = backend.cache.get_many(SUMMARY_KIND, fingerprints)
    missing = [o.key for o in stacks.values() if o.key not in cached]
    if progress and cached:
        progress(len(stacks) - len(missing))
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
    try:
        locks = locks_future.result()
    finally:
        side.shutdown(wait=True)

    rows = []
    for ref, obj in stacks.items():
        rec = cached.get(obj.key) or fresh.get(obj.key)
        if rec is None and obj.key in errors and "not found" in errors[obj.key]:
            continue  # vanished between listing and read: Pulumi skips these too
        rows.append(_summary(ref, obj, rec, locks.get(ref, 0), tag_values.get(ref) if tag_filters else None,
                             errors.get(obj.key)))
    return sort_summaries(rows, sort)


def _summary(ref: StackRef, obj: ObjectInfo, rec: dict[str, Any] | None, locks: int,
             tags: dict[str, str] | None, error: str | None) -> StackSummary:
    rec = rec or {}
    last = rec.get("last_update")
    return StackSummary(
        ref=ref, key=obj.key, size=obj.size, modified=obj.mtime,
        last_update=datetime.fromisoformat(last.replace("Z", "+00:00")) if last else None,
        resource_count=rec.get("resource_count"), locks=locks, secrets_provider=rec.get("secrets_provider"),
        pulumi_version=rec.get("pulumi_version"), compression=_compression_of(obj.key),
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
    from .backend.backend import parse_tags

    present = {o.key for o in objects}
    keys = {backend.layout.tags_key(r): r for r in stacks if backend.layout.tags_key(r) in present}
    out: dict[StackRef, dict[str, str]] = {}
    for key, data in backend.iter_read(list(keys)):
        if isinstance(data, bytes):
            out[keys[key]] = parse_tags(data, backend.store.describe(key))
    return out


def _tags_match(values: dict[str, str], filters: list[tuple[str, str | None]]) -> bool:
    return all(k in values and (v is None or values[k] == v) for k, v in filters)


# --- show ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackDetails:
    """`stack show`: everything about one stack, secrets masked unless revealed."""

    ref: StackRef
    key: str
    size: int
    modified: datetime | None
    compression: str
    style: str
    version: int
    features: list[str]
    last_update: datetime | None
    pulumi_version: str | None
    magic_ok: bool
    secrets_provider: dict[str, Any] | None
    resource_count: int
    resources_by_type: dict[str, int]
    outputs: dict[str, Any]
    providers: list[dict[str, Any]]
    pending_operations: list[dict[str, Any]]
    tags: dict[str, str]
    locks: list[dict[str, Any]]
    history_count: int
    backups_count: int
    integrity: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": str(self.ref),
            "project": self.ref.project,
            "stack": self.ref.name,
            "fqn": self.ref.fqn,
            "key": self.key,
            "size": self.size,
            "modified": _iso(self.modified),
            "compression": self.compression,
            "style": self.style,
            "version": self.version,
            "features": self.features,
            "lastUpdate": _iso(self.last_update),
            "pulumiVersion": self.pulumi_version,
            "magicOk": self.magic_ok,
            "secretsProvider": self.secrets_provider,
            "resourceCount": self.resource_count,
            "resourcesByType": self.resources_by_type,
            "outputs": self.outputs,
            "providers": self.providers,
            "pendingOperations": self.pending_operations,
            "tags": self.tags,
            "locks": self.locks,
            "historyCount": self.history_count,
            "backupsCount": self.backups_count,
            "integrity": self.integrity,
        }


def _safe_secrets_provider(sp: dict[str, Any] | None) -> dict[str, Any] | None:
    if not sp:
        return None
    raw_state = sp.get("state")
    state: dict[str, Any] = raw_state if isinstance(raw_state, dict) else {}
    out: dict[str, Any] = {"type": sp.get("type")}
    if state.get("url"):
        from .backend.urls import redact_url

        out["url"] = redact_url(str(state["url"]))
    return out


def show_stack(backend: Backend, ref: StackRef, *, reveal: Callable[[Checkpoint], dict[str, Any]] | None = None
               ) -> StackDetails:
    """Summarise one stack. ``reveal`` (from the secrets layer) returns the revealed deployment when the
    user asked for secrets; otherwise outputs show ``[secret]``."""
    from .locks import read_locks
    from .secrets.values import mask_secrets
    from .state import check_integrity, expected_magic

    obj = backend.current_object(ref)
    cp = backend.parse_object(obj.key, backend.store.read(obj.key))
    deployment = (reveal(cp) if reveal else cp.latest) or {}
    resources = deployment.get("resources") or []
    root = next((r for r in resources if r.get("type") == "pulumi:pulumi:Stack"), None)
    outputs = dict(root.get("outputs") or {}) if root else {}
    outputs = _plain_values(outputs) if reveal else mask_secrets(outputs)
    providers = [
        {"urn": r.get("urn"), "id": r.get("id"), "version": (r.get("inputs") or {}).get("version")}
        for r in resources if str(r.get("type", "")).startswith("pulumi:providers:")
    ]
    pending = [{"type": op.get("type"), "urn": (op.get("resource") or {}).get("urn")}
               for op in cp.pending_operations]
    manifest = cp.manifest
    version = str(manifest.get("version") or "")
    history = [o for o in backend.store.list(backend.layout.history_dir(ref), recursive=False)
               if ".history.json" in o.key]
    backups = backend.store.list(backend.layout.backups_dir(ref), recursive=False)
    return StackDetails(
        ref=ref, key=obj.key, size=obj.size, modified=obj.mtime, compression=_compression_of(obj.key),
        style="indented" if cp.style.indent else "compact", version=cp.version, features=list(cp.features),
        last_update=cp.manifest_time, pulumi_version=cp.pulumi_version or None,
        magic_ok=not manifest or str(manifest.get("magic") or "") == expected_magic(version),
        secrets_provider=_safe_secrets_provider(cp.secrets_providers), resource_count=cp.resource_count,
        resources_by_type=dict(sorted(Counter(str(r.get("type")) for r in cp.resources).items())),
        outputs=outputs, providers=providers, pending_operations=pending, tags=backend.read_tags(ref),
        locks=[lock.to_dict() for lock in read_locks(backend, ref)], history_count=len(history),
        backups_count=len(backups),
        integrity=[{"urn": p.urn, "message": p.message} for p in check_integrity(cp.latest or {})],
    )


def _plain_values(value: Any) -> Any:
    """Revealed secrets (`{sig, plaintext: "<JSON>"}`) as their plain values, for display."""
    import json

    from .secrets.values import is_secret

    if is_secret(value) and isinstance(value.get("plaintext"), str):
        try:
            return _plain_values(json.loads(value["plaintext"]))
        except ValueError:
            return value["plaintext"]
    if isinstance(value, dict):
        return {k: _plain_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_values(v) for v in value]
    return value


# --- resources ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceNode:
    urn: str
    type: str
    name: str
    id: str | None
    custom: bool
    parent: str | None
    provider: str | None
    protect: bool
    external: bool
    delete: bool
    pending_replacement: bool
    taint: bool
    retain_on_delete: bool
    children: list[ResourceNode] = field(default_factory=list)

    @property
    def marks(self) -> list[str]:
        flags = [("protect", self.protect), ("external", self.external), ("delete", self.delete),
                 ("pending-replacement", self.pending_replacement), ("taint", self.taint),
                 ("retain-on-delete", self.retain_on_delete)]
        return [n for n, on in flags if on]

    def to_dict(self) -> dict[str, Any]:
        return {"urn": self.urn, "type": self.type, "name": self.name, "id": self.id, "custom": self.custom,
                "parent": self.parent, "provider": self.provider, "marks": self.marks,
                "children": [c.to_dict() for c in self.children]}


@dataclass(frozen=True)
class ResourceTree:
    ref: StackRef
    roots: list[ResourceNode]
    count: int
    flat: bool

    def to_dict(self) -> dict[str, Any]:
        return {"stack": str(self.ref), "count": self.count, "resources": [r.to_dict() for r in self.roots]}


def stack_resources(backend: Backend, ref: StackRef, *, type_filter: str | None = None) -> ResourceTree:
    """The resource tree by parent. With ``type_filter`` the matching resources as a flat list."""
    from .state import parse_urn

    cp = backend.read_checkpoint(ref)
    nodes: dict[str, ResourceNode] = {}
    order: list[ResourceNode] = []
    for r in cp.resources:
        urn = str(r.get("urn", ""))
        try:
            name = parse_urn(urn).name
        except PulumiDiyError:
            name = urn
        node = ResourceNode(
            urn=urn, type=str(r.get("type", "")), name=name, id=r.get("id") or None, custom=bool(r.get("custom")),
            parent=r.get("parent") or None, provider=r.get("provider") or None, protect=bool(r.get("protect")),
            external=bool(r.get("external")), delete=bool(r.get("delete")),
            pending_replacement=bool(r.get("pendingReplacement")), taint=bool(r.get("taint")),
            retain_on_delete=bool(r.get("retainOnDelete")),
        )
        order.append(node)
        if not node.delete or urn not in nodes:
            nodes[urn] = node
    if type_filter:
        matched = [n for n in order if n.type == type_filter or n.type.startswith(type_filter + "$")
                   or _type_matches(n.type, type_filter)]
        return ResourceTree(ref, matched, len(matched), flat=True)
    roots: list[ResourceNode] = []
    for n in order:
        parent = nodes.get(n.parent) if n.parent else None
        if parent is not None and parent is not n:
            parent.children.append(n)
        else:
            roots.append(n)
    return ResourceTree(ref, roots, len(order), flat=False)


def _type_matches(resource_type: str, pattern: str) -> bool:
    import fnmatch

    return any(ch in pattern for ch in "*?[") and fnmatch.fnmatchcase(resource_type, pattern)


# --- export -----------------------------------------------------------------------------------------


def export_stack(backend: Backend, ref: StackRef, *, reveal: Callable[[Checkpoint], dict[str, Any]] | None = None,
                 on_warning: Callable[[str], None] | None = None) -> bytes:
    """The document `pulumi stack export` prints (with plaintext secrets only when ``reveal`` is given).

    Integrity problems (Pulumi would refuse to operate on the stack) are passed to ``on_warning``.
    """
    from .state import check_integrity, export_document

    cp = backend.read_checkpoint(ref)
    if on_warning is not None and cp.latest is not None:
        for problem in check_integrity(cp.latest):
            on_warning(f"integrity: {problem.urn}: {problem.message}")
    if reveal is not None and cp.latest is not None:
        cp = _with_deployment(cp, reveal(cp))
    return export_document(cp)


def _with_deployment(cp: Checkpoint, deployment: dict[str, Any]) -> Checkpoint:
    import dataclasses

    return dataclasses.replace(cp, latest=deployment)
