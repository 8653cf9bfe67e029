"""`pulumi-diy lock ...` through Typer's CliRunner: exit code, stdout and stderr checked separately."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pulumi_diy.backend.layout import LOCKS_DIR
from pulumi_diy.cli.app import app
from tests.backends import BackendTarget, put

ID_OLD = "0b5e3f4c-8a7d-4e21-9c3b-5f1d2a6b7c8d"
ID_NEW = "7d2c9e1a-3b4f-4a5d-8e6f-9a0b1c2d3e4f"
ID_DEAD = "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f"
LOCK_KEYS = ("stack", "lockId", "key", "pid", "username", "hostname", "timestamp", "corrupt", "url", "created",
             "ageSeconds", "stale", "staleReason", "pidRunning")


def ts(hours_ago: float) -> str:
    # A few seconds more, so that the age shown a moment later is not a second short of the hour.
    t = datetime.now(timezone(timedelta(hours=2))) - timedelta(hours=hours_ago, seconds=3)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".5+02:00"


def key(lock_id: str, stack: str = "prod") -> str:
    return f"{LOCKS_DIR}/organization/infra/{stack}/{lock_id}.json"


def pulumi_lock(pid: int, user: str, host: str, when: str) -> bytes:
    return f'{{"pid":{pid},"username":"{user}","hostname":"{host}","timestamp":"{when}"}}'.encode()


@pytest.fixture(params=["file", "s3"])
def cli(request: pytest.FixtureRequest, target_factory: Any, tmp_path: Path) -> Any:
    target: BackendTarget = target_factory(request.param)
    runner = CliRunner()
    env = {**target.env, "PULUMI_DIY_CACHE_DIR": str(tmp_path / "cache")}

    def invoke(*args: str) -> Any:
        return runner.invoke(app, ["--backend", target.url, *args], env=env)

    invoke.backend = target.open(use_cache=False)  # type: ignore[attr-defined]
    return invoke


def lock_ids(backend: Any) -> set[str]:
    return {o.key.rsplit("/", 1)[-1][:-5] for o in backend.store.list(LOCKS_DIR)}


def seed(backend: Any) -> int:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead = int(gone.stdout)
    put(backend, {
        key(ID_OLD): pulumi_lock(4242, "ci", "runner-1", ts(5)),
        key(ID_NEW): pulumi_lock(77, "alice", "laptop", ts(0.05)),
        key(ID_DEAD, "dev"): pulumi_lock(dead, "bob", socket.gethostname(), ts(0.01)),
    })
    return dead


def test_help_ends_with_an_example(cli: Any) -> None:
    for command in ("ls", "show", "break", "wait"):
        result = cli("lock", command, "--help")
        assert result.exit_code == 0, result.stderr
        assert "Example: pulumi-diy lock " + command in result.stdout


def test_ls_human_and_json(cli: Any) -> None:
    dead = seed(cli.backend)
    human = cli("lock", "ls")
    assert human.exit_code == 0 and human.stderr == ""
    assert ID_OLD in human.stdout and "ci@runner-1" in human.stdout and "3 lock(s), 2 stale" in human.stdout
    assert f"pid {dead} is not running" in human.stdout

    for args in (("--json", "lock", "ls"), ("lock", "ls", "--json")):
        result = cli(*args)
        assert result.exit_code == 0 and result.stderr == ""
        rows = json.loads(result.stdout)
        assert [r["lockId"] for r in rows] == [ID_DEAD, ID_OLD, ID_NEW]
        assert all(tuple(r) == LOCK_KEYS for r in rows)
        old = rows[1]
        assert (old["stack"], old["username"], old["hostname"], old["pid"], old["stale"]) == \
            ("infra/prod", "ci", "runner-1", 4242, True)
        assert old["staleReason"] == "older than 2h (age 5h)" and old["timestamp"].endswith(".5+02:00")
        assert rows[0]["pidRunning"] is False and rows[2]["stale"] is False

    fresh = json.loads(cli("--json", "lock", "ls", "--stale-after", "10h").stdout)
    assert [r["stale"] for r in fresh] == [True, False, False]
    only = json.loads(cli("--json", "lock", "ls", "infra/prod").stdout)
    assert {r["lockId"] for r in only} == {ID_OLD, ID_NEW}
    assert json.loads(cli("--json", "lock", "ls", "--project", "nope").stdout) == []
    bad = cli("lock", "ls", "--stale-after", "soon")
    assert bad.exit_code == 2 and "invalid --stale-after 'soon'" in bad.stderr and bad.stdout == ""


def test_show(cli: Any) -> None:
    seed(cli.backend)
    result = cli("lock", "show", "infra/prod")
    assert result.exit_code == 0 and result.stderr == ""
    assert "infra/prod: locked by 2 lock(s)" in result.stdout and "ci@runner-1 (pid 4242)" in result.stdout
    doc = json.loads(cli("--json", "lock", "show", "infra/prod").stdout)
    assert tuple(doc) == ("stack", "lockDir", "locked", "locks") and doc["locked"] is True
    assert doc["lockDir"] == f"{LOCKS_DIR}/organization/infra/prod"
    free = cli("lock", "show", "infra/free")
    assert free.exit_code == 0 and free.stdout.strip() == "infra/free: not locked"


def test_break_needs_yes_without_a_terminal(cli: Any) -> None:
    seed(cli.backend)
    result = cli("lock", "break", "infra/prod", "--older-than", "1h")
    assert result.exit_code == 2 and "pass --yes" in result.stderr and result.stdout == ""
    assert lock_ids(cli.backend) == {ID_OLD, ID_NEW, ID_DEAD}


def test_break_filters_dry_run_and_refusal(cli: Any) -> None:
    seed(cli.backend)
    dry = cli("--json", "lock", "break", "infra/prod", "--older-than", "1h", "--dry-run")
    assert dry.exit_code == 0 and dry.stderr == ""
    plan = json.loads(dry.stdout)
    assert tuple(plan) == ("stack", "dryRun", "matched", "removed", "skipped") and plan["dryRun"] is True
    assert [m["lockId"] for m in plan["matched"]] == [ID_OLD] and plan["removed"] == []
    assert lock_ids(cli.backend) == {ID_OLD, ID_NEW, ID_DEAD}

    none = cli("lock", "break", "infra/prod", "--user", "mallory", "--yes")
    assert none.exit_code == 12 and "none of the 2 lock(s) of stack infra/prod match (user mallory)" in none.stderr
    assert none.stdout == ""

    refused = cli("lock", "break", "infra/prod", "--user", "alice", "--yes")
    assert refused.exit_code == 4 and "not stale; nothing was removed" in refused.stderr and "--force" in refused.stderr
    assert lock_ids(cli.backend) == {ID_OLD, ID_NEW, ID_DEAD}

    removed = cli("lock", "break", "infra/prod", "--user", "ci", "--host", "runner-1", "--yes")
    assert removed.exit_code == 0 and removed.stderr == ""
    assert f"removed lock {ID_OLD} of infra/prod: ci@runner-1 (pid 4242), since" in removed.stdout
    assert lock_ids(cli.backend) == {ID_NEW, ID_DEAD}

    forced = cli("--json", "lock", "break", "infra/prod", "--force", "--yes")
    assert forced.exit_code == 0
    assert [r["lockId"] for r in json.loads(forced.stdout)["removed"]] == [ID_NEW]
    stale = cli("lock", "break", "infra/dev", "--yes")  # its pid is dead on this host: stale, no --force needed
    assert stale.exit_code == 0 and ID_DEAD in stale.stdout
    assert lock_ids(cli.backend) == set()
    empty = cli("lock", "break", "infra/prod", "--yes")
    assert empty.exit_code == 12 and "stack infra/prod has no locks" in empty.stderr


def test_wait_free_timeout_and_release(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    free = cli("--json", "lock", "wait", "infra/prod", "--timeout", "5s")
    assert free.exit_code == 0 and free.stderr == ""
    assert json.loads(free.stdout) == {"stack": "infra/prod", "free": True, "waitedSeconds": pytest.approx(0, abs=5),
                                       "polls": 1, "wasLocked": False}

    put(cli.backend, {key(ID_NEW): pulumi_lock(77, "alice", "laptop", ts(0))})
    timeout = cli("lock", "wait", "infra/prod", "--timeout", "1s", "--poll", "0.2s")
    assert timeout.exit_code == 11 and timeout.stdout == ""
    assert "waiting for infra/prod" in timeout.stderr and "locked by alice@laptop (pid 77)" in timeout.stderr
    assert "error: stack infra/prod is still locked after 1s" in timeout.stderr

    from pulumi_diy.locking import manage

    polled = threading.Event()
    real_load = manage.load_locks

    def spy(*args: Any, **kw: Any) -> Any:  # the real reader; it also tells us a poll saw the lock
        polled.set()
        return real_load(*args, **kw)

    def remove_after_first_poll() -> None:
        if polled.wait(30):
            time.sleep(0.3)
            cli.backend.store.delete(key(ID_NEW))

    monkeypatch.setattr(manage, "load_locks", spy)
    remover = threading.Thread(target=remove_after_first_poll, daemon=True)
    remover.start()
    waited = cli("lock", "wait", "infra/prod", "--timeout", "30s", "--poll", "0.2s")
    remover.join(5)
    assert waited.exit_code == 0, waited.stderr
    assert waited.stdout.startswith("infra/prod is not locked after ") and "waiting for infra/prod" in waited.stderr
    quiet = cli("--quiet", "lock", "wait", "infra/prod")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_backend_text_is_data_not_markup_and_every_lock_file_counts(cli: Any) -> None:
    from pulumi_diy.synth import SynthSpec, generate

    generate(cli.backend, SynthSpec(projects=["infra"], stacks=["prod"], resources=2, history=0))
    put(cli.backend, {key("a1"): pulumi_lock(4242, "deploy[bot]", "runner-[eu]:fire:", ts(1)),
                      key("a2"): b'{"pid":"[/x]","username":"u","hostname":"h","timestamp":"2026-01-01T00:00:00Z"}',
                      f"{LOCKS_DIR}/organization/infra/prod/NOTE.txt": b"hi"})
    r = cli("lock", "ls")
    assert r.exit_code == 0, r.output
    assert "deploy[bot]@runner-[eu]:fire:" in r.stdout and "[/x]" in r.stdout
    r = cli("stack", "ls")
    assert r.exit_code == 0 and "yes (3)" in r.stdout, r.output
    assert json.loads(cli("--json", "stack", "ls").stdout)[0]["locks"] == 3


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_signal_is_exit_130_and_json_on_stdout(sig: str, target_factory: Any, tmp_path: Path) -> None:
    import os
    import signal

    from pulumi_diy.synth import SynthSpec, generate

    target = target_factory("file")
    backend = target.open(use_cache=False)
    generate(backend, SynthSpec(projects=["infra"], stacks=["prod"], resources=2, history=0))
    put(backend, {key(ID_NEW): pulumi_lock(os.getpid(), "me", socket.gethostname(), ts(0))})
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")},
           "PULUMI_DIY_CACHE_DIR": str(tmp_path / "cache"), "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "pulumi_diy", "--backend", target.url, "--json", "lock", "wait",
                             "infra/prod", "--timeout", "5m"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stderr is not None
        assert "waiting for infra/prod" in proc.stderr.readline()  # started, handlers in place, waiting
        proc.send_signal(getattr(signal, sig))
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert json.loads(out)["error"]["code"] == 130
