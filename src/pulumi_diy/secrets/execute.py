"""The write phase of a rotation: lock every stack, rewrite it, mark it done in the journal, unlock.

Stacks run concurrently on a thread pool; the first failure stops the others between two files
(each file is written atomically, so a stack is never left with a half-written file) and is
raised with a note naming the unfinished run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pulumi_diy.errors import PulumiDiyError
from pulumi_diy.secrets.journal import DONE, Journal, JournalStack, JournalWriter
from pulumi_diy.secrets.keys import KeyRing
from pulumi_diy.secrets.plan import REWRITTEN, FileChange, StackJob, walk_stack

if TYPE_CHECKING:
    from pulumi_diy.backend.backend import Backend
    from pulumi_diy.secrets.managers import SecretsManager
    from pulumi_diy.secrets.scan import ParsedFile


# Bytes the check phase may keep for the rewrite (the rest is read again under the lock).
KEEP_BUDGET = 256 * 1024 * 1024


@dataclass
class Run:
    backend: Backend
    ring: KeyRing
    workers: int
    progress: Callable[[int], None]
    cancel: threading.Event = field(default_factory=threading.Event)
    keep_budget: int | None = None  # None: KEEP_BUDGET
    kept_bytes: int = 0
    _kept_lock: threading.Lock = field(default_factory=threading.Lock)

    def keeper(self, job: StackJob) -> Callable[[str, str, bytes], None]:
        """What the check of ``job`` offers its files to: kept for the rewrite while the budget lasts."""

        def keep(key: str, fingerprint: str, data: bytes) -> None:
            budget = KEEP_BUDGET if self.keep_budget is None else self.keep_budget
            with self._kept_lock:
                if self.kept_bytes + len(data) > budget:
                    return
                self.kept_bytes += len(data)
            job.kept[key] = (fingerprint, data)

        return keep

    def forget(self, job: StackJob) -> None:
        with self._kept_lock:
            self.kept_bytes -= sum(len(data) for _, data in job.kept.values())
        job.kept = {}


def run_parallel(run: Run, fn: Callable[[StackJob], Any], jobs: Sequence[StackJob]) -> list[Any]:
    """``fn`` over ``jobs`` on a thread pool; on the first error the others stop between files."""
    results: list[Any] = [None] * len(jobs)

    def one(i: int) -> None:
        if run.cancel.is_set():
            return
        try:
            results[i] = fn(jobs[i])
        except BaseException as e:
            results[i] = e
            run.cancel.set()

    with ThreadPoolExecutor(max_workers=max(1, min(run.workers, len(jobs)))) as pool:
        futures = [pool.submit(one, i) for i in range(len(jobs))]
        try:
            for f in futures:
                f.result()
        except BaseException:
            run.cancel.set()
            raise
    return results


def first_error(results: Sequence[Any]) -> BaseException | None:
    errors = [r for r in results if isinstance(r, BaseException)]
    # a real failure explains more than the "interrupted" of the stacks it stopped
    return next((e for e in errors if "interrupted" not in str(e)), errors[0] if errors else None)


def _apply(run: Run, job: StackJob, writer: JournalWriter, entry: JournalStack) -> None:
    """Rewrite one stack under its lock (already held), mark it done, release the lock."""
    from pulumi_diy.secrets.rewrite import rewrite_checkpoint, rewrite_history, rewrite_settings
    from pulumi_diy.secrets.settings_file import write_settings_file

    assert job.new is not None and job.new_key is not None
    new, new_key = job.new, job.new_key
    store = run.backend.store

    def handle(pf: ParsedFile, change: FileChange, old: SecretsManager | None) -> FileChange:
        if pf.file.kind == "settings":
            write_settings_file(Path(pf.file.key), rewrite_settings(pf, old, new, new_key))
        elif pf.file.kind == "history":
            assert old is not None
            store.write(pf.file.key, rewrite_history(pf, old, new))
        else:
            store.write(pf.file.key, rewrite_checkpoint(pf, old, new, new_key))
        run.progress(1)
        return FileChange(change.key, change.kind, change.secrets, change.before, new_key, REWRITTEN)

    try:
        job.changes = walk_stack(run.backend, job, run.ring, handle=handle, cancel=run.cancel)
    finally:
        run.forget(job)
    writer.mark(entry, DONE)
    job.lock.release()
    job.lock = None


def execute(run: Run, jobs: list[StackJob], journal: Journal, writer: JournalWriter) -> None:
    """Steps 3 and 4: lock, rewrite, mark done, unlock every stack; then drop the journal."""
    entries = {str(e.ref()): e for e in journal.stacks}

    def lock(job: StackJob) -> None:
        job.lock.acquire()

    try:
        failed = first_error(run_parallel(run, lock, jobs))
    except BaseException as e:  # Ctrl-C while locking
        failed = e
    if failed is not None:
        if _release_all(jobs, failed):
            try:
                writer.remove()  # nothing was rewritten and no lock is left: forget the run
            except PulumiDiyError as e:
                add_note(
                    failed, f"the journal {journal.key} could not be removed ({e}); remove it or run --resume"
                )
        else:
            add_note(
                failed,
                f"run `pulumi-diy secrets rotate --resume --run-id {journal.id}` to finish or clean up",
            )
        raise failed
    run.cancel.clear()

    def apply(job: StackJob) -> None:
        _apply(run, job, writer, entries[str(job.ref)])

    try:
        failed = first_error(run_parallel(run, apply, jobs))
    except BaseException as e:  # Ctrl-C in the main thread: the workers stopped between two files
        failed = e
    _release_all(jobs, failed)  # stacks that failed or never started: give their locks back
    if failed is not None:
        done = sum(1 for e in journal.stacks if e.status == DONE)
        add_note(
            failed,
            f"rotation run {journal.id} is unfinished ({done} of {len(journal.stacks)} stacks done); "
            "finish it with `pulumi-diy secrets rotate --resume`",
        )
        raise failed
    try:
        writer.remove()
    except PulumiDiyError as e:
        add_note(
            e,
            f"every stack of rotation run {journal.id} is done but its journal could not be removed; "
            "run `pulumi-diy secrets rotate --resume` to clean up",
        )
        raise


def _release_all(jobs: Sequence[StackJob], failed: BaseException | None) -> bool:
    """Release every lock still held; False when one could not be (its key is added to ``failed``)."""
    ok = True
    for job in jobs:
        if job.lock is not None:  # a no-op for a lock that was never written
            try:
                job.lock.release()
            except PulumiDiyError as e:
                ok = False
                if failed is not None:
                    add_note(failed, str(e))
    return ok


def add_note(e: BaseException, text: str) -> None:
    """Append ``text`` to an error's one-line message."""
    if isinstance(e, PulumiDiyError):
        e.message = f"{e.message}; {text}"
        e.args = (e.message,)
    else:
        e.add_note(text)  # type: ignore[attr-defined,unused-ignore]  # Python >= 3.11


def default_workers(backend: Backend, n: int, workers: int | None) -> int:
    """Stacks in flight: enough to keep every core deriving keys and the store busy with writes."""
    return workers or max(1, min(n, max(8, 4 * (os.cpu_count() or 2)), backend.settings.parallel))
