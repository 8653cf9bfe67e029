"""A stack's history as numbered versions (format doc section 2.5), and reading one version.

Pulumi names every history pair ``<stack>-<unix-nanos>.history.json[.gz|.zst]`` plus
``...checkpoint.json[...]`` with the same prefix. Versions are numbered 1..N by that timestamp,
oldest = 1, so an entry keeps its number as new updates arrive (only ``history prune`` renumbers,
by removing the oldest). The timestamp itself (``id``) never changes and is accepted wherever a
version is.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..backend.layout import StackRef, parse_history_name
from ..errors import UsageError, VersionNotFound

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..backend.backend import Backend
    from ..backend.store import ObjectInfo
    from ..state import Checkpoint

    Reveal = Callable[[Checkpoint], dict[str, Any]]

CURRENT = "current"
LATEST = "latest"
# A version number is small; a history id is a 19-digit nanosecond timestamp. Anything with at
# least this many digits is read as an id.
_ID_DIGITS = 16
_SPEC_HELP = "a version number (1 = oldest), -N (N before the latest), 'latest', or a history id"


def nanos_time(nanos: int) -> datetime:
    """The UTC instant of a nanosecond timestamp taken from a file name."""
    return datetime.fromtimestamp(nanos / 1_000_000_000, tz=timezone.utc)


@dataclass(frozen=True)
class HistoryVersion:
    """One history entry of a stack: its number, its timestamp id and the files that hold it."""

    ref: StackRef
    version: int
    nanos: int
    history: ObjectInfo
    checkpoint: ObjectInfo | None

    @property
    def id(self) -> str:
        return str(self.nanos)

    @property
    def time(self) -> datetime:
        return nanos_time(self.nanos)

    @property
    def size(self) -> int:
        return self.history.size + (self.checkpoint.size if self.checkpoint else 0)


@dataclass(frozen=True)
class HistoryGroup:
    """All files sharing one ``<stack>-<nanos>`` prefix (normally one history + one checkpoint file)."""

    stack: str
    nanos: int
    history: tuple[ObjectInfo, ...] = ()
    checkpoints: tuple[ObjectInfo, ...] = ()

    @property
    def files(self) -> tuple[ObjectInfo, ...]:
        return self.history + self.checkpoints


@dataclass(frozen=True)
class HistoryListing:
    """A stack's history directory, parsed: numbered versions plus leftovers nobody can list."""

    ref: StackRef
    versions: tuple[HistoryVersion, ...]
    orphans: tuple[HistoryGroup, ...] = ()  # checkpoint copies without a history file
    groups: tuple[HistoryGroup, ...] = field(default=(), repr=False)

    @property
    def latest(self) -> HistoryVersion | None:
        return self.versions[-1] if self.versions else None


def group_history(objects: Iterable[ObjectInfo]) -> list[HistoryGroup]:
    """Group history-directory objects by their ``<stack>-<nanos>`` prefix, oldest first (pure)."""
    found: dict[tuple[int, str], tuple[list[ObjectInfo], list[ObjectInfo]]] = {}
    for obj in objects:
        parsed = parse_history_name(obj.name)
        if parsed is None:
            continue
        slot = found.setdefault((parsed.nanos, parsed.stack), ([], []))
        slot[0 if parsed.kind == "history" else 1].append(obj)
    def by_key(items: list[ObjectInfo]) -> tuple[ObjectInfo, ...]:
        return tuple(sorted(items, key=lambda o: o.key))

    return [HistoryGroup(stack, nanos, by_key(h), by_key(c))
            for (nanos, stack), (h, c) in sorted(found.items())]


def _checkpoint_for(history: ObjectInfo, candidates: Sequence[ObjectInfo]) -> ObjectInfo | None:
    """The checkpoint copy of a history file: same prefix, same compression suffix preferred."""
    if not candidates:
        return None
    suffix = history.key[history.key.index(".history.json") + len(".history.json"):]
    for c in candidates:
        if c.key.endswith(".checkpoint.json" + suffix):
            return c
    return candidates[0]


def number_versions(ref: StackRef, objects: Iterable[ObjectInfo]) -> HistoryListing:
    """Number a stack's history entries 1..N by timestamp (pure; ``objects`` = one directory listing)."""
    groups = group_history(objects)
    versions: list[HistoryVersion] = []
    orphans: list[HistoryGroup] = []
    for g in groups:
        if not g.history:
            orphans.append(g)
            continue
        # Two history files with one prefix (a compression switch mid-write) are two entries, as for Pulumi.
        for h in g.history:
            checkpoint = _checkpoint_for(h, g.checkpoints)
            versions.append(HistoryVersion(ref, len(versions) + 1, g.nanos, h, checkpoint))
    return HistoryListing(ref, tuple(versions), tuple(orphans), tuple(groups))


# The ids of the last listing of a stack's history, for shell completion of version numbers (served from
# the cache). Key: the history directory; value: {"listed": epoch seconds, "ids": [nanos, oldest first]}.
HISTORY_LISTING_KIND = "history-listing-v1"


def list_versions(backend: Backend, ref: StackRef, *, sizes: bool = True) -> HistoryListing:
    """One listing of the stack's history directory, numbered. A missing directory is an empty history.
    ``sizes=False``: sizes that cost extra to list stay -1 (see :func:`measure_versions`)."""
    directory = backend.layout.history_dir(ref)
    listing = number_versions(ref, backend.store.list(directory, recursive=False, sizes=sizes))
    backend.cache.put_many(HISTORY_LISTING_KIND, [(directory, "", {"listed": time.time(),
                                                                   "ids": [v.nanos for v in listing.versions]})])
    return listing


def parse_version_spec(spec: str | int) -> tuple[str, int]:
    """``spec`` -> (form, number): ("number", N), ("relative", k), ("id", nanos), ("latest", 0) or
    ("current", 0)."""
    text = str(spec).strip().lower()
    if text == LATEST:
        return "latest", 0
    if text == CURRENT:
        return "current", 0
    if re.fullmatch(r"-\d+", text) and int(text) < 0:
        return "relative", -int(text)
    if re.fullmatch(r"\d+", text):
        n = int(text)
        if len(text) >= _ID_DIGITS:
            return "id", n
        if n >= 1:
            return "number", n
    raise UsageError(f"invalid version {str(spec)!r}: use {_SPEC_HELP}")


def resolve_version(listing: HistoryListing, spec: str | int) -> HistoryVersion:
    """The version ``spec`` names (see :func:`parse_version_spec`); ``current`` is not a history version."""
    form, n = parse_version_spec(spec)
    versions = listing.versions
    if form == "current":
        raise UsageError(f"'current' is the stack's current checkpoint, not a history version of "
                         f"{listing.ref}")
    if not versions:
        raise VersionNotFound(f"stack {listing.ref} has no history")
    span = f"versions 1-{len(versions)}" if len(versions) > 1 else "only version 1"
    if form == "latest":
        return versions[-1]
    if form == "relative":
        if n >= len(versions):
            raise VersionNotFound(f"stack {listing.ref} has no version -{n} ({span})")
        return versions[-1 - n]
    if form == "id":
        for v in versions:
            if v.nanos == n:
                return v
        raise VersionNotFound(f"stack {listing.ref} has no history entry with id {n}")
    if n > len(versions):
        raise VersionNotFound(f"stack {listing.ref} has no version {n} ({span})")
    return versions[n - 1]


def read_version_checkpoint(backend: Backend, version: HistoryVersion) -> Checkpoint:
    """The checkpoint copy saved with a history entry (raises VersionNotFound when it is missing)."""
    if version.checkpoint is None:
        raise VersionNotFound(f"version {version.version} of {version.ref} has no checkpoint copy next to "
                              f"{backend.store.describe(version.history.key)}")
    key = version.checkpoint.key
    return backend.parse_object(key, backend.store.read(key))


def export_version(backend: Backend, ref: StackRef, spec: str | int, *,
                   reveal: Reveal | None = None) -> bytes:
    """The ``pulumi stack export`` document of one history version (``spec`` as in :func:`resolve_version`,
    or ``current``). ``reveal`` returns the deployment with plaintext secrets (``--show-secrets``)."""
    import dataclasses

    from ..state import export_document

    if parse_version_spec(spec)[0] == "current":
        cp = backend.read_checkpoint(ref)
    else:
        cp = read_version_checkpoint(backend, resolve_version(list_versions(backend, ref), spec))
    if reveal is not None and cp.latest is not None:
        cp = dataclasses.replace(cp, latest=reveal(cp))
    return export_document(cp)


def measure_versions(backend: Backend, versions: Sequence[HistoryVersion]) -> list[HistoryVersion]:
    """``versions`` with their files' sizes measured where the listing left them unknown."""
    infos = [o for v in versions for o in (v.history, v.checkpoint) if o is not None]
    measured = {o.key: o for o in backend.store.measure(infos)}
    return [dataclasses.replace(v, history=measured[v.history.key],
                                checkpoint=measured[v.checkpoint.key] if v.checkpoint else None)
            for v in versions]
