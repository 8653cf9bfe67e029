"""`pulumi-diy history ...` and `stack restore/deleted` through Typer's CliRunner: exit codes, stdout and
stderr separately, the JSON contract, confirmation rules and secrets never leaking."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from pulumi_diy.backend.backend import open_backend
from pulumi_diy.backend.layout import StackRef
from pulumi_diy.cli import render
from pulumi_diy.cli.app import app
from pulumi_diy.config import resolve_settings
from pulumi_diy.history import export_version, list_versions
from pulumi_diy.synth import SynthSpec, generate

PASSPHRASE = "demo-passphrase"
REF = StackRef("app", "dev")
PULUMI_KEYS = ["version", "kind", "startTime", "message", "environment", "config", "result", "endTime",
               "resourceChanges"]
OUR_KEYS = ["stack", "id", "duration", "user", "userEmail", "gitHead", "gitBranch", "gitDirty", "ciSystem",
            "ciBuildId", "ciBuildNumber", "ciBuildType", "ciBuildUrl", "ciPrNumber", "pulumiVersion",
            "historyKey", "checkpointKey", "checkpointSize", "error"]


@pytest.fixture
def url(tmp_path: Path) -> str:
    root = tmp_path / "state"
    root.mkdir()
    backend = open_backend(f"file://{root}", use_cache=False)
    generate(backend, SynthSpec(projects=["app"], stacks=["dev", "prod"], resources=10, history=4, backups=4,
                                passphrase=PASSPHRASE))
    return f"file://{root}"


def backend_of(url: str) -> Any:
    return open_backend(settings=resolve_settings(backend=url, environ={}), use_cache=False)


def run(url: str, *args: str, passphrase: bool = False, json_out: bool = False) -> Any:
    render.reset()
    env = {"PULUMI_CONFIG_PASSPHRASE": PASSPHRASE if passphrase else None,
           "PULUMI_CONFIG_PASSPHRASE_FILE": None, "PULUMI_BACKEND_URL": None, "NO_COLOR": "1"}
    argv = ["--backend", url, "--no-cache", *(["--json"] if json_out else []), *args]
    return CliRunner().invoke(app, argv, env=env, catch_exceptions=False)


def test_ls_json_contract_newest_first(url: str) -> None:
    r = run(url, "history", "ls", "app/dev", "--limit", "3", json_out=True)
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [row["version"] for row in rows] == [4, 3, 2]
    assert list(rows[0]) == PULUMI_KEYS + OUR_KEYS
    assert rows[0]["startTime"].endswith(".000Z") and rows[0]["config"]["app:dbPassword"] == {"secret": True}
    assert "v1:" not in r.stdout  # no ciphertext (nor plaintext) of secure config in the listing
    assert r.stderr == ""


def test_ls_human_and_all(url: str) -> None:
    r = run(url, "history", "ls", "app/dev")
    assert r.exit_code == 0 and r.stderr == ""
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["VERSION", "KIND", "RESULT"]
    assert [line.split()[0] for line in lines[1:]] == ["4", "3", "2", "1"]
    feed = run(url, "history", "ls", "--all", "--since", "100000d", "--project", "app", "--limit", "5",
               json_out=True)
    rows = json.loads(feed.stdout)
    assert len(rows) == 5 and {row["stack"] for row in rows} == {"app/dev", "app/prod"}
    assert rows == sorted(rows, key=lambda row: int(row["id"]), reverse=True)


@pytest.mark.parametrize("args", [["history", "ls"], ["history", "ls", "app/dev", "--all"],
                                  ["history", "ls", "app/dev", "--since", "7d"],
                                  ["history", "ls", "--all", "--since", "soon"],
                                  ["history", "prune", "app/dev"], ["history", "show", "app/dev", "0"]])
def test_usage_errors_exit_2(url: str, args: list[str]) -> None:
    r = run(url, *args)
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith("error: ")


def test_unknown_version_exits_3(url: str) -> None:
    r = run(url, "history", "show", "app/dev", "9", json_out=True)
    assert r.exit_code == 3
    assert json.loads(r.stdout)["error"]["name"] == "VersionNotFound"


def test_show_masks_config(url: str) -> None:
    r = run(url, "history", "show", "app/dev", "-1", passphrase=True)
    assert r.exit_code == 0, r.stderr
    assert "Version       3 of 4" in r.stdout and "app:dbPassword  [secret]" in r.stdout
    assert "pw-app-dev" not in r.stdout and "v1:" not in r.stdout
    d = json.loads(run(url, "history", "show", "app/dev", "2", json_out=True).stdout)
    assert d["version"] == 2 and d["configMasked"]["app:dbPassword"] == "[secret]"
    assert d["checkpoint"]["resourceCount"] == 6


def test_export_versions(url: str, tmp_path: Path) -> None:
    backend = backend_of(url)
    r = run(url, "history", "export", "app/dev", "-1")
    assert r.exit_code == 0 and r.stdout_bytes == export_version(backend, REF, 3)
    assert json.loads(r.stdout)["deployment"]["resources"]
    out = tmp_path / "v2.json"
    r = run(url, "history", "export", "app/dev", "2", "--file", str(out), "--show-secrets", passphrase=True)
    assert r.exit_code == 0 and r.stdout == "" and "exported" in r.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    doc = json.loads(out.read_bytes())
    assert "pw-app-dev" in out.read_text() and '"plaintext"' in out.read_text()
    assert doc["deployment"]["secrets_providers"]["type"] == "passphrase"
    no_key = run(url, "history", "export", "app/dev", "2", "--show-secrets")
    assert no_key.exit_code == 7 and "passphrase" in no_key.stderr


def test_diff_human_and_json(url: str) -> None:
    r = run(url, "history", "diff", "app/dev", "1", "2")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0] == "app/dev: version 1 -> version 2"
    assert "added" in r.stdout and "not compared" in r.stdout
    d = json.loads(run(url, "history", "diff", "app/dev", "1", "2", passphrase=True, json_out=True).stdout)
    assert d["old"]["label"] == "version 1" and d["new"]["label"] == "version 2"
    assert d["summary"]["add"] == 2 and d["summary"]["notCompared"] == 0  # compared by plaintext
    current = json.loads(run(url, "history", "diff", "app/dev", "latest", json_out=True).stdout)
    assert current["new"]["label"] == "current" and current["summary"]["add"] == 0
    shown = run(url, "history", "diff", "app/dev", "1", "2", "--show-secrets")
    assert shown.exit_code == 7  # --show-secrets needs the key; no terminal to ask on


def test_restore_needs_confirmation_then_writes(url: str) -> None:
    before = export_version(backend_of(url), REF, "current")
    r = run(url, "history", "restore", "app/dev", "2")
    assert r.exit_code == 2 and "--yes" in r.stderr
    assert export_version(backend_of(url), REF, "current") == before
    dry = run(url, "history", "restore", "app/dev", "2", "--dry-run")
    assert dry.exit_code == 0 and "dry run: nothing written" in dry.stdout
    r = run(url, "history", "restore", "app/dev", "2", "--yes", json_out=True)
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["written"] and d["version"] == 2 and d["save"]["backup"].startswith(".pulumi/backups/app/dev/")
    assert d["diff"]["summary"]["remove"] == 4
    assert export_version(backend_of(url), REF, "current") == export_version(backend_of(url), REF, 2)
    again = run(url, "history", "restore", "app/dev", "2", "--yes")
    assert again.exit_code == 0 and "nothing to do" in again.stdout


def test_prune(url: str) -> None:
    r = run(url, "history", "prune", "app/dev", "--keep", "2")
    assert r.exit_code == 2 and "--yes" in r.stderr
    dry = run(url, "history", "prune", "app/dev", "--keep", "2", "--dry-run", json_out=True)
    d = json.loads(dry.stdout)
    assert d["dryRun"] and d["entriesRemoved"] == 2 and d["backupsRemoved"] == 2 and d["files"] == 6
    assert len(list_versions(backend_of(url), REF).versions) == 4
    r = run(url, "history", "prune", "--all", "--older-than", "100000d", "--yes")
    assert r.exit_code == 0 and "nothing to remove" in r.stdout
    r = run(url, "history", "prune", "--all", "--keep", "1", "--yes")
    assert r.exit_code == 0, r.stderr
    assert "removed 6 history entries and 6 backup(s)" in r.stdout
    assert [v.version for v in list_versions(backend_of(url), REF).versions] == [1]


def stack_app() -> typer.Typer:
    from pulumi_diy.cli import app as root
    from pulumi_diy.cli.stack_restore import register

    t = typer.Typer(cls=root._ErrorBoundary)
    t.callback()(lambda: None)
    register(t)
    return t


def run_stack(url: str, *args: str) -> Any:
    render.reset()
    env = {"PULUMI_BACKEND_URL": url, "PULUMI_DIY_CACHE_DIR": None, "NO_COLOR": "1"}
    return CliRunner().invoke(stack_app(), list(args), env=env, catch_exceptions=False)


def test_stack_deleted_and_restore(url: str) -> None:
    backend = backend_of(url)
    last = export_version(backend, REF, "current")
    obj = backend.current_object(REF)
    backend.store.copy(obj.key, obj.key + ".bak")  # what `pulumi stack rm` does
    backend.store.delete(obj.key)
    for o in backend.store.list(backend.layout.history_dir(REF)):
        backend.store.delete(o.key)

    r = run_stack(url, "deleted")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[1].split()[0] == "app/dev"
    assert run_stack(url, "restore", "app/dev").exit_code == 2  # needs --yes without a terminal
    dry = run_stack(url, "restore", "app/dev", "--dry-run")
    assert dry.exit_code == 0 and "restore from bak copy bak" in dry.stdout and "dry run" in dry.stdout
    bad = run_stack(url, "restore", "app/dev", "--from-backup", "123")
    assert bad.exit_code == 3 and "available" in bad.stderr
    r = run_stack(url, "restore", "app/dev", "--yes")
    assert r.exit_code == 0 and "restored: wrote .pulumi/stacks/app/dev.json" in r.stdout
    assert export_version(backend_of(url), REF, "current") == last
    exists = run_stack(url, "restore", "app/dev", "--yes")
    assert exists.exit_code == 14 and "history restore" in exists.stderr


@pytest.mark.parametrize("command", ["ls", "show", "export", "diff", "restore", "prune"])
def test_help_ends_with_an_example(command: str) -> None:
    r = CliRunner().invoke(app, ["history", command, "--help"])
    assert r.exit_code == 0
    assert "Example: pulumi-diy history " in r.stdout


def test_partial_failures_and_bad_output_paths_have_their_exit_codes(url: str, tmp_path: Path) -> None:
    backend = backend_of(url)
    with backend.lock(StackRef("app", "prod"), reason="someone else"):  # held during the prune
        r = run(url, "history", "prune", "--all", "--keep", "1", "--yes")
    assert r.exit_code == 4, (r.stdout, r.stderr)  # app/prod was locked: not a success
    assert len(list_versions(backend_of(url), REF).versions) == 1  # app/dev was pruned all the same
    assert len(list_versions(backend_of(url), StackRef("app", "prod")).versions) == 4
    entry = list_versions(backend, REF).versions[-1].history
    backend.store.write(entry.key, b'{"version":1,"kind":"up"')  # truncated
    r = run(url, "history", "show", "app/dev", "latest")
    assert r.exit_code == 5 and r.stderr.startswith("error: ") and "invalid JSON" in r.stderr, r.stderr
    r = run(url, "history", "show", "app/dev", "latest", json_out=True)
    assert r.exit_code == 5 and json.loads(r.stdout)["error"]
    r = run(url, "history", "export", "app/dev", "latest", "--file", str(tmp_path / "missing" / "x.json"))
    assert r.exit_code == 2 and f"cannot write {tmp_path / 'missing' / 'x.json'}" in r.stderr, r.stderr
