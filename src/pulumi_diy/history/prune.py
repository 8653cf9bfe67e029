"""`history prune`: remove old history pairs and backups by a retention rule.

Rule: with ``keep`` N the newest N entries stay; with ``older_than`` D everything younger than D
stays; with both, an entry goes only when both rules let it go (keep at least N *and* everything
recent). The newest entry and the newest backup always stay; the stack file and its `.bak` live
under `stacks/` and are never touched. History entries, checkpoint copies without an entry
(older than the oldest entry kept) and backups are judged by the timestamp in their names.

Removing old entries renumbers the remaining versions (the oldest left becomes 1); the ``id``
(nanosecond timestamp) of each entry is unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..backend.layout import STACKS_DIR, StackRef, parse_backup_name
from ..backend.store import map_concurrently
from ..errors import PulumiDiyError, UsageError
from .versions import number_versions

if TYPE_CHECKING:
    from ..backend.backend import Backend
    from ..backend.store import ObjectInfo


@dataclass(frozen=True)
class PruneItem:
    """One object the rule removes. ``kind``: history, checkpoint, orphan (checkpoint copy without an
    entry) or backup."""

    key: str
    size: int
    kind: str
    nanos: int
    version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "size": self.size, "kind": self.kind, "id": str(self.nanos),
                "version": self.version}


@dataclass(frozen=True)
class StackPrune:
    """The rule applied to one stack."""

    ref: StackRef
    entries: int
    backups: int
    items: tuple[PruneItem, ...]
    errors: tuple[str, ...] = ()
    exit_code: int | None = None  # of the first failure, when there were errors

    @property
    def entries_removed(self) -> int:
        return sum(1 for i in self.items if i.kind == "history")

    @property
    def backups_removed(self) -> int:
        return sum(1 for i in self.items if i.kind == "backup")

    @property
    def bytes(self) -> int:
        return sum(i.size for i in self.items)

    def to_dict(self) -> dict[str, Any]:
        return {"stack": str(self.ref), "entries": self.entries, "entriesRemoved": self.entries_removed,
                "backups": self.backups, "backupsRemoved": self.backups_removed, "bytes": self.bytes,
                "items": [i.to_dict() for i in self.items], "errors": list(self.errors)}


@dataclass(frozen=True)
class PruneResult:
    """What prune removed (or would remove, with ``dry_run``) across the stacks it looked at."""

    stacks: tuple[StackPrune, ...]
    keep: int | None
    older_than: float | None
    dry_run: bool
    cancelled: bool = False

    @property
    def entries_removed(self) -> int:
        return sum(s.entries_removed for s in self.stacks)

    @property
    def backups_removed(self) -> int:
        return sum(s.backups_removed for s in self.stacks)

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.stacks)

    @property
    def files(self) -> int:
        return sum(len(s.items) for s in self.stacks)

    def to_dict(self) -> dict[str, Any]:
        return {"dryRun": self.dry_run, "cancelled": self.cancelled, "keep": self.keep,
                "olderThanSeconds": self.older_than, "entriesRemoved": self.entries_removed,
                "backupsRemoved": self.backups_removed, "files": self.files, "bytes": self.bytes,
                "stacks": [s.to_dict() for s in self.stacks]}


def select_prunable(nanos: Sequence[int], *, keep: int | None, cutoff: int | None) -> set[int]:
    """Indices of ``nanos`` (ascending timestamps) the rule removes; the last (newest) is never one (pure)."""
    if keep is None and cutoff is None:
        raise UsageError("a retention rule is needed: --keep N and/or --older-than DURATION")
    if keep is not None and keep < 1:
        raise UsageError(f"--keep must be at least 1 (the newest entry is always kept), not {keep}")
    n = len(nanos)
    out = set()
    for i, t in enumerate(nanos):
        rank = n - 1 - i  # 0 = newest
        if rank == 0:
            continue
        if (keep is None or rank >= keep) and (cutoff is None or t < cutoff):
            out.add(i)
    return out


def plan_stack(ref: StackRef, history: Iterable[ObjectInfo], backups: Iterable[ObjectInfo], *,
               keep: int | None, cutoff: int | None) -> StackPrune:
    """What the rule removes from one stack, given listings of its history and backups directories (pure)."""
    listing = number_versions(ref, history)
    versions = listing.versions
    gone = select_prunable([v.nanos for v in versions], keep=keep, cutoff=cutoff)
    gone_keys = {versions[i].history.key for i in gone}
    kept = [v for i, v in enumerate(versions) if i not in gone]
    oldest_kept = min((v.nanos for v in kept), default=None)
    number = {v.history.key: v.version for v in versions}
    items: list[PruneItem] = []
    for group in listing.groups:
        if group.history:
            if not all(h.key in gone_keys for h in group.history):
                continue
            items += [PruneItem(h.key, h.size, "history", group.nanos, number.get(h.key))
                      for h in group.history]
            items += [PruneItem(c.key, c.size, "checkpoint", group.nanos) for c in group.checkpoints]
        elif oldest_kept is not None and group.nanos < oldest_kept:
            items += [PruneItem(c.key, c.size, "orphan", group.nanos) for c in group.checkpoints]

    copies: list[tuple[int, ObjectInfo]] = []
    for obj in backups:
        parsed = parse_backup_name(obj.name)
        if parsed is not None:
            copies.append((parsed[1], obj))
    copies.sort(key=lambda c: (c[0], c[1].key))
    for i in sorted(select_prunable([n for n, _ in copies], keep=keep, cutoff=cutoff)):
        nanos, obj = copies[i]
        items.append(PruneItem(obj.key, obj.size, "backup", nanos))
    # Belt and braces: nothing under stacks/ (the current checkpoint, its .bak) is ever a candidate.
    items = [i for i in items if not i.key.startswith(STACKS_DIR + "/")]
    return StackPrune(ref, len(versions), len(copies), tuple(items))


def _plan(backend: Backend, ref: StackRef, keep: int | None, cutoff: int | None) -> StackPrune:
    store, layout = backend.store, backend.layout
    return plan_stack(ref, store.list(layout.history_dir(ref), recursive=False),
                      store.list(layout.backups_dir(ref), recursive=False), keep=keep, cutoff=cutoff)


def _delete(backend: Backend, items: Sequence[PruneItem], progress: Callable[[int], None] | None
            ) -> dict[str, PulumiDiyError]:
    """Delete concurrently; returns the keys that could not be deleted, with why."""
    def one(item: PruneItem) -> tuple[str, PulumiDiyError | None]:
        try:
            backend.store.delete(item.key, missing_ok=True)
            return item.key, None
        except PulumiDiyError as e:
            return item.key, e
        finally:
            if progress:
                progress(1)

    return {k: e for k, e in map_concurrently(one, items, backend.store.parallelism) if e}


def _execute(backend: Backend, ref: StackRef, keep: int | None, cutoff: int | None,
             progress: Callable[[int], None] | None) -> StackPrune:
    with backend.lock(ref, reason="history prune"):
        plan = _plan(backend, ref, keep, cutoff)
        failed: dict[str, PulumiDiyError] = {}
        # History files first: once an entry's `.history.json` is gone nobody lists it, so an interrupted
        # prune leaves at most unlisted checkpoint copies (removed as orphans next time), never an entry
        # whose checkpoint is missing.
        failed.update(_delete(backend, [i for i in plan.items if i.kind == "history"], progress))
        still_listed = {i.nanos for i in plan.items if i.kind == "history" and i.key in failed}
        skipped = [i for i in plan.items if i.kind == "checkpoint" and i.nanos in still_listed]
        failed.update({i.key: PulumiDiyError("kept: its history entry could not be deleted") for i in skipped})
        failed.update(_delete(backend, [i for i in plan.items if i.kind in ("checkpoint", "orphan")
                                        and i.key not in failed], progress))
        failed.update(_delete(backend, [i for i in plan.items if i.kind == "backup"], progress))
    first = next(iter(failed.values()), None)
    return replace(plan, items=tuple(i for i in plan.items if i.key not in failed),
                   errors=tuple(f"{k}: {e.message}" for k, e in failed.items()),
                   exit_code=int(first.exit_code) if first is not None else None)


def prune_history(backend: Backend, refs: Sequence[StackRef], *, keep: int | None = None,
                  older_than: float | None = None, dry_run: bool = False, now: float | None = None,
                  confirm: Callable[[PruneResult], bool] | None = None,
                  progress: Callable[[int], None] | None = None) -> PruneResult:
    """Apply the retention rule to ``refs`` (``older_than`` in seconds).

    The plan is made from listings; unless ``dry_run``, ``confirm`` sees it, then each stack is pruned
    under its lock with the rule re-applied to a fresh listing. A stack that fails (locked, storage
    error) is reported in its ``errors`` when several stacks are pruned, raised when only one is.
    """
    select_prunable([], keep=keep, cutoff=0 if older_than is not None else None)  # validate the rule
    now = time.time() if now is None else now
    cutoff = int((now - older_than) * 1_000_000_000) if older_than is not None else None
    plans = tuple(_plan(backend, ref, keep, cutoff) for ref in refs)
    result = PruneResult(plans, keep, older_than, dry_run)
    if dry_run or not result.files:
        return result
    if confirm is not None and not confirm(result):
        return replace(result, cancelled=True)
    done = []
    for plan in plans:
        if not plan.items:
            done.append(plan)
            continue
        try:
            done.append(_execute(backend, plan.ref, keep, cutoff, progress))
        except PulumiDiyError as e:
            if len(refs) == 1:
                raise
            done.append(replace(plan, items=(), errors=(e.message,), exit_code=int(e.exit_code)))
    return replace(result, stacks=tuple(done))
