"""Checkpoint files (``<stack>.json[.gz|.zst]``) <-> :class:`Checkpoint`, and export documents.

A checkpoint keeps the parsed document exactly as stored (``doc``) next to the deployment in the
current V3 shape (``latest``), so an unchanged checkpoint is written back byte-for-byte
(format doc sections 3.0-3.7) while readers work with one shape whatever the file's version.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pulumi_diy.errors import CheckpointCorrupt, CorruptInput, UnsupportedFeature, UnsupportedVersion
from pulumi_diy.state import schema
from pulumi_diy.state.compression import Compression, compress, decompress, detect_compression
from pulumi_diy.state.gojson import COMPACT, JsonStyle, detect_style, dumps, loads, parse_go_time

KNOWN_FEATURES: frozenset[str] = frozenset({
    "refreshBeforeUpdate", "views", "hooks", "taint", "replaceWith", "snippets-prototype",
    "extensionParameterization", "byteString",
})

_BODY_KIND = {0: schema.CHECKPOINT_V1, 1: schema.CHECKPOINT_V1, 2: schema.CHECKPOINT_V2,
              3: schema.CHECKPOINT_V3, 4: schema.CHECKPOINT_V3}
_DEPLOYMENT_KIND = {1: schema.DEPLOYMENT_V1, 2: schema.DEPLOYMENT_V2,
                    3: schema.DEPLOYMENT_V3, 4: schema.DEPLOYMENT_V3}
_GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=timezone.utc)


@dataclass
class Checkpoint:
    """One stack file, parsed.

    ``doc`` is the document as stored (unmigrated; what :func:`encode_checkpoint` writes).
    ``latest`` is the deployment in the V3 shape: for version 3/4 files it is the very dict inside
    ``doc`` (so edits to it are written back) unless Go's case-insensitive key matching had to
    rename keys; for versions 0-2 it is a migrated copy. ``raw`` holds the stored bytes (still
    compressed; empty for checkpoints built in memory). ``html_escape`` records whether the file
    HTML-escaped ``<``, ``>``, ``&`` outside ``secrets_providers.state``.
    """

    version: int
    features: list[str]
    stack: str
    latest: dict[str, Any] | None
    doc: dict[str, Any]
    style: JsonStyle
    compression: Compression
    raw: bytes
    html_escape: bool = False

    @property
    def resources(self) -> list[dict[str, Any]]:
        """The deployment's resources (the live list when there is one, so edits stick)."""
        resources: list[dict[str, Any]] = (self.latest or {}).get("resources") or []
        return resources

    @property
    def pending_operations(self) -> list[dict[str, Any]]:
        operations: list[dict[str, Any]] = (self.latest or {}).get("pending_operations") or []
        return operations

    @property
    def secrets_providers(self) -> dict[str, Any] | None:
        return (self.latest or {}).get("secrets_providers")

    @property
    def manifest(self) -> dict[str, Any]:
        return (self.latest or {}).get("manifest") or {}

    @property
    def manifest_time(self) -> datetime | None:
        """When the deployment was written; None when absent or Go's zero time."""
        value = self.manifest.get("time")
        if not isinstance(value, str) or not value:
            return None
        try:
            when = parse_go_time(value)
        except CorruptInput:
            return None
        try:
            return None if when == _GO_ZERO_TIME else when
        except OverflowError:  # an offset pushing the instant before year 1
            return None

    @property
    def pulumi_version(self) -> str:
        return str(self.manifest.get("version") or "")

    @property
    def resource_count(self) -> int:
        return len((self.latest or {}).get("resources") or [])

    @property
    def is_stub(self) -> bool:
        """True for the placeholder `stack init` writes: a checkpoint without a deployment."""
        return self.latest is None


def parse_checkpoint(data: bytes, name: str) -> Checkpoint:
    """Parse stored checkpoint bytes (any compression, versions 0-4) read from ``name``.

    Raises :class:`CheckpointCorrupt`, :class:`UnsupportedVersion` or :class:`UnsupportedFeature`.
    """
    try:
        text = decompress(data, name)
        doc = loads(text, name)
    except CheckpointCorrupt:
        raise
    except CorruptInput as exc:
        raise CheckpointCorrupt(exc.message) from exc
    if not isinstance(doc, dict):
        raise CheckpointCorrupt(f"{name}: checkpoint is not a JSON object")
    try:
        wrapper = schema.decode(doc, schema.VERSIONED_CHECKPOINT, "$")
        version = wrapper.get("version") or 0
        if version not in _BODY_KIND:
            raise UnsupportedVersion(f"{name}: unsupported checkpoint version {version}")
        # Version 0 is the unversioned V1 format: the whole file is the checkpoint body.
        body = doc if version == 0 else wrapper.get("checkpoint", _MISSING)
        if body is _MISSING:
            raise CheckpointCorrupt(f"{name}: invalid checkpoint: missing 'checkpoint'")
        if body is not None and not isinstance(body, dict):
            raise CheckpointCorrupt(f"{name}: invalid checkpoint: 'checkpoint' is not a JSON object")
        body = schema.decode(body or {}, _BODY_KIND[version], "checkpoint")
        latest = body.get("latest")
        if latest is not None and version < 3:
            latest = migrate_deployment(latest, version)
    except schema.ShapeError as exc:
        raise CheckpointCorrupt(f"{name}: invalid checkpoint: {exc}") from exc
    features = list(wrapper.get("features") or []) if version == 4 else []
    unsupported = [f for f in features if f not in KNOWN_FEATURES]
    if unsupported:
        raise UnsupportedFeature(
            f"{name}: checkpoint uses feature(s) {', '.join(unsupported)} that pulumi-diy does not support")
    return Checkpoint(
        version=version, features=features, stack=body.get("stack") or "", latest=latest, doc=doc,
        style=detect_style(text), compression=detect_compression(data), raw=data,
        html_escape=_detect_html_escape(text, latest if version >= 3 else None),
    )


_MISSING: Any = object()


def migrate_deployment(deployment: dict[str, Any], version: int) -> dict[str, Any]:
    """Migrate a decoded V1 or V2 deployment to V3 as Go does (``pkg/resource/stack/migrate``),
    laid out like Go marshals it (so migrated `propertyDependencies` hold ``null`` when there are
    no dependencies, exactly as Go prints them)."""
    # JSON nulls inside the lists are zero-valued structs to Go.
    resources = [r or {} for r in deployment.get("resources") or []]
    ops = [op or {} for op in deployment.get("pending_operations") or []] if version == 2 else []
    if version == 1:
        resources = [_resource_v1_to_v2(r) for r in resources]
    v3 = {
        "manifest": deployment.get("manifest"),
        "resources": [_resource_v2_to_v3(r) for r in resources],
        "pending_operations": [
            {"resource": _resource_v2_to_v3(op.get("resource") or {}), "type": op.get("type")} for op in ops
        ],
    }
    result: dict[str, Any] = schema.encode(v3, schema.DEPLOYMENT_V3)
    return result


def _resource_v1_to_v2(res: dict[str, Any]) -> dict[str, Any]:
    v2 = {k: res.get(k) for k in ("urn", "custom", "delete", "id", "type", "parent", "protect")}
    v2["inputs"] = dict(res.get("inputs") or {})
    v2["outputs"] = dict(res.get("outputs") or {})
    # Go builds these with append(nil, ...): empty lists become nil.
    v2["dependencies"] = list(res.get("dependencies") or []) or None
    v2["initErrors"] = list(res.get("initErrors") or []) or None
    return v2


def _resource_v2_to_v3(res: dict[str, Any]) -> dict[str, Any]:
    keys = ("urn", "custom", "delete", "id", "type", "inputs", "outputs", "parent", "protect", "external",
            "dependencies", "initErrors", "provider")
    v3 = {k: res.get(k) for k in keys}
    deps = res.get("dependencies")
    # Every input depends on all dependencies; Go shares its (possibly nil) slice, printed as null.
    inputs = res.get("inputs") or {}
    v3["propertyDependencies"] = {k: (list(deps) if deps is not None else None) for k in inputs}
    return v3


# --- writing ---------------------------------------------------------------------------------------

_HTML_ESCAPES = (b"\\u003c", b"\\u003e", b"\\u0026")
_HTML_ESCAPE_RE = re.compile(rb"(?<!\\)(?:\\\\)*\\u00(?:3c|3e|26)")
_SP_PATH = ("checkpoint", "latest", "secrets_providers")


def _count_html_escapes(text: bytes) -> int:
    if not any(e in text for e in _HTML_ESCAPES):
        return 0
    return len(_HTML_ESCAPE_RE.findall(text))


def _detect_html_escape(text: bytes, latest: dict[str, Any] | None) -> bool:
    total = _count_html_escapes(text)
    if total == 0:
        return False
    providers = (latest or {}).get("secrets_providers")
    state = providers.get("state") if isinstance(providers, dict) else None
    # secrets_providers.state is always escaped (it came from json.Marshal): only escapes beyond
    # the ones it accounts for show that the whole document was escaped.
    in_state = _count_html_escapes(dumps(state, html_escape=True)) if state is not None else 0
    return total > in_state


def _lookup(obj: Any, key: str) -> str | None:
    """The key whose value Go's decoder keeps for field ``key``: the last one matching it exactly or
    case-insensitively (Go assigns each in turn, so the last wins)."""
    if not isinstance(obj, dict):
        return None
    folded = key.casefold()
    return next((k for k in reversed(list(obj)) if k.casefold() == folded), None)


def dumps_with_escaped_state(root: Any, path: tuple[str, ...], *, indent: bool, html_escape: bool) -> bytes:
    """:func:`dumps` ``root``, but HTML-escape the ``state`` of the secrets-providers object at
    ``path`` even when the rest is not escaped (Go copies that piece verbatim from json.Marshal)."""
    holder, keys = root, []
    for part in path:
        key = _lookup(holder, part)
        if key is None:
            return dumps(root, indent=indent, html_escape=html_escape)
        keys.append(key)
        holder = holder[key]
    state_key = _lookup(holder, "state")
    if html_escape or state_key is None or holder[state_key] is None:
        return dumps(root, indent=indent, html_escape=html_escape)
    plain = dumps(holder[state_key], indent=indent)
    if not any(c in plain for c in (b"<", b">", b"&")):
        return dumps(root, indent=indent)
    marker = f"\x00state-{uuid.uuid4().hex}\x00"
    copy = dict(root)
    node = copy
    for key in keys:
        node[key] = dict(node[key])
        node = node[key]
    node[state_key] = marker
    text = dumps(copy, indent=indent)
    token = dumps(marker)
    escaped = dumps(holder[state_key], indent=indent, html_escape=True)
    if indent:
        pos = text.index(token)
        line = text[text.rfind(b"\n", 0, pos) + 1 : pos]
        prefix = line[: len(line) - len(line.lstrip(b" "))]
        escaped = escaped.replace(b"\n", b"\n" + prefix)
    return text.replace(token, escaped, 1)


def encode_checkpoint(cp: Checkpoint) -> bytes:
    """Serialise ``cp.doc`` in ``cp.style`` and compress it with ``cp.compression``.

    A checkpoint parsed from a file the Pulumi CLI wrote and left unchanged encodes to the same
    bytes (after decompression).
    """
    if cp.version >= 3:  # secrets_providers only exists in the V3 deployment shape
        text = dumps_with_escaped_state(cp.doc, _SP_PATH, indent=cp.style.indent, html_escape=cp.html_escape)
    else:
        text = dumps(cp.doc, indent=cp.style.indent, html_escape=cp.html_escape)
    if cp.style.trailing_newline:
        text += b"\n"
    return compress(text, cp.compression)


def new_checkpoint_doc(stack_fqn: str, deployment: dict[str, Any] | None,
                       features: Iterable[str] = ()) -> dict[str, Any]:
    """A versioned checkpoint document in Go field order: version 3, or 4 when features are used.

    ``deployment`` is embedded as given (None gives the stub `stack init` writes).
    """
    feats = sorted(set(features))
    doc: dict[str, Any] = {"version": 4 if feats else 3}
    if feats:
        doc["features"] = feats
    body: dict[str, Any] = {"stack": stack_fqn}
    if deployment is not None:
        body["latest"] = deployment
    doc["checkpoint"] = body
    return doc


def new_checkpoint(stack_fqn: str, deployment: dict[str, Any] | None, features: Iterable[str] = (), *,
                   style: JsonStyle = COMPACT, compression: Compression = Compression.NONE) -> Checkpoint:
    """A :class:`Checkpoint` built in memory (``raw`` is empty until it is written)."""
    doc = new_checkpoint_doc(stack_fqn, deployment, features)
    return Checkpoint(version=doc["version"], features=list(doc.get("features", [])), stack=stack_fqn,
                      latest=deployment, doc=doc, style=style, compression=compression, raw=b"")


# --- export / import ----------------------------------------------------------------------------


def export_document(cp: Checkpoint) -> bytes:
    """Exactly what ``pulumi stack export`` prints for this checkpoint: the deployment as Go's
    typed marshal lays it out, 4-space indented, no HTML escaping, trailing newline."""
    doc: dict[str, Any] = {"version": max(cp.version, 3)}
    if cp.features:
        doc["features"] = list(cp.features)
    doc["deployment"] = schema.encode(cp.latest, schema.DEPLOYMENT_V3) if cp.latest is not None else None
    text = dumps_with_escaped_state(doc, ("deployment", "secrets_providers"), indent=True, html_escape=False)
    return text + b"\n"


def deployment_from_export(data: bytes, name: str) -> tuple[int, list[str], dict[str, Any] | None]:
    """Parse a ``pulumi stack export`` document: ``(version, features, deployment)``.

    The deployment is returned in the V3 shape (versions 1 and 2 are migrated); ``None`` when the
    document says ``"deployment": null``. Versions outside 1..4 raise :class:`UnsupportedVersion`.
    """
    doc = loads(data, name)
    if not isinstance(doc, dict):
        raise CorruptInput(f"{name}: deployment document is not a JSON object")
    try:
        wrapper = schema.decode(doc, schema.UNTYPED_DEPLOYMENT, "$")
        version = wrapper.get("version") or 0
        if version > 4:
            raise UnsupportedVersion(f"{name}: this stack's deployment version is too new ({version})")
        if version < 1:
            raise UnsupportedVersion(f"{name}: this stack's deployment is too old (version {version})")
        features = list(wrapper.get("features") or [])
        unsupported = [f for f in features if f not in KNOWN_FEATURES] if version >= 4 else []
        if unsupported:
            raise UnsupportedFeature(f"{name}: this stack's deployment needs support for the following "
                                     f"features: {', '.join(unsupported)}")
        if "deployment" not in wrapper:
            raise CorruptInput(f"{name}: missing 'deployment'")
        deployment = wrapper["deployment"]
        if deployment is None:
            return version, features, None
        deployment = schema.decode(deployment, _DEPLOYMENT_KIND[version], "deployment")
    except schema.ShapeError as exc:
        raise CorruptInput(f"{name}: invalid deployment: {exc}") from exc
    if version < 3:
        deployment = migrate_deployment(deployment, version)
    return version, features, deployment


__all__ = [
    "KNOWN_FEATURES",
    "Checkpoint",
    "deployment_from_export",
    "dumps_with_escaped_state",
    "encode_checkpoint",
    "export_document",
    "migrate_deployment",
    "new_checkpoint",
    "new_checkpoint_doc",
    "parse_checkpoint",
]
