"""`backend info`: what is in a backend, from listings only (no checkpoint is read)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .backend.layout import (
    BACKUPS_DIR,
    HISTORY_DIR,
    LOCKS_DIR,
    STACKS_DIR,
    compression_name,
    legacy_stack_keys,
    parse_history_name,
)

if TYPE_CHECKING:
    from .backend.backend import Backend


@dataclass(frozen=True)
class BackendInfo:
    url: str
    kind: str
    root: str
    layout: str
    meta_version: int
    meta_present: bool
    meta_source: str
    projects: int
    stacks: int
    history_entries: int
    backups: int
    locks: int
    bytes: dict[str, int]
    compression: dict[str, int]
    legacy_files: list[str]
    other_files: dict[str, int]
    server: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "kind": self.kind,
            "root": self.root,
            "layout": self.layout,
            "meta": {"version": self.meta_version, "present": self.meta_present, "source": self.meta_source},
            "projects": self.projects,
            "stacks": self.stacks,
            "historyEntries": self.history_entries,
            "backups": self.backups,
            "locks": self.locks,
            "bytes": self.bytes,
            "compression": self.compression,
            "legacyFiles": self.legacy_files,
            "otherFiles": self.other_files,
            "server": self.server,
        }


def backend_info(backend: Backend) -> BackendInfo:
    """Counts and sizes of everything Pulumi keeps in the backend."""
    meta = backend.meta
    stack_objs = backend.list_stack_objects() if meta.project_mode else backend.store.list(STACKS_DIR)
    stacks = backend.stacks(stack_objs)
    history = backend.store.list(HISTORY_DIR)
    backups = backend.store.list(BACKUPS_DIR)
    locks = backend.store.list(LOCKS_DIR)
    stack_keys = {o.key for o in stacks.values()}
    other: Counter[str] = Counter()
    for o in stack_objs:
        if o.key in stack_keys:
            continue
        name = o.name
        if name.endswith(".bak"):
            other["bak"] += 1
        elif name.endswith(".pulumi-tags"):
            other["tags"] += 1
        elif name.endswith(".tmp"):
            other["tmp"] += 1
        elif name.rsplit(".", 1)[-1].isdigit():
            other["retained"] += 1
        elif backend.layout.parse_stack_key(o.key) is None:
            other["unrecognised"] += 1
    leftovers = backend.store.temp_leftovers(".pulumi")  # of killed local writes, hidden from listings
    other["tmp"] += len(leftovers)
    other = +other
    entries = [o for o in history if (h := parse_history_name(o.name)) is not None and h.kind == "history"]
    from .backend.server_info import server_details  # kind-specific; never raises

    server = server_details(backend.store)
    sizes = {
        "stacks": sum(o.size for o in stack_objs),
        "current": sum(o.size for o in stacks.values()),
        "history": sum(o.size for o in history),
        "backups": sum(o.size for o in backups),
        "locks": sum(o.size for o in locks),
    }
    for o in leftovers:  # storage they take, where a copy to an object store would count it
        area = o.key.split("/")[1] if o.key.count("/") >= 2 else ""
        if area in sizes and area != "current":
            sizes[area] += o.size
    return BackendInfo(
        url=backend.url.redacted,
        kind=backend.url.kind,
        root=backend.url.root,
        layout="project" if meta.project_mode else "legacy",
        meta_version=meta.version,
        meta_present=meta.present,
        meta_source=meta.source,
        projects=len({r.project for r in stacks if r.project}),
        stacks=len(stacks),
        history_entries=len(entries),
        backups=len(backups),
        locks=len([o for o in locks if o.key.endswith(".json")]),
        bytes=sizes,
        compression=dict(sorted(Counter(compression_name(o.key) for o in stacks.values()).items())),
        legacy_files=legacy_stack_keys(o.key for o in stack_objs) if meta.project_mode else [],
        other_files=dict(sorted(other.items())),
        server=server,
    )
