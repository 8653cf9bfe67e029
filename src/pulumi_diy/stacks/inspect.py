"""One stack: `stack show`, `stack resources`, `stack export`. Read-only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..backend.layout import StackRef, compression_name
from ..errors import CorruptInput, PulumiDiyError, UnsupportedVersion
from .listing import iso_time

if TYPE_CHECKING:
    from ..backend.backend import Backend
    from ..state import Checkpoint

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
    tags_error: str | None = None  # the tags file exists but cannot be read (the rest is still shown)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": str(self.ref),
            "project": self.ref.project,
            "stack": self.ref.name,
            "fqn": self.ref.fqn,
            "key": self.key,
            "size": self.size,
            "modified": iso_time(self.modified),
            "compression": self.compression,
            "style": self.style,
            "version": self.version,
            "features": self.features,
            "lastUpdate": iso_time(self.last_update),
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
            "tagsError": self.tags_error,
        }


def _safe_secrets_provider(sp: dict[str, Any] | None) -> dict[str, Any] | None:
    if not sp:
        return None
    raw_state = sp.get("state")
    state: dict[str, Any] = raw_state if isinstance(raw_state, dict) else {}
    out: dict[str, Any] = {"type": sp.get("type")}
    if state.get("url"):
        from ..backend.urls import redact_url

        out["url"] = redact_url(str(state["url"]))
    return out


def show_stack(backend: Backend, ref: StackRef, *, reveal: Callable[[Checkpoint], dict[str, Any]] | None = None
               ) -> StackDetails:
    """Summarise one stack. ``reveal`` (from the secrets layer) returns the revealed deployment when the
    user asked for secrets; otherwise outputs show ``[secret]``."""
    from ..locks import read_locks
    from ..secrets.values import mask_secrets
    from ..state import check_integrity, expected_magic

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
    tags: dict[str, str] = {}
    tags_error = None
    try:
        tags = backend.read_tags(ref)
    except (CorruptInput, UnsupportedVersion) as e:
        tags_error = e.message
    history = [o for o in backend.store.list(backend.layout.history_dir(ref), recursive=False)
               if ".history.json" in o.key]
    backups = backend.store.list(backend.layout.backups_dir(ref), recursive=False)
    return StackDetails(
        ref=ref, key=obj.key, size=obj.size, modified=obj.mtime, compression=compression_name(obj.key),
        style="indented" if cp.style.indent else "compact", version=cp.version, features=list(cp.features),
        last_update=cp.manifest_time, pulumi_version=cp.pulumi_version or None,
        magic_ok=not manifest or str(manifest.get("magic") or "") == expected_magic(version),
        secrets_provider=_safe_secrets_provider(cp.secrets_providers), resource_count=cp.resource_count,
        resources_by_type=dict(sorted(Counter(str(r.get("type")) for r in cp.resources).items())),
        outputs=outputs, providers=providers, pending_operations=pending, tags=tags,
        locks=[lock.to_dict() for lock in read_locks(backend, ref)], history_count=len(history),
        backups_count=len(backups),
        integrity=[{"urn": p.urn, "message": p.message} for p in check_integrity(cp.latest or {})],
        tags_error=tags_error,
    )


def _plain_values(value: Any) -> Any:
    """Revealed secrets (`{sig, plaintext: "<JSON>"}`) as their plain values, for display."""
    import json

    from ..secrets.values import is_secret

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
    from ..state import parse_urn

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
    from ..state import check_integrity, export_document

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
