"""Crash safety of secrets rotation: a failure at every write position, a real kill -9, and --resume.

At every point each file is entirely under the old or the new key, and a stack whose current
checkpoint and settings file disagree (or that holds any new-key file) is named by a journal in the
backend; ``--resume`` then finishes, and every file decrypts with the new key."""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_diy.backend.backend import open_backend
from pulumi_diy.config import resolve_settings
from pulumi_diy.errors import BackendUnreachable, Conflict
from pulumi_diy.secrets import settings_file as settings_module
from pulumi_diy.secrets.journal import Journal, JournalStack, JournalWriter, list_journals
from pulumi_diy.secrets.keys import KeyId
from pulumi_diy.secrets.rekey import rekey, select_stacks
from pulumi_diy.secrets.resume import resume_rekey
from tests.backends import BackendTarget
from tests.cli.helpers import run
from tests.storage.test_rekey import (
    NEW,
    OLD,
    aes_decrypt,
    make_backend,
    passphrase_key,
    settings_files,
    stack_of,
    state_files,
)

PLAINTEXTS = (b"pw-infra-dev", b"pw-web-dev", b"pw-infra-prod", OLD.encode(), NEW.encode())


class FailingStore:
    """A store whose mutating calls fail from the ``fail_at``-th on, like a network loss (``only``: just
    that one)."""

    def __init__(self, inner: Any, fail_at: int, only: bool = False) -> None:
        self.inner, self.fail_at, self.only, self.calls = inner, fail_at, only, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def tick(self, what: str) -> None:
        self.calls += 1
        if self.calls == self.fail_at or (not self.only and self.calls > self.fail_at):
            raise BackendUnreachable(f"injected failure at write {self.calls} ({what})")

    def write(self, key: str, data: bytes) -> None:
        self.tick(key)
        self.inner.write(key, data)

    def create(self, key: str, data: bytes) -> None:
        self.tick(key)
        self.inner.create(key, data)

    def delete(self, key: str, *, missing_ok: bool = False) -> None:
        self.tick(key)
        self.inner.delete(key, missing_ok=missing_ok)

    def copy(self, src: str, dst: str) -> None:
        self.tick(dst)
        self.inner.copy(src, dst)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A two-stack file backend plus settings files, copied fresh for every scenario."""
    base = tmp_path_factory.mktemp("template")
    target = BackendTarget("file", f"file://{base / 'state'}")
    (base / "state").mkdir()
    target._tmp = str(base)
    _, cfg, salt = make_backend(target, base)
    return base / "state", cfg, salt


def fresh(template: tuple[Path, Path, str], where: Path) -> tuple[Any, Path, str]:
    state, cfg, salt = template
    shutil.copytree(state, where / "state")
    shutil.copytree(cfg, where / "cfg")
    env = {"PULUMI_DIY_CACHE_DIR": str(where / "cache"), "HOME": str(where)}
    backend = open_backend(
        settings=resolve_settings(backend=f"file://{where / 'state'}", environ=env), use_cache=False
    )
    return backend, where / "cfg", salt


def _file_state(sp: Any, cts: list[str], old_salt: str, new_salt: str | None) -> str | None:
    """ "old"/"new": the one key every secret of the file decrypts with (and the key it names, if any)."""
    from cryptography.exceptions import InvalidTag

    named = None
    if sp:
        named = sp["state"].get("salt") if "state" in sp else sp.get("encryptionsalt")
    if not cts and named is None:
        return None
    under = set()
    for name, salt, passphrase in (("old", old_salt, OLD), ("new", new_salt, NEW)):
        if salt is None or (named is not None and named != salt):
            continue
        try:
            for ct in cts:
                aes_decrypt(passphrase_key(passphrase, salt), ct)
        except InvalidTag:
            continue
        under.add(name)
    assert len(under) == 1, (sp, under)
    return under.pop()


def check_consistent(backend: Any, cfg: Path, salt: str) -> list[Journal]:
    """Each file is all-old or all-new; a stack with any new-key file is named by a journal, and one whose
    current checkpoint and settings file disagree is still pending in it."""
    journals = list_journals(backend)
    new_salts = {s.stack: s.new.state for j in journals for s in j.stacks}
    pending = {s.stack for j in journals for s in j.pending}
    states: dict[str, dict[str, str]] = {}
    for key, (sp, cts) in {**state_files(backend), **settings_files(cfg)}.items():
        stack = stack_of(key)
        got = _file_state(sp, cts, salt, new_salts.get(stack))
        if got is not None:
            kind = (
                "settings"
                if key.endswith(".yaml")
                else "current"
                if "/stacks/" in key and key.endswith((".json", ".json.gz"))
                else key
            )
            states.setdefault(stack, {})[kind] = got
    for stack, files in states.items():
        if "new" in files.values():
            assert stack in new_salts, f"{stack} has new-key files but no journal names it"
        if files["current"] != files["settings"]:
            assert stack in pending, f"{stack}: current checkpoint and settings file disagree, not pending"
    return journals


def _all_new(backend: Any, cfg: Path) -> None:
    assert not list_journals(backend)
    assert not backend.store.list(".pulumi/locks", recursive=True)
    files = {**state_files(backend), **settings_files(cfg)}
    salts = {
        stack_of(k): sp["state"]["salt"]
        for k, (sp, _) in files.items()
        if sp and "state" in sp and k.endswith((".json", ".json.gz")) and "/stacks/" in k
    }
    for key, (_, cts) in files.items():
        for ct in cts:
            aes_decrypt(passphrase_key(NEW, salts[stack_of(key)]), ct)


@pytest.fixture
def count_settings_writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Settings-file writes are write positions too: route them through the current FailingStore."""
    holder: list[Any] = []
    original = settings_module.write_settings_file

    def write(path: Path, text: str) -> None:
        if holder:
            holder[0].tick(str(path))
        original(path, text)

    monkeypatch.setattr(settings_module, "write_settings_file", write)
    yield holder


@pytest.fixture
def recycled_salts(monkeypatch: pytest.MonkeyPatch) -> None:
    """New passphrase keys reuse two salts, so the sweep below pays for two key derivations, not 100."""
    import itertools

    from pulumi_diy.secrets import PassphraseManager
    from pulumi_diy.secrets.crypter import AesGcmCrypter, b64encode_std
    from pulumi_diy.secrets.passphrase import derive_key

    salts = itertools.cycle([b"rotate-1", b"rotate-2"])

    def new(cls: type[PassphraseManager], passphrase: str) -> PassphraseManager:
        salt = next(salts)
        crypter = AesGcmCrypter(derive_key(passphrase, salt))
        return cls(f"v1:{b64encode_std(salt)}:{crypter.encrypt('pulumi')}", crypter)

    monkeypatch.setattr(PassphraseManager, "new", classmethod(new))


@pytest.mark.usefixtures("recycled_salts")
@pytest.mark.parametrize("only", [False, True], ids=["network-lost", "one-write-fails"])
def test_failure_at_every_write_position(
    template: tuple[Path, Path, str], tmp_path: Path, only: bool, count_settings_writes: list[Any]
) -> None:
    backend, cfg, salt = fresh(template, tmp_path / "count")
    counter = FailingStore(backend.store, fail_at=10**9)
    backend.store = counter
    count_settings_writes[:] = [counter]
    refs = select_stacks(backend, all_stacks=True)
    rekey(backend, refs, passphrase=lambda: OLD, new_passphrase=lambda: NEW, config_dir=cfg, workers=1)
    total = counter.calls
    assert total >= 20  # 2 stacks x 8 files + journal + locks
    for k in range(1, total + 1):
        backend, cfg, salt = fresh(template, tmp_path / f"k{k}")
        healthy = backend.store
        failing = FailingStore(healthy, fail_at=k, only=only)
        backend.store = failing
        count_settings_writes[:] = [failing]
        error = None
        try:
            rekey(
                backend, refs, passphrase=lambda: OLD, new_passphrase=lambda: NEW, config_dir=cfg, workers=1
            )
        except BackendUnreachable as e:
            error = str(e)
        backend.store = healthy
        count_settings_writes[:] = []
        if error is None:  # the failed call was retried (lock release): the run finished
            _all_new(backend, cfg)
            continue
        journals = check_consistent(backend, cfg, salt)
        assert "injected failure" in error
        assert not journals or "--resume" in error, (k, error)
        if journals:
            resume_rekey(backend, passphrase=lambda: OLD, new_passphrase=lambda: NEW)
            _all_new(backend, cfg)
        else:
            assert not state_files_new(backend, salt), k
            assert not backend.store.list(".pulumi/locks", recursive=True), k


def state_files_new(backend: Any, salt: str) -> list[str]:
    return [k for k, (sp, _) in state_files(backend).items() if sp and sp["state"]["salt"] != salt]


def _kill_script(k: int) -> str:
    return f"""
import os, signal, sys
from pulumi_diy.backend import store as m
n = [0]
for name in ("write", "create", "delete"):
    def wrap(orig):
        def f(self, *a, **kw):
            n[0] += 1
            if n[0] == {k}:
                os.kill(os.getpid(), signal.SIGKILL)
            return orig(self, *a, **kw)
        return f
    setattr(m.Store, name, wrap(getattr(m.Store, name)))
from pulumi_diy.cli.app import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize("k", [4, 9, 15])
def test_kill_9_then_verify_and_resume(template: tuple[Path, Path, str], tmp_path: Path, k: int) -> None:
    backend, cfg, salt = fresh(template, tmp_path)
    url = f"file://{tmp_path / 'state'}"
    env = {
        **{n: v for n, v in os.environ.items() if not n.startswith("PULUMI_")},
        "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"),
        "PULUMI_BACKEND_URL": url,
        "PULUMI_CONFIG_PASSPHRASE": OLD,
        "PULUMI_DIY_NEW_PASSPHRASE": NEW,
        "NO_COLOR": "1",
        "PULUMI_DIY_CACHE_DIR": str(tmp_path / "cache"),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _kill_script(k),
            "secrets",
            "rotate",
            "--all",
            "--config-dir",
            str(cfg),
            "--yes",
        ],
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    state_dir = tmp_path / "state" / ".pulumi"
    for left in state_dir.rglob("*.tmp"):  # a concurrent write cut short: Pulumi and we ignore it
        assert re.search(r"\.json(\.gz|\.zst)?(\.bak)?(\.attrs)?\.[0-9a-f]{12,20}\.tmp$", left.name), left
    journals = check_consistent(backend, cfg, salt)
    assert journals, "the journal is written before the first lock"
    assert backend.store.list(".pulumi/locks", recursive=True), "kill -9 leaves the run's locks"
    journal = backend.store.read(journals[0].key)
    for stack in journals[0].stacks:  # the journal names the new key by its public state, never the key
        assert stack.new.state.encode() in journal
        key = passphrase_key(NEW, stack.new.state)
        assert key.hex().encode() not in journal and base64.b64encode(key) not in journal
    assert not any(secret in journal for secret in PLAINTEXTS)
    cli_env = {
        "PULUMI_BACKEND_URL": url,
        "PULUMI_CONFIG_PASSPHRASE": OLD,
        "PULUMI_DIY_CACHE_DIR": env["PULUMI_DIY_CACHE_DIR"],
    }
    checked = run(["secrets", "verify", "--all", "--config-dir", str(cfg)], cli_env)
    assert checked.exit_code == 7 and f"unfinished rotation run {journals[0].id}" in checked.stdout
    assert "--resume" in checked.stdout
    resumed = run(["secrets", "rotate", "--resume"], {**cli_env, "PULUMI_DIY_NEW_PASSPHRASE": NEW})
    assert resumed.exit_code == 0, resumed.stderr
    assert "resumed and finished" in resumed.stdout
    _all_new(backend, cfg)
    for sub in ("stacks", "history", "backups"):  # the resumed run's locks swept what the dead one left
        assert not list((state_dir / sub).rglob("*.tmp")), sub
    ok = run(
        ["secrets", "verify", "--all", "--config-dir", str(cfg)], {**cli_env, "PULUMI_CONFIG_PASSPHRASE": NEW}
    )
    assert ok.exit_code == 0, ok.stdout
    outputs = (
        proc.stdout
        + proc.stderr
        + (checked.stdout + checked.stderr + resumed.stdout + resumed.stderr).encode()
    )
    leftovers = b"".join(
        p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and "cache" not in p.parts
    )
    for secret in PLAINTEXTS:
        assert secret not in outputs and secret not in leftovers


def test_resume_refuses_a_live_run_and_wrong_new_passphrase(
    template: tuple[Path, Path, str], tmp_path: Path
) -> None:
    from pulumi_diy.errors import IncorrectPassphrase
    from pulumi_diy.secrets import PassphraseManager

    backend, cfg, _ = fresh(template, tmp_path)
    ref = backend.resolve("web/dev")
    new = PassphraseManager.new(NEW)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        journal = Journal(
            "20260101T000000Z-live",
            "rotate",
            [
                JournalStack(
                    ref.project,
                    ref.name,
                    KeyId("passphrase", new.state_string),
                    settings_file=str(cfg / "web" / "Pulumi.dev.yaml"),
                )
            ],
            pid=sleeper.pid,
        )
        JournalWriter(backend, journal).save()
        with pytest.raises(Conflict, match="still running"):
            resume_rekey(backend, passphrase=lambda: OLD, new_passphrase=lambda: NEW)
        with pytest.raises(Conflict, match="unfinished rotation run 20260101T000000Z-live"):
            rekey(backend, [ref], passphrase=lambda: OLD, new_passphrase=lambda: NEW)
    finally:
        sleeper.kill()
        sleeper.wait()
    with pytest.raises(IncorrectPassphrase, match="not the one rotation run"):
        resume_rekey(backend, passphrase=lambda: OLD, new_passphrase=lambda: "not it")
    done = resume_rekey(backend, passphrase=lambda: OLD, new_passphrase=lambda: NEW)
    assert done.resumed and [s.stack for s in done.stacks] == ["web/dev"]
    assert yaml.safe_load((cfg / "web" / "Pulumi.dev.yaml").read_text())["encryptionsalt"] == new.state_string
