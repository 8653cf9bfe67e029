"""Pure path arithmetic of a DIY backend (pulumi-diy-format.md sections 2.1-2.9).

Project layout (meta.yaml version 1) nests stacks under their project; the legacy layout (no
meta.yaml or version 0) has bare stack names. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ..errors import InvalidStackReference

PULUMI_DIR = ".pulumi"
META_KEY = f"{PULUMI_DIR}/meta.yaml"
STACKS_DIR = f"{PULUMI_DIR}/stacks"
HISTORY_DIR = f"{PULUMI_DIR}/history"
BACKUPS_DIR = f"{PULUMI_DIR}/backups"
LOCKS_DIR = f"{PULUMI_DIR}/locks"
ORGANIZATION = "organization"

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_PROJECT = re.compile(r"[A-Za-z0-9_.-]+")
STATE_EXTS = (".json", ".json.gz", ".json.zst")
_HISTORY_RE = re.compile(r"^(?P<stack>.+)-(?P<nanos>\d+)\.(?P<kind>history|checkpoint)\.json(?P<comp>\.gz|\.zst)?$")
_BACKUP_RE = re.compile(r"^(?P<stack>.+)\.(?P<nanos>\d+)\.json(?P<comp>\.gz|\.zst)?$")


def valid_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name))


@dataclass(frozen=True, order=True)
class StackRef:
    """A stack in the backend: ``project`` is None in the legacy layout."""

    project: str | None
    name: str

    @property
    def fqn(self) -> str:
        """What Pulumi writes into the checkpoint's `stack` field and names the lock directory by."""
        return f"{ORGANIZATION}/{self.project}/{self.name}" if self.project else self.name

    def __str__(self) -> str:
        return f"{self.project}/{self.name}" if self.project else self.name


def parse_stack_ref(text: str, *, project_mode: bool, default_project: str | None = None) -> StackRef:
    """Accept `stack`, `project/stack` or `organization/project/stack` (project mode), or `stack` (legacy)."""
    parts = text.strip().split("/")
    if not project_mode:
        if len(parts) == 1 and valid_name(parts[0]):
            return StackRef(None, parts[0])
        if len(parts) in (2, 3) and valid_name(parts[-1]):
            # Legacy stores have no projects; accept a qualified name whose project we can ignore.
            return StackRef(None, parts[-1])
        raise InvalidStackReference(f"invalid stack name {text!r} (legacy layout: a bare stack name)")
    if len(parts) == 3:
        if parts[0] != ORGANIZATION:
            raise InvalidStackReference(
                f"invalid stack reference {text!r}: the organization of a DIY backend is always "
                f"{ORGANIZATION!r}")
        parts = parts[1:]
    if len(parts) == 2:
        project, name = parts
    elif len(parts) == 1:
        if not valid_name(parts[0]):
            raise InvalidStackReference(f"invalid stack name {text!r}: names use letters, digits, '_', '.', '-'")
        if not default_project:
            raise InvalidStackReference(
                f"stack {text!r} needs a project: write it as <project>/{text} (or run inside a Pulumi project)")
        project, name = default_project, parts[0]
    else:
        raise InvalidStackReference(f"invalid stack reference {text!r}")
    if not _PROJECT.fullmatch(project) or not valid_name(name):
        raise InvalidStackReference(f"invalid stack reference {text!r}: names use letters, digits, '_', '.', '-'")
    return StackRef(project, name)


class _Listed(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def mtime(self) -> datetime | None: ...


@dataclass(frozen=True)
class Layout:
    """Where each kind of file of a stack lives."""

    project_mode: bool

    def stack_base(self, ref: StackRef) -> str:
        return f"{STACKS_DIR}/{ref.project}/{ref.name}" if self.project_mode and ref.project else \
            f"{STACKS_DIR}/{ref.name}"

    def stack_candidates(self, ref: StackRef) -> list[str]:
        base = self.stack_base(ref)
        return [base + ext for ext in STATE_EXTS]

    def tags_key(self, ref: StackRef) -> str:
        return self.stack_base(ref) + ".pulumi-tags"

    def history_dir(self, ref: StackRef) -> str:
        return f"{HISTORY_DIR}/{ref.project}/{ref.name}" if self.project_mode and ref.project else \
            f"{HISTORY_DIR}/{ref.name}"

    def backups_dir(self, ref: StackRef) -> str:
        return f"{BACKUPS_DIR}/{ref.project}/{ref.name}" if self.project_mode and ref.project else \
            f"{BACKUPS_DIR}/{ref.name}"

    def lock_dir(self, ref: StackRef) -> str:
        return f"{LOCKS_DIR}/{ref.fqn}"

    def parse_stack_key(self, key: str) -> tuple[StackRef, str] | None:
        """If ``key`` (relative to the root) is a stack file by Pulumi's rules, return (ref, extension)."""
        if not key.startswith(STACKS_DIR + "/"):
            return None
        rest = key[len(STACKS_DIR) + 1:].split("/")
        if self.project_mode:
            if len(rest) != 2 or not _PROJECT.fullmatch(rest[0]):
                return None
            project: str | None = rest[0]
            fname = rest[1]
        else:
            if len(rest) != 1:
                return None
            project, fname = None, rest[0]
        return _parse_stack_file(fname, project)

    def parse_lock_key(self, key: str) -> tuple[StackRef, str] | None:
        """A lock file key -> (stack, lock id). Handles both layouts' lock directories."""
        if not key.startswith(LOCKS_DIR + "/") or not key.endswith(".json"):
            return None
        rest = key[len(LOCKS_DIR) + 1:].split("/")
        lock_id = rest[-1][: -len(".json")]
        if len(rest) == 4 and rest[0] == ORGANIZATION:
            return StackRef(rest[1], rest[2]), lock_id
        if len(rest) == 2:
            return StackRef(None, rest[0]), lock_id
        return None


def _parse_stack_file(fname: str, project: str | None) -> tuple[StackRef, str] | None:
    stem = fname
    comp = ""
    for c in (".gz", ".zst"):
        if stem.endswith(c):
            stem, comp = stem[: -len(c)], c
            break
    for ext in (".json", ".yaml", ".yml"):
        if stem.endswith(ext):
            name = stem[: -len(ext)]
            if valid_name(name):
                return StackRef(project, name), ext + comp
            return None
    return None


def compression_name(key: str) -> str:
    """`gzip`, `zstd` or `none`, from a state file's name (`.json.gz`, `.json.zst`, `.json`)."""
    return "gzip" if key.endswith(".gz") else "zstd" if key.endswith(".zst") else "none"


def legacy_stack_keys(keys: Iterable[str]) -> list[str]:
    """Legacy stack files directly under `.pulumi/stacks/` (what decides an unmarked store's layout)."""
    legacy = Layout(project_mode=False)
    return [k for k in keys if legacy.parse_stack_key(k) is not None]


def select_current(candidates: Iterable[_Listed]) -> _Listed | None:
    """Pulumi's `stackPath`: among `.json`/`.json.gz`/`.json.zst`, the newest mtime wins; ties go to the
    lexicographically later key."""
    best = None
    for c in sorted(candidates, key=lambda i: i.key):
        if not c.key.endswith(STATE_EXTS):
            continue
        if best is None or _stamp(c) >= _stamp(best):
            best = c
    return best


def _stamp(item: _Listed) -> float:
    return item.mtime.timestamp() if item.mtime else 0.0


@dataclass(frozen=True)
class HistoryName:
    stack: str
    nanos: int
    kind: str  # "history" | "checkpoint"
    compression: str  # "", ".gz", ".zst"


def parse_history_name(fname: str) -> HistoryName | None:
    m = _HISTORY_RE.match(fname)
    if not m:
        return None
    return HistoryName(m["stack"], int(m["nanos"]), m["kind"], m["comp"] or "")


def parse_backup_name(fname: str) -> tuple[str, int, str] | None:
    """`<stack>.<nanos>.json[.gz|.zst]` -> (stack, nanos, compression suffix)."""
    m = _BACKUP_RE.match(fname)
    if not m:
        return None
    return m["stack"], int(m["nanos"]), m["comp"] or ""
