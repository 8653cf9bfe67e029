"""``secrets verify``: decrypt every secret of every file of a stack and say which key each file is under.

Files: current checkpoint, ``.bak``, compression variants and retained copies, history checkpoints
and history ``config``, backups, and the ``Pulumi.<stack>.yaml`` settings file when a config
folder is given. Nothing is written and no plaintext leaves this module. When an unfinished
rotation journal names a stack, its new key is tried too and each file is marked ``new`` or ``old``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pulumi_diy.errors import IncorrectPassphrase, ObjectNotFound, PassphraseRequired, PulumiDiyError
from pulumi_diy.secrets.journal import Journal, list_journals
from pulumi_diy.secrets.keys import KeyId, KeyRing
from pulumi_diy.secrets.scan import (
    ParsedFile,
    StackFile,
    check_decrypts,
    find_key,
    list_stack_files,
    parse_settings_file,
    parse_stack_file,
    settings_path,
)

if TYPE_CHECKING:
    from pulumi_diy.backend.backend import Backend
    from pulumi_diy.backend.layout import StackRef

OK, FAILED, UNCHECKED, EMPTY = "ok", "failed", "unchecked", "no-secrets"


@dataclass(frozen=True)
class FileCheck:
    """One file: its kind, secret count, the key it is under, and whether everything decrypted."""

    key: str
    kind: str
    secrets: int
    provider: KeyId | None
    status: str  # ok | failed | unchecked (its key could not be opened with what was given) | no-secrets
    error: str | None = None
    rotation: str | None = None  # "new" / "old" while an unfinished rotation names the stack

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "secrets": self.secrets,
            "status": self.status,
            "provider": self.provider.to_dict() if self.provider else None,
            "error": self.error,
            "rotation": self.rotation,
        }


@dataclass(frozen=True)
class StackCheck:
    stack: str
    files: tuple[FileCheck, ...]
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Every secret was decrypted (an unchecked file is not a pass)."""
        return all(f.status in (OK, EMPTY) for f in self.files)

    @property
    def keys(self) -> list[str]:
        return list(dict.fromkeys(f.provider.label for f in self.files if f.provider is not None))

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "ok": self.ok,
            "keys": self.keys,
            "warnings": list(self.warnings),
            "files": [f.to_dict() for f in self.files],
        }


@dataclass(frozen=True)
class JournalSummary:
    """An unfinished rotation run found in the backend."""

    id: str
    operation: str
    created: str
    host: str
    pending: tuple[str, ...]
    done: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "operation": self.operation,
            "created": self.created,
            "host": self.host,
            "pending": list(self.pending),
            "done": list(self.done),
            "resume": f"pulumi-diy secrets rotate --resume --run-id {self.id}",
        }


@dataclass(frozen=True)
class VerifyResult:
    stacks: tuple[StackCheck, ...]
    journals: tuple[JournalSummary, ...]
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        mine = {s.stack for s in self.stacks}
        unfinished = any(set(j.pending) & mine or set(j.done) & mine for j in self.journals)
        return all(s.ok for s in self.stacks) and not unfinished

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "stacks": [s.to_dict() for s in self.stacks],
            "unfinishedRotations": [j.to_dict() for j in self.journals],
            "warnings": list(self.warnings),
        }


def _summary(j: Journal) -> JournalSummary:
    return JournalSummary(
        j.id,
        j.operation,
        j.created,
        j.host,
        tuple(s.stack for s in j.pending),
        tuple(s.stack for s in j.stacks if s not in j.pending),
    )


class _StackVerifier:
    def __init__(
        self,
        backend: Backend,
        ref: StackRef,
        ring: KeyRing,
        settings: Path | None,
        journals: Sequence[Journal],
    ) -> None:
        self.backend, self.ref, self.ring, self.settings = backend, ref, ring, settings
        entries = [e for j in journals if (e := j.find(ref)) is not None]
        self.new_keys = [e.new for e in entries]
        self.rotating = bool(entries)
        self.known: list[KeyId] = [*self.new_keys]
        self.paired: dict[int, KeyId] = {}

    def _mark(self, kid: KeyId | None) -> str | None:
        if not self.rotating or kid is None:
            return None
        return "new" if kid in self.new_keys else "old"

    def _excusable(self, kid: KeyId, err: PulumiDiyError | None) -> bool:
        """A key we were not given the means to open: no passphrase at all, or the new key of an
        unfinished rotation without the new passphrase (PULUMI_DIY_NEW_PASSPHRASE)."""
        return isinstance(err, PassphraseRequired) or (
            kid in self.new_keys and isinstance(err, IncorrectPassphrase)
        )

    def _check(self, pf: ParsedFile, kid: KeyId | None) -> FileCheck:
        f, n = pf.file, len(pf.secrets)
        if not n:
            return FileCheck(f.key, f.kind, 0, kid, EMPTY, rotation=self._mark(kid))
        if kid is None:
            return FileCheck(f.key, f.kind, n, None, FAILED, "encrypted secrets but no secrets provider")
        manager = self.ring.try_open(kid)
        if manager is None:
            err = self.ring.error(kid)
            status = UNCHECKED if self._excusable(kid, err) else FAILED
            return FileCheck(f.key, f.kind, n, kid, status, str(err), self._mark(kid))
        try:
            check_decrypts(pf, manager)
        except PulumiDiyError as e:
            return FileCheck(
                f.key, f.kind, n, kid, FAILED, e.message.removeprefix(f"{pf.name}: "), self._mark(kid)
            )
        return FileCheck(f.key, f.kind, n, kid, OK, rotation=self._mark(kid))

    def _history(self, pf: ParsedFile, *, final: bool) -> FileCheck | None:
        from pulumi_diy.backend.layout import parse_history_name

        f, n = pf.file, len(pf.secrets)
        if not n:
            return FileCheck(f.key, f.kind, 0, None, EMPTY)
        h = parse_history_name(f.key.rpartition("/")[2])
        paired = self.paired.get(h.nanos) if h else None
        found = find_key(pf, ([paired] if paired else []) + self.known, self.ring)
        if found is not None:
            return self._check(pf, found[0])
        if not final:
            return None
        locked = [
            (k, e)
            for k in self.known
            if isinstance(e := self.ring.error(k), (IncorrectPassphrase, PassphraseRequired))
        ]
        why = "; ".join(dict.fromkeys(str(e) for _, e in locked))
        status = UNCHECKED if locked and all(self._excusable(k, e) for k, e in locked) else FAILED
        message = "no known key of the stack decrypts its secure config" + (f" ({why})" if why else "")
        return FileCheck(f.key, f.kind, n, None, status, message)

    def run(self) -> StackCheck:
        warnings: list[str] = []
        checks: list[FileCheck] = []
        settings: ParsedFile | None = None
        if self.settings is not None:
            try:
                settings = parse_settings_file(self.settings)
                if settings.key is not None:
                    self.known.append(settings.key)
            except PulumiDiyError as e:
                checks.append(FileCheck(str(self.settings), "settings", 0, None, FAILED, e.message))
        try:
            files = list_stack_files(self.backend, self.ref)
        except PulumiDiyError as e:
            return StackCheck(str(self.ref), (FileCheck("", "current", 0, None, FAILED, e.message),))
        by_key = {f.key: f for f in files}
        later: list[ParsedFile] = []
        current_key: KeyId | None = None
        for key, data in self.backend.iter_read([f.key for f in files], batch=16):
            f: StackFile = by_key[key]
            if isinstance(data, ObjectNotFound):
                continue
            try:
                if isinstance(data, PulumiDiyError):
                    raise data
                pf = parse_stack_file(self.backend, f, data)
            except PulumiDiyError as e:
                checks.append(FileCheck(f.key, f.kind, 0, None, FAILED, e.message))
                continue
            if pf.key is not None and pf.key not in self.known:
                self.known.append(pf.key)
            if f.kind == "history-checkpoint" and pf.key is not None:
                h = _nanos(f.key)
                if h is not None:
                    self.paired[h] = pf.key
            if f.kind == "current":
                current_key = pf.key
            if f.kind == "history":
                got = self._history(pf, final=False)
                if got is None:
                    later.append(pf)
                else:
                    checks.append(got)
            else:
                checks.append(self._check(pf, pf.key))
        checks.extend(c for pf in later if (c := self._history(pf, final=True)) is not None)
        if settings is not None:
            kid = settings.key
            if kid is None and settings.secrets:
                found = find_key(settings, self.known, self.ring)
                kid = found[0] if found else None
            checks.append(self._check(settings, kid))
            if settings.key is not None and current_key is not None and settings.key != current_key:
                warnings.append(
                    f"the settings file names {settings.key.label} but the current checkpoint "
                    f"{current_key.label}"
                )
        labels = {c.provider.label for c in checks if c.provider is not None}
        if len(labels) > 1 and not self.rotating:
            warnings.append(f"files are under {len(labels)} different keys: {', '.join(sorted(labels))}")
        return StackCheck(str(self.ref), tuple(checks), tuple(warnings))


def _nanos(key: str) -> int | None:
    from pulumi_diy.backend.layout import parse_history_name

    h = parse_history_name(key.rpartition("/")[2])
    return h.nanos if h else None


def verify_secrets(
    backend: Backend,
    refs: Sequence[StackRef],
    *,
    passphrases: Sequence[Callable[[], str | None]] = (),
    config_dir: Path | None = None,
    workers: int | None = None,
    kms: Callable[[str], Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyResult:
    """Check every secret of every file of ``refs``; ``passphrases`` are tried in order on each key.
    ``progress(1)`` is called as each stack is done."""
    journals = list_journals(backend)
    ring = KeyRing(passphrases=passphrases, kms=kms, env=backend.settings.env)
    verifiers = [_StackVerifier(backend, ref, ring, settings_path(config_dir, ref), journals) for ref in refs]
    n = workers or max(1, min(len(verifiers), 8, backend.settings.parallel))
    def run(v: _StackVerifier) -> StackCheck:
        try:
            return v.run()
        finally:
            if progress is not None:
                progress(1)

    with ThreadPoolExecutor(max_workers=n) as pool:
        stacks = tuple(pool.map(run, verifiers))
    return VerifyResult(stacks, tuple(_summary(j) for j in journals))
