"""Rotate secrets to a new key, or move them to another secrets provider, in every file of every
selected stack: current checkpoint, ``.bak``, retained copies, history checkpoints and entries,
backups and ``Pulumi.<stack>.yaml`` (format doc 4; Pulumi's own command re-encrypts only the
current checkpoint, pulumi/pulumi#5717).

Safety, in order:

1. check: every file of every stack is read and every secret decrypted with the old key(s), and the
   new keys are made (a new salt or data key per stack; a KMS key is tested for wrap *and* unwrap).
   A wrong passphrase, a missing KMS grant or a corrupt file fails here, before anything is written;
2. a journal (:mod:`.journal`) naming each stack's new key and lock is written to the backend;
3. every stack is locked (Pulumi's protocol), then rewritten file by file, each write atomic, the
   current checkpoint last and the settings file right after it, so the stack reads under its old
   key until the flip and under the new one after; the journal marks it done and the lock is released;
4. the journal is removed.

An interrupted run is finished by :func:`.resume.resume_rekey`: every file says (or reveals by decrypting)
whether it is already under the new key. Stacks are processed concurrently; PBKDF2 releases the
GIL, so key derivations use every core, and each salt is derived once (:func:`derive_key`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pulumi_diy.errors import (
    Conflict,
    NothingMatched,
    PassphraseRequired,
    UsageError,
)
from pulumi_diy.secrets.execute import Run, default_workers, execute, first_error, run_parallel
from pulumi_diy.secrets.journal import DONE, Journal, JournalStack, JournalWriter, list_journals, new_run_id
from pulumi_diy.secrets.keys import KeyId, KeyRing, key_of_manager
from pulumi_diy.secrets.plan import REWRITE, REWRITTEN, FileChange, StackJob, walk_stack
from pulumi_diy.secrets.scan import settings_path

if TYPE_CHECKING:
    from pulumi_diy.backend.backend import Backend
    from pulumi_diy.backend.layout import StackRef
    from pulumi_diy.secrets.managers import SecretsManager

Passphrase = Callable[[], "str | None"]


@dataclass(frozen=True)
class Target:
    """Where secrets go: ``passphrase`` (a new salt), or ``cloud`` with a KMS URL (a new data key)."""

    type: str
    url: str = ""

    @classmethod
    def parse(cls, text: str) -> Target:
        """``passphrase`` (or ``default``) or a KMS URL (``awskms://``, ``azurekeyvault://``, ``gcpkms://``,
        ``hashivault://``), as ``pulumi stack change-secrets-provider`` accepts them."""
        from pulumi_diy.secrets.kms import SCHEMES

        value = text.strip()
        if value in ("passphrase", "default"):
            return cls("passphrase")
        scheme = value.partition("://")[0].lower() if "://" in value else ""
        if scheme in SCHEMES:
            return cls("cloud", value)
        if scheme in ("http", "https", "service") or value == "service":
            raise UsageError(
                f"{value!r}: Pulumi Cloud ('service') secrets cannot be used by a DIY backend tool"
            )
        raise UsageError(
            f"unknown secrets provider {value!r}: expected passphrase or a URL starting with "
            + ", ".join(f"{s}://" for s in SCHEMES)
        )

    def __str__(self) -> str:
        return self.url or self.type


@dataclass(frozen=True)
class StackChange:
    """What a run did (or would do) to one stack. ``new`` is None in a dry run (no key is made)."""

    stack: str
    target: str  # "passphrase" or the KMS URL
    old: KeyId | None
    new: KeyId | None
    settings_file: str | None
    files: tuple[FileChange, ...]
    status: str  # planned | done

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "status": self.status,
            "target": self.target,
            "old": self.old.to_dict() if self.old else None,
            "new": self.new.to_dict() if self.new else None,
            "settingsFile": self.settings_file,
            "settings": self.new.settings().to_dict() if self.new and self.new.type != "b64" else None,
            "rewrite": sum(f.action in (REWRITE, REWRITTEN) for f in self.files),
            "files": [f.to_dict() for f in self.files],
        }


@dataclass(frozen=True)
class RekeyResult:
    """The outcome of ``secrets rotate`` / ``change-provider`` (or its dry run, or a resume)."""

    run_id: str | None
    operation: str
    status: str  # planned | cancelled | done
    stacks: tuple[StackChange, ...]
    seconds: float
    resumed: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def files_to_rewrite(self) -> int:
        return sum(f.action in (REWRITE, REWRITTEN) for s in self.stacks for f in s.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "operation": self.operation,
            "status": self.status,
            "resumed": self.resumed,
            "seconds": round(self.seconds, 3),
            "files": self.files_to_rewrite,
            "stacks": [s.to_dict() for s in self.stacks],
            "warnings": list(self.warnings),
        }


def select_stacks(
    backend: Backend, stack: str | None = None, *, all_stacks: bool = False, project: str | None = None
) -> list[StackRef]:
    """The stacks named by exactly one of: a stack reference, ``all_stacks``, a project."""
    if sum((stack is not None, all_stacks, project is not None)) != 1:
        raise UsageError("name one STACK, or pass --all, or --project P")
    if stack is not None:
        return [backend.resolve(stack)]
    refs = [r for r in backend.stacks() if project is None or r.project == project]
    if not refs:
        raise NothingMatched(
            f"no stacks{f' in project {project!r}' if project else ''} in {backend.url.redacted}"
        )
    return refs


def deleted_stacks_warning(backend: Backend, project: str | None = None) -> str | None:
    """A note for backend- or project-wide runs: stacks removed by `pulumi stack rm` keep copies (`.bak`,
    `backups/`) that no rotation reaches, still under their old keys."""
    from pulumi_diy.history.deleted import list_deleted_stacks

    gone = [str(d.ref) for d in list_deleted_stacks(backend) if project is None or d.ref.project == project]
    if not gone:
        return None
    shown = ", ".join(gone[:5]) + (f" and {len(gone) - 5} more" if len(gone) > 5 else "")
    return (f"{len(gone)} deleted stack(s) ({shown}) keep copies (.bak, backups/) under their old keys: they "
            "are not covered; `pulumi-diy stack restore` one first to include it, or remove the copies")


def call_once(fn: Passphrase) -> Passphrase:
    """``fn`` called at most once, whatever the number of threads asking (one prompt, not one per stack)."""
    lock = threading.Lock()
    box: list[str | None] = []

    def get() -> str | None:
        with lock:
            if not box:
                box.append(fn())
            return box[0]

    return get


def _new_manager(target: Target, new_passphrase: Passphrase, ring: KeyRing) -> SecretsManager:
    from pulumi_diy.secrets.managers import CloudManager
    from pulumi_diy.secrets.passphrase import PassphraseManager

    if target.type == "passphrase":
        passphrase = new_passphrase()
        if passphrase is None:
            raise PassphraseRequired(
                "the new passphrase must be set with PULUMI_DIY_NEW_PASSPHRASE or "
                "PULUMI_DIY_NEW_PASSPHRASE_FILE"
            )
        return PassphraseManager.new(passphrase)
    kms = ring.key_wrapper(target.url)
    manager = CloudManager.new(target.url, kms)
    # a key we can wrap with but not unwrap would lock the stack out: prove both before writing
    CloudManager.from_state(target.url, manager.encrypted_key_b64, kms)
    return manager


def _target_for(job: StackJob, target: Target | None) -> Target:
    if target is not None:
        return target
    old = job.old_key
    return Target("cloud", old.url) if old is not None and old.type == "cloud" else Target("passphrase")


def stack_change(job: StackJob, status: str) -> StackChange:
    return StackChange(
        str(job.ref),
        str(job.target),
        job.old_key,
        job.new_key,
        str(job.settings) if job.settings else None,
        tuple(job.changes),
        status,
    )


def _check_settings_paths(jobs: Sequence[StackJob]) -> None:
    seen: dict[Path, StackRef] = {}
    for job in jobs:
        if job.settings is None:
            continue
        path = job.settings.resolve()
        if path in seen:
            raise UsageError(
                f"{job.settings} would be the settings file of both {seen[path]} and {job.ref}: "
                "put each project's files in <config-dir>/<project>/"
            )
        seen[path] = job.ref


def rekey(
    backend: Backend,
    refs: Sequence[StackRef],
    *,
    target: Target | None = None,
    passphrase: Passphrase = lambda: None,
    new_passphrase: Passphrase = lambda: None,
    more_passphrases: Sequence[Passphrase] = (),
    config_dir: Path | None = None,
    dry_run: bool = False,
    confirm: Callable[[RekeyResult], bool] | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    kms: Callable[[str], Any] | None = None,
) -> RekeyResult:
    """Re-encrypt every file of ``refs`` to a new key: ``target`` None rotates each stack within its
    provider (new passphrase salt, or new data key under the same KMS URL); else moves to ``target``.

    ``passphrase`` gives the old passphrase and ``new_passphrase`` the new one, each called at most
    once and only when needed; ``more_passphrases`` are tried on keys ``passphrase`` does not open
    (files still under an older passphrase). ``confirm`` sees the checked plan and may decline (status
    ``cancelled``, nothing written). With ``dry_run`` nothing is written and no new passphrase is asked.
    """
    started = time.monotonic()
    if not refs:
        raise NothingMatched("no stacks selected")
    jobs = [StackJob(ref, settings_path(config_dir, ref)) for ref in refs]
    _check_settings_paths(jobs)
    for journal in list_journals(backend):
        busy = [str(r) for r in refs if (e := journal.find(r)) is not None and e.status != DONE]
        if busy:
            raise Conflict(
                f"stack(s) {', '.join(busy)} are part of the unfinished rotation run {journal.id}: "
                "finish it first with `pulumi-diy secrets rotate --resume`"
            )
    ring = KeyRing(passphrases=[passphrase, *more_passphrases], kms=kms, env=backend.settings.env)
    run = Run(backend, ring, default_workers(backend, len(jobs), workers), progress or (lambda n: None))
    new_passphrase = call_once(new_passphrase)

    def check(job: StackJob) -> None:
        job.changes = walk_stack(backend, job, ring, cancel=run.cancel, keep=None if dry_run else run.keeper(job))
        job.target = _target_for(job, target)
        if dry_run and job.target.type == "passphrase":
            return
        new = _new_manager(job.target, new_passphrase, ring)
        if dry_run:
            return  # a KMS move is checked end to end (wrap and unwrap), but nothing is kept
        job.new, job.new_key = new, key_of_manager(new)
        ring.add(job.new_key, new)

    failed = first_error(run_parallel(run, check, jobs))
    if failed is not None:
        raise failed
    operation = "rotate" if target is None else "change-provider"
    plan = RekeyResult(
        None,
        operation,
        "planned",
        tuple(stack_change(j, "planned") for j in jobs),
        time.monotonic() - started,
        warnings=_warnings(jobs, config_dir),
    )
    if dry_run:
        return plan
    if confirm is not None and not confirm(plan):
        return RekeyResult(None, operation, "cancelled", plan.stacks, time.monotonic() - started)
    journal = Journal(new_run_id(), operation, [])
    for job in jobs:
        assert job.new_key is not None
        job.lock = backend.lock(job.ref, reason=f"secrets {operation}")
        journal.stacks.append(
            JournalStack(
                job.ref.project,
                job.ref.name,
                job.new_key,
                job.old_key,
                str(job.settings.resolve()) if job.settings else None,  # --resume may run elsewhere
                job.lock.key,
            )
        )
    writer = JournalWriter(backend, journal)
    writer.save()
    execute(run, jobs, journal, writer)
    return RekeyResult(
        journal.id,
        operation,
        "done",
        tuple(stack_change(j, "done") for j in jobs),
        time.monotonic() - started,
        warnings=plan.warnings,
    )


def _warnings(jobs: Sequence[StackJob], config_dir: Path | None) -> tuple[str, ...]:
    if config_dir is None:
        return (
            "no --config-dir: the stacks' Pulumi.<stack>.yaml files are not updated; set their "
            "secrets-provider fields as shown, or Pulumi will not open the stacks",
        )
    missing = [str(j.ref) for j in jobs if j.settings is None]
    if missing:
        return (f"no Pulumi.<stack>.yaml under {config_dir} for: {', '.join(missing)}",)
    return ()
