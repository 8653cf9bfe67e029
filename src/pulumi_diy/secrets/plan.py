"""Walking one stack's files for a rotation: which key each file is under and what to do with it.

Used twice per stack: first to check that everything decrypts (no writes), then under the stack
lock to rewrite. Files are read in batches and dropped once handled, so memory stays bounded by
the batch, not by the stack's history; the check may keep what it read (within the run's budget),
and the rewrite reuses each kept file whose fingerprint in the listing taken under the lock is
unchanged, instead of reading it again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pulumi_diy.errors import (
    DecryptionFailed,
    IncorrectPassphrase,
    Interrupted,
    MissingDependency,
    ObjectNotFound,
    PassphraseRequired,
    PulumiDiyError,
)
from pulumi_diy.secrets.keys import KeyId, KeyRing
from pulumi_diy.secrets.scan import (
    ParsedFile,
    StackFile,
    check_decrypts,
    find_key,
    list_stack_files,
    parse_settings_file,
    parse_stack_file,
)

if TYPE_CHECKING:
    from pulumi_diy.backend.backend import Backend
    from pulumi_diy.backend.layout import StackRef
    from pulumi_diy.secrets.managers import SecretsManager

READ_BATCH = 16

REWRITE, UNCHANGED, ALREADY_NEW, REWRITTEN = "rewrite", "unchanged", "already-new", "rewritten"


@dataclass(frozen=True)
class FileChange:
    """One file of a rotation: its kind, how many secrets, the key before and after, and the action."""

    key: str
    kind: str
    secrets: int
    before: KeyId | None
    after: KeyId | None
    action: str  # rewrite (planned) | rewritten | unchanged (nothing to re-encrypt) | already-new

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "secrets": self.secrets,
            "before": self.before.label if self.before else None,
            "after": self.after.label if self.after else None,
            "action": self.action,
        }


@dataclass
class StackJob:
    """A stack being rotated: its new key (once made), settings file, lock, and what was found."""

    ref: StackRef
    settings: Path | None
    new: SecretsManager | None = None
    new_key: KeyId | None = None
    old_key: KeyId | None = None  # the current checkpoint's key (else the settings file's)
    known: list[KeyId] = field(default_factory=list)  # every key seen in the stack's files
    history_keys: dict[str, KeyId] = field(default_factory=dict)  # history entry -> key found in the check
    changes: list[FileChange] = field(default_factory=list)
    target: Any = None  # rekey.Target
    lock: Any = None
    kept: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # key -> (fingerprint, bytes) read by the check

    def remember(self, kid: KeyId | None) -> None:
        if kid is not None and kid not in self.known:
            self.known.append(kid)


def in_file(name: str, e: PulumiDiyError) -> PulumiDiyError:
    """``e`` with the file name in front of its message (same class, same exit code)."""
    if isinstance(e, MissingDependency) or e.message.startswith(name):
        return e
    try:
        out = type(e)(f"{name}: {e.message}")
    except TypeError:
        return e
    return out


def _open(ring: KeyRing, kid: KeyId, pf: ParsedFile) -> SecretsManager:
    try:
        return ring.open(kid)
    except PulumiDiyError as e:
        raise in_file(pf.name, e) from None


def _history_key(
    pf: ParsedFile, job: StackJob, ring: KeyRing, paired: dict[int, KeyId], *, final: bool
) -> tuple[KeyId, SecretsManager] | None:
    """The key of a history entry's config: the new key, what the check found, its checkpoint's, the rest."""
    from pulumi_diy.backend.layout import parse_history_name

    h = parse_history_name(pf.file.key.rpartition("/")[2])
    candidates = [
        k
        for k in (job.new_key, job.history_keys.get(pf.file.key), paired.get(h.nanos) if h else None)
        if k is not None
    ]
    candidates += job.known
    found = find_key(pf, candidates, ring)
    if found is None and final:
        unopened = [e for e in (ring.error(k) for k in job.known) if e is not None]
        if any(isinstance(e, (IncorrectPassphrase, PassphraseRequired)) for e in unopened):
            cause = next(e for e in unopened if isinstance(e, (IncorrectPassphrase, PassphraseRequired)))
            raise in_file(pf.name, cause)
        tried = ", ".join(k.label for k in dict.fromkeys(candidates)) or "none"
        raise DecryptionFailed(
            f"{pf.name}: no key of stack {job.ref} decrypts its secure config (tried: {tried})"
        )
    return found


def classify(
    pf: ParsedFile,
    job: StackJob,
    ring: KeyRing,
    paired: dict[int, KeyId],
    *,
    final: bool = True,
    check: bool = True,
) -> tuple[FileChange, SecretsManager | None] | None:
    """What to do with one file, after checking (``check``) that its secrets decrypt. None = retry
    later (a history entry whose key was not seen yet)."""
    n = len(pf.secrets)
    kind, key = pf.file.kind, pf.file.key
    kid: KeyId | None
    manager: SecretsManager | None
    if kind == "history":
        if not n:
            return FileChange(key, kind, 0, None, None, UNCHANGED), None
        found = _history_key(pf, job, ring, paired, final=final)
        if found is None:
            return None
        kid, manager = found
        job.history_keys[key] = kid
    elif kind == "settings":
        kid = pf.key
        if kid is None and n:
            found = find_key(pf, [k for k in (job.new_key, job.old_key) if k] + job.known, ring)
            if found is None:
                raise DecryptionFailed(
                    f"{pf.name}: names no secrets provider and no key of {job.ref} decrypts its secure values"
                )
            kid = found[0]
        manager = _open(ring, kid, pf) if kid is not None and kid != job.new_key else None
    else:
        kid = pf.key
        if kid is None:
            if n:
                raise DecryptionFailed(f"{pf.name}: has encrypted secrets but no secrets provider")
            return FileChange(key, kind, 0, None, None, UNCHANGED), None
        manager = _open(ring, kid, pf) if kid != job.new_key else None
    if job.new_key is not None and kid == job.new_key:
        return FileChange(key, kind, n, kid, kid, ALREADY_NEW), None
    if manager is not None and check:
        check_decrypts(pf, manager)
    return FileChange(key, kind, n, kid, job.new_key, REWRITE), manager


def walk_stack(
    backend: Backend,
    job: StackJob,
    ring: KeyRing,
    *,
    handle: Callable[[ParsedFile, FileChange, SecretsManager | None], FileChange] | None = None,
    cancel: threading.Event | None = None,
    keep: Callable[[str, str, bytes], None] | None = None,
) -> list[FileChange]:
    """Visit every file of the stack in rewrite order, classify it, and pass it to ``handle`` (which
    rewrites it and returns the final change). Without ``handle``: a check only, recording what is
    found in ``job`` (old key, known keys, the key of each history entry) and offering each file read
    to ``keep`` (key, fingerprint, bytes); the rewrite then reuses ``job.kept``."""
    from pulumi_diy.backend.layout import parse_history_name

    files = list_stack_files(backend, job.ref)
    by_key = {f.key: f for f in files}
    settings = parse_settings_file(job.settings) if job.settings else None
    if settings is not None:
        job.remember(settings.key)
    paired: dict[int, KeyId] = {}
    later: list[ParsedFile] = []
    changes: list[FileChange] = []

    def visit(pf: ParsedFile, *, final: bool) -> bool:
        # when rewriting, the rewrite itself decrypts every secret (and fails the same way)
        got = classify(pf, job, ring, paired, final=final, check=handle is None)
        if got is None:
            return False
        change, manager = got
        if handle is not None and change.action == REWRITE:
            change = handle(pf, change, manager)
        changes.append(change)
        return True

    for key, data in _contents(backend, files, job.kept if handle is not None else {}):
        if cancel is not None and cancel.is_set():
            raise Interrupted("interrupted")
        if isinstance(data, ObjectNotFound) and by_key[key].kind != "current":
            continue  # removed since the listing (an old variant, a pruned entry): nothing to rotate
        if isinstance(data, PulumiDiyError):
            raise data
        if keep is not None and by_key[key].fingerprint:
            keep(key, str(by_key[key].fingerprint), data)
        pf = parse_stack_file(backend, by_key[key], data)
        job.remember(pf.key)
        if pf.file.kind == "history-checkpoint" and pf.key is not None:
            h = parse_history_name(key.rpartition("/")[2])
            if h is not None:
                paired[h.nanos] = pf.key
        if pf.file.kind == "current":
            if job.old_key is None:
                job.old_key = pf.key or (settings.key if settings else None)
            for late in later:  # history entries whose key only the later files revealed
                visit(late, final=True)
            later = []
        if not visit(pf, final=False):
            later.append(pf)
    for late in later:
        visit(late, final=True)
    if settings is not None:
        visit(settings, final=True)
    return changes


def _contents(
    backend: Backend, files: list[StackFile], kept: dict[str, tuple[str, bytes]]
) -> Iterator[tuple[str, bytes | PulumiDiyError]]:
    """Each file's bytes in order: kept bytes where the fingerprint still matches, the rest read."""

    def reusable(f: StackFile) -> bool:
        return f.fingerprint is not None and f.key in kept and kept[f.key][0] == f.fingerprint

    fresh = backend.iter_read([f.key for f in files if not reusable(f)], batch=READ_BATCH)
    for f in files:
        if reusable(f):
            yield f.key, kept[f.key][1]
        else:
            key, data = next(fresh)
            assert key == f.key
            yield key, data
