"""Finishing an interrupted rotation run (``secrets rotate --resume``).

The journal in the backend names every stack of the run, its new key and the lock the run held.
Locks left by a dead run are removed, the new passphrase is checked against the recorded state
string, and each pending stack goes through the same check-then-rewrite as a fresh run: a file
already under the new key (it says so, or decrypts with it) is left alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pulumi_diy.errors import (
    Conflict,
    IncorrectPassphrase,
    NothingMatched,
    PassphraseRequired,
    StackNotFound,
    UsageError,
)
from pulumi_diy.locking.model import this_host
from pulumi_diy.secrets.execute import Run, default_workers, execute, first_error, run_parallel
from pulumi_diy.secrets.journal import DONE, Journal, JournalWriter, list_journals
from pulumi_diy.secrets.keys import KeyId, KeyRing
from pulumi_diy.secrets.plan import StackJob, walk_stack
from pulumi_diy.secrets.rekey import Passphrase, RekeyResult, Target, call_once, stack_change

if TYPE_CHECKING:
    from pulumi_diy.backend.backend import Backend
    from pulumi_diy.secrets.managers import SecretsManager


def resume_rekey(
    backend: Backend,
    *,
    run_id: str | None = None,
    passphrase: Passphrase = lambda: None,
    new_passphrase: Passphrase = lambda: None,
    more_passphrases: Sequence[Passphrase] = (),
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    kms: Callable[[str], Any] | None = None,
) -> RekeyResult:
    """Finish an interrupted rotation run (the only one, or ``run_id``) recorded in the backend."""
    started = time.monotonic()
    journals = list_journals(backend)
    if run_id is not None:
        journals = [j for j in journals if j.id == run_id]
    if not journals:
        raise NothingMatched(
            f"no unfinished rotation run{f' {run_id!r}' if run_id else ''} in {backend.url.redacted}"
        )
    if len(journals) > 1:
        raise UsageError(
            "several unfinished rotation runs: pick one with --run-id " + ", ".join(j.id for j in journals)
        )
    journal = journals[0]
    warnings: list[str] = list(_check_not_running(journal))
    new_passphrase = call_once(new_passphrase)
    ring = KeyRing(passphrases=[passphrase, *more_passphrases], kms=kms, env=backend.settings.env)
    run = Run(
        backend, ring, default_workers(backend, len(journal.stacks), workers), progress or (lambda n: None)
    )
    jobs = []
    for entry in journal.pending:
        settings = Path(entry.settings_file) if entry.settings_file else None
        if settings is not None and not settings.is_file():
            warnings.append(
                f"{settings} (settings file of {entry.stack}) is not here: set its provider fields by hand"
            )
            settings = None
        job = StackJob(entry.ref(), settings)
        job.new_key, job.old_key = entry.new, entry.old
        job.target = Target(entry.new.type, entry.new.url)
        jobs.append(job)
    gone: list[StackJob] = []

    def check(job: StackJob) -> None:
        assert job.new_key is not None
        job.new = _reopen(job.new_key, ring, new_passphrase, journal.id)
        ring.add(job.new_key, job.new)
        try:
            job.changes = walk_stack(backend, job, ring, cancel=run.cancel, keep=run.keeper(job))
        except StackNotFound:
            gone.append(job)  # removed since: nothing left to rotate

    failed = first_error(run_parallel(run, check, jobs))
    if failed is not None:
        raise failed
    writer = JournalWriter(backend, journal)
    entries = {str(e.ref()): e for e in journal.stacks}
    for job in gone:
        warnings.append(f"stack {job.ref} no longer exists; skipped")
        entries[str(job.ref)].status = DONE
    jobs = [j for j in jobs if j not in gone]
    for entry in journal.stacks:  # everything checks out: the locks the dead run left are ours to remove
        if entry.lock_key and backend.store.exists(entry.lock_key):
            backend.store.delete(entry.lock_key, missing_ok=True)
    journal.host, journal.pid = this_host(), os.getpid()  # this process owns the run now
    for job in jobs:
        job.lock = backend.lock(job.ref, reason=f"secrets {journal.operation} --resume")
        entries[str(job.ref)].lock_key = job.lock.key
    writer.save()
    execute(run, jobs, journal, writer)
    return RekeyResult(
        journal.id,
        journal.operation,
        "done",
        tuple(stack_change(j, "done") for j in jobs),
        time.monotonic() - started,
        resumed=True,
        warnings=tuple(warnings),
    )


def _reopen(kid: KeyId, ring: KeyRing, new_passphrase: Passphrase, run_id: str) -> SecretsManager:
    """The new key of an interrupted run, opened again (the new passphrase is checked against it)."""
    from pulumi_diy.secrets.passphrase import PassphraseManager

    if kid.type != "passphrase":
        return ring.open(kid)
    value = new_passphrase()
    if value is None:
        raise PassphraseRequired(
            f"rotation run {run_id} moves to a new passphrase: set PULUMI_DIY_NEW_PASSPHRASE "
            "or PULUMI_DIY_NEW_PASSPHRASE_FILE to it"
        )
    try:
        return PassphraseManager.from_state(kid.state, value)
    except IncorrectPassphrase:
        raise IncorrectPassphrase(
            f"the new passphrase is not the one rotation run {run_id} used (key {kid.label})"
        ) from None


def _check_not_running(journal: Journal) -> tuple[str, ...]:
    from pulumi_diy.locks import pid_running

    if journal.host == this_host():
        if journal.pid != os.getpid() and pid_running(journal.pid):
            raise Conflict(f"rotation run {journal.id} is still running (pid {journal.pid} on this host)")
        return ()
    return (f"rotation run {journal.id} was started on {journal.host}; make sure it is no longer running",)
