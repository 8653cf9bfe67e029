"""`history ls --all`: the backend-wide activity feed.

One recursive listing of `.pulumi/history/` gives every entry of every stack with its time (the
file names carry nanosecond timestamps) and its version number; only the entries shown are read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..backend.layout import HISTORY_DIR, StackRef
from .entries import DEFAULT_LIMIT, HistoryEntry, read_entries
from .versions import HistoryVersion, measure_versions, number_versions

if TYPE_CHECKING:
    from ..backend.backend import Backend
    from ..backend.store import ObjectInfo


@dataclass(frozen=True)
class HistoryFeed:
    """The newest updates across the backend (newest first), and how many matched the filters."""

    total: int
    stacks: int
    entries: tuple[HistoryEntry, ...]

    def to_dict(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.entries]


def split_history_objects(objects: Iterable[ObjectInfo], *, project_mode: bool
                          ) -> dict[StackRef, list[ObjectInfo]]:
    """Objects of a recursive `.pulumi/history/` listing, by the stack whose directory holds them (pure)."""
    out: dict[StackRef, list[ObjectInfo]] = {}
    prefix = HISTORY_DIR + "/"
    for obj in objects:
        if not obj.key.startswith(prefix):
            continue
        parts = obj.key[len(prefix):].split("/")
        if project_mode and len(parts) == 3:
            ref = StackRef(parts[0], parts[1])
        elif not project_mode and len(parts) == 2:
            ref = StackRef(None, parts[0])
        else:
            continue  # another layout's leftovers, or something that is not history
        out.setdefault(ref, []).append(obj)
    return out


def select_feed(by_stack: dict[StackRef, list[ObjectInfo]], *, since_nanos: int | None, project: str | None,
                limit: int | None) -> tuple[list[HistoryVersion], int, int]:
    """Number every stack's versions and keep the newest ``limit`` matching the filters (pure).

    Returns (versions newest first, number matching, number of stacks with a match).
    """
    matched: list[HistoryVersion] = []
    stacks = 0
    for ref, objects in by_stack.items():
        if project is not None and ref.project is not None and ref.project != project:
            continue
        versions = [v for v in number_versions(ref, objects).versions
                    if since_nanos is None or v.nanos >= since_nanos]
        if versions:
            stacks += 1
            matched.extend(versions)
    matched.sort(key=lambda v: (v.nanos, str(v.ref)), reverse=True)
    shown = matched[:limit] if limit else matched
    return shown, len(matched), stacks


def history_feed(backend: Backend, *, since: float | None = None, project: str | None = None,
                 limit: int | None = DEFAULT_LIMIT, now: float | None = None,
                 progress: Callable[[int], None] | None = None) -> HistoryFeed:
    """Every stack's updates, newest first: ``since`` seconds back (None = all time), one ``project``
    (legacy stacks have none and always pass, as in ``pulumi stack ls``), at most ``limit`` (0/None = all).
    """
    now = time.time() if now is None else now
    since_nanos = int((now - since) * 1_000_000_000) if since is not None else None
    objects = backend.store.list(HISTORY_DIR, recursive=True, sizes=False)  # measured for the shown ones only
    by_stack = split_history_objects(objects, project_mode=backend.meta.project_mode)
    shown, total, stacks = select_feed(by_stack, since_nanos=since_nanos, project=project, limit=limit)
    shown = measure_versions(backend, shown)
    return HistoryFeed(total, stacks, tuple(read_entries(backend, shown, progress)))
