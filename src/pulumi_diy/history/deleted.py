"""Deleted stacks: `pulumi stack rm` removes the stack file and its history but leaves the `.bak`
(the last checkpoint), the `backups/` copies and any retained `<file>.<nanos>` copies (format doc
2.4, 2.6, 2.10). List the stacks that only survive there, and bring one back.

A renamed stack looks deleted under its old name too (rename moves neither `.bak` nor backups).
The stack's `Pulumi.<stack>.yaml` is not in the backend and is not restored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..backend.layout import BACKUPS_DIR, STATE_EXTS, Layout, StackRef, parse_backup_name
from ..errors import Conflict, StackNotFound, VersionNotFound
from .restore import as_current_checkpoint, check_restorable
from .versions import nanos_time

if TYPE_CHECKING:
    from ..backend.backend import Backend
    from ..backend.store import ObjectInfo
    from ..writer import SaveResult

_RETAINED = re.compile(r"^(?P<base>.+\.json(?:\.gz|\.zst)?)\.(?P<nanos>\d+)$")


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


@dataclass(frozen=True)
class BackupCopy:
    """A surviving copy of a stack's checkpoint. ``kind``: backup (`backups/`), bak (`<stack>.json.bak`)
    or retained (`<stack>.json.<nanos>`, PULUMI_RETAIN_CHECKPOINTS)."""

    key: str
    size: int
    kind: str
    nanos: int | None
    modified: datetime | None

    @property
    def id(self) -> str:
        return str(self.nanos) if self.nanos is not None else "bak"

    @property
    def time(self) -> datetime | None:
        return nanos_time(self.nanos) if self.nanos is not None else self.modified

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "key": self.key, "size": self.size, "time": _iso(self.time)}


def _newest_first(copies: Iterable[BackupCopy]) -> tuple[BackupCopy, ...]:
    return tuple(sorted(copies, key=lambda c: (c.time.timestamp() if c.time else 0.0, c.key), reverse=True))


@dataclass(frozen=True)
class DeletedStack:
    """A stack with no current checkpoint but surviving copies (newest first)."""

    ref: StackRef
    copies: tuple[BackupCopy, ...]

    @property
    def newest(self) -> BackupCopy:
        return self.copies[0]

    def to_dict(self) -> dict[str, Any]:
        return {"name": str(self.ref), "project": self.ref.project, "stack": self.ref.name,
                "lastCopy": _iso(self.newest.time), "copies": [c.to_dict() for c in self.copies]}


def stack_file_copies(layout: Layout, objects: Iterable[ObjectInfo]) -> dict[StackRef, list[BackupCopy]]:
    """`.bak` and retained copies found in a `stacks/` listing, by stack (pure)."""
    out: dict[StackRef, list[BackupCopy]] = {}
    for o in objects:
        if o.key.endswith(".bak"):
            base, kind, nanos = o.key[: -len(".bak")], "bak", None
        else:
            m = _RETAINED.match(o.key)
            if not m:
                continue
            base, kind, nanos = m["base"], "retained", int(m["nanos"])
        parsed = layout.parse_stack_key(base)
        if parsed is None or parsed[1] not in STATE_EXTS:
            continue
        out.setdefault(parsed[0], []).append(BackupCopy(o.key, o.size, kind, nanos, o.mtime))
    return out


def backup_copies(layout: Layout, objects: Iterable[ObjectInfo]) -> dict[StackRef, list[BackupCopy]]:
    """`backups/` copies of a recursive listing, by the stack whose directory holds them (pure)."""
    out: dict[StackRef, list[BackupCopy]] = {}
    prefix = BACKUPS_DIR + "/"
    for o in objects:
        if not o.key.startswith(prefix):
            continue
        parts = o.key[len(prefix):].split("/")
        if layout.project_mode and len(parts) == 3:
            ref = StackRef(parts[0], parts[1])
        elif not layout.project_mode and len(parts) == 2:
            ref = StackRef(None, parts[0])
        else:
            continue
        parsed = parse_backup_name(parts[-1])
        if parsed is not None:
            out.setdefault(ref, []).append(BackupCopy(o.key, o.size, "backup", parsed[1], o.mtime))
    return out


def list_deleted_stacks(backend: Backend) -> list[DeletedStack]:
    """Stacks that only survive in `.bak`, retained copies or `backups/` (two listings, no reads)."""
    layout = backend.layout
    stack_objects = backend.list_stack_objects()
    existing = set(backend.stacks(stack_objects))
    found = stack_file_copies(layout, stack_objects)
    for ref, copies in backup_copies(layout, backend.store.list(BACKUPS_DIR, recursive=True)).items():
        found.setdefault(ref, []).extend(copies)
    ordered = sorted(found.items(), key=lambda item: (item[0].project or "", item[0].name))
    return [DeletedStack(ref, _newest_first(copies)) for ref, copies in ordered if ref not in existing]


def stack_copies(backend: Backend, ref: StackRef) -> tuple[BackupCopy, ...]:
    """Every surviving copy of one stack's checkpoint, newest first."""
    layout = backend.layout
    directory = layout.stack_base(ref).rpartition("/")[0]
    copies = stack_file_copies(layout, backend.store.list(directory, recursive=False)).get(ref, [])
    copies += backup_copies(layout, backend.store.list(layout.backups_dir(ref), recursive=False)).get(ref, [])
    return _newest_first(copies)


def choose_copy(ref: StackRef, copies: tuple[BackupCopy, ...], source: str | int | None) -> BackupCopy:
    """The copy named by ``source``: None = newest, ``bak``, or a timestamp from a file name (pure)."""
    if not copies:
        raise StackNotFound(f"no backup, .bak or retained copy of stack {ref} exists")
    if source is None or str(source).strip() == "":
        return copies[0]
    text = str(source).strip().lower()
    for c in copies:
        if c.id == text:
            return c
    ids = ", ".join(c.id for c in copies[:10]) + (", ..." if len(copies) > 10 else "")
    raise VersionNotFound(f"stack {ref} has no copy {source!r}: available: {ids}")


@dataclass(frozen=True)
class StackRestoreResult:
    """What `stack restore` wrote (or would write)."""

    ref: StackRef
    source: BackupCopy
    resource_count: int | None
    last_update: datetime | None
    pulumi_version: str | None
    secrets_provider: str | None
    dry_run: bool = False
    written: bool = False
    cancelled: bool = False
    save: SaveResult | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"stack": str(self.ref), "source": self.source.to_dict(), "resourceCount": self.resource_count,
                "lastUpdate": _iso(self.last_update), "pulumiVersion": self.pulumi_version,
                "secretsProvider": self.secrets_provider, "dryRun": self.dry_run, "written": self.written,
                "cancelled": self.cancelled, "save": self.save.to_dict() if self.save else None}


def _exists(backend: Backend, ref: StackRef) -> bool:
    try:
        backend.current_object(ref)
        return True
    except StackNotFound:
        return False


def restore_deleted_stack(backend: Backend, ref: StackRef, *, source: str | int | None = None,
                          dry_run: bool = False, confirm: Callable[[StackRestoreResult], bool] | None = None
                          ) -> StackRestoreResult:
    """Write a surviving copy (the newest, or ``source``: ``bak`` or a timestamp) back as ``ref``'s
    checkpoint.

    Refuses when the stack exists (roll an existing stack back with ``history restore``) and when the
    copy fails Pulumi's integrity checks. The write happens under the stack lock.
    """
    from ..writer import save_checkpoint

    def exists_error() -> Conflict:
        return Conflict(f"stack {ref} exists: to roll it back use `pulumi-diy history restore {ref} VERSION`")

    if _exists(backend, ref):
        raise exists_error()
    copy = choose_copy(ref, stack_copies(backend, ref), source)
    src = backend.parse_object(copy.key, backend.store.read(copy.key))
    what = f"{copy.kind} copy {copy.id} of {ref}"
    check_restorable(src.latest, what)
    cp = as_current_checkpoint(src, ref.fqn, src.latest, src.style)
    sp = src.secrets_providers or {}
    count = src.resource_count if src.latest is not None else None
    result = StackRestoreResult(ref, copy, count, src.manifest_time, src.pulumi_version or None,
                                sp.get("type"), dry_run=dry_run)
    if dry_run:
        return result
    with backend.lock(ref, reason="stack restore"):
        if _exists(backend, ref):
            raise exists_error()
        if confirm is not None and not confirm(result):
            return replace(result, cancelled=True)
        saved = save_checkpoint(backend, ref, cp, backup=False, must_exist=False)
        backend.read_checkpoint(ref)
    return replace(result, written=True, save=saved)
