"""Rotation reads each file once: the rewrite reuses what the check read, unless the file changed since."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pulumi_diy.secrets import execute
from pulumi_diy.secrets.rekey import rekey, select_stacks
from pulumi_diy.secrets.verify import verify_secrets
from tests.backends import BackendTarget
from tests.storage.test_rekey import NEW, OLD, _masked, make_backend, state_files, unpack

STATE_DIRS = (".pulumi/stacks/", ".pulumi/history/", ".pulumi/backups/")


class CountingStore:
    """Counts the reads of state files (stacks, history, backups) by key."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.reads = inner, Counter[str]()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _count(self, keys: Any) -> None:
        self.reads.update(k for k in keys if k.startswith(STATE_DIRS))

    def read(self, key: str) -> bytes:
        self._count([key])
        return self.inner.read(key)  # type: ignore[no-any-return]

    def read_many(self, keys: list[str]) -> Any:
        self._count(keys)
        return self.inner.read_many(keys)


def _rotate(backend: Any, cfg: Path, confirm: Any = None) -> CountingStore:
    counter = CountingStore(backend.store)
    backend.store = counter
    refs = select_stacks(backend, all_stacks=True)
    result = rekey(backend, refs, passphrase=lambda: OLD, new_passphrase=lambda: NEW, config_dir=cfg,
                   confirm=confirm)
    backend.store = counter.inner
    assert result.status == "done"
    assert verify_secrets(backend, refs, passphrases=[lambda: NEW], config_dir=cfg).ok
    return counter


def test_every_file_is_read_once(target: BackendTarget, tmp_path: Path) -> None:
    backend, cfg, _ = make_backend(target, tmp_path)
    files = set(state_files(backend))
    counter = _rotate(backend, cfg)
    assert set(counter.reads) == {k for k in files if not k.endswith(".pulumi-tags")}
    assert set(counter.reads.values()) == {1}, counter.reads


def test_beyond_the_budget_files_are_read_again(target_factory: Any, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(execute, "KEEP_BUDGET", 0)
    backend, cfg, _ = make_backend(target_factory("file"), tmp_path)
    counter = _rotate(backend, cfg)
    assert set(counter.reads.values()) == {2}, counter.reads


def test_a_file_changed_between_check_and_lock_is_read_again(target_factory: Any, tmp_path: Path) -> None:
    backend, cfg, _ = make_backend(target_factory("s3"), tmp_path, history=3)
    history = sorted(k for k in state_files(backend) if k.startswith(".pulumi/history/infra/dev/")
                     and ".history.json" in k)
    changed, source = history[0], history[1]
    before = {k: _masked(json.loads(unpack(backend.store.read(k)))) for k in (changed, source)}
    assert before[changed] != before[source]

    def confirm(plan: Any) -> bool:  # after the check, before the locks: someone rewrites a file
        backend.store.inner.write(changed, backend.store.inner.read(source))
        return True

    counter = _rotate(backend, cfg, confirm)
    assert counter.reads[changed] == 2 and counter.reads[source] == 1
    # the rewrite worked on the new content, not on what the check had read
    assert _masked(json.loads(unpack(backend.store.read(changed)))) == before[source]
