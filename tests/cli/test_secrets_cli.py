"""`pulumi-diy secrets ls|verify|rotate|change-provider` through the CLI: exit codes, stdout vs stderr,
the JSON contract, and never a plaintext or passphrase in any output."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from tests.cli.helpers import run
from tests.storage.test_rekey import (
    NEW,
    OLD,
    make_backend,
    passphrase_key,
    plaintexts,
    settings_files,
    state_files,
)


@pytest.fixture
def setup(target_factory: Any, tmp_path: Path) -> dict[str, Any]:
    target = target_factory("file")
    backend, cfg, salt = make_backend(target, tmp_path)
    files = {**state_files(backend), **settings_files(cfg)}
    secrets = {
        p.strip('"') for ps in plaintexts(files, lambda k, sp: passphrase_key(OLD, salt)).values() for p in ps
    }
    assert "pw-infra-dev" in secrets
    env = {
        "PULUMI_BACKEND_URL": target.url,
        "PULUMI_DIY_CACHE_DIR": str(tmp_path / "cache"),
        "HOME": str(tmp_path),
    }
    return {"backend": backend, "cfg": cfg, "env": env, "secrets": secrets | {OLD, NEW}, "target": target}


def cli(setup: dict[str, Any], args: list[str], code: int = 0, **env: str) -> Result:
    result = run(args, {**setup["env"], **env})
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    for secret in setup["secrets"]:
        assert secret not in result.stdout and secret not in result.stderr, secret
    return result


@pytest.mark.parametrize("command", ["ls", "verify", "rotate", "change-provider"])
def test_help_ends_with_an_example(command: str) -> None:
    out = run(["secrets", command, "--help"]).stdout
    assert "Example: " in out and f"pulumi-diy secrets {command}" in out.split("Example: ", 1)[1]


def test_ls_needs_no_passphrase_and_shows_no_values(setup: dict[str, Any]) -> None:
    human = cli(setup, ["secrets", "ls", "infra/dev", "--config-dir", str(setup["cfg"])])
    assert "outputs.dbPassword" in human.stdout and "secure config infra:dbPassword" in human.stdout
    doc = json.loads(cli(setup, ["--json", "secrets", "ls", "infra/dev"]).stdout)
    assert set(doc) == {
        "stack",
        "checkpoint",
        "secretsProvider",
        "secrets",
        "plaintextSecrets",
        "settingsFile",
        "settingsProvider",
        "config",
    }
    assert {
        "urn": "urn:pulumi:dev::infra::pulumi:pulumi:Stack::infra-dev",
        "section": "outputs",
        "path": "dbPassword",
    } in doc["secrets"]
    assert doc["secretsProvider"]["type"] == "passphrase" and doc["settingsFile"] is None


def test_verify_reports_each_file_and_fails_with_the_wrong_passphrase(setup: dict[str, Any]) -> None:
    cfg = str(setup["cfg"])
    ok = cli(setup, ["secrets", "verify", "--all", "--config-dir", cfg], PULUMI_CONFIG_PASSPHRASE=OLD)
    assert "all secrets decrypt" in ok.stdout and "verifying 2 stack(s)" in ok.stderr
    doc = json.loads(
        cli(
            setup,
            ["--json", "secrets", "verify", "infra/dev", "--config-dir", cfg],
            PULUMI_CONFIG_PASSPHRASE=OLD,
        ).stdout
    )
    assert set(doc) == {"ok", "stacks", "unfinishedRotations", "warnings"} and doc["ok"] is True
    files = doc["stacks"][0]["files"]
    assert {f["kind"] for f in files} == {
        "history-checkpoint",
        "history",
        "backup",
        "bak",
        "current",
        "settings",
    }
    assert set(files[0]) == {"key", "kind", "secrets", "status", "provider", "error", "rotation"}
    assert all(f["status"] == "ok" and f["provider"]["type"] == "passphrase" for f in files)
    bad = cli(setup, ["secrets", "verify", "--project", "web"], 7, PULUMI_CONFIG_PASSPHRASE="wrong")
    assert "incorrect passphrase" in bad.stdout and "verification FAILED" in bad.stdout
    none = cli(setup, ["--json", "secrets", "verify", "web/dev"], 7)
    assert {f["status"] for f in json.loads(none.stdout)["stacks"][0]["files"]} == {"unchecked"}


def test_rotate_dry_run_confirmation_and_run(setup: dict[str, Any], tmp_path: Path) -> None:
    cfg = str(setup["cfg"])
    backend = setup["backend"]
    before = {o.key: backend.store.read(o.key) for o in backend.store.list(".pulumi", recursive=True)}
    plan = json.loads(
        cli(
            setup,
            ["--json", "secrets", "rotate", "--all", "--config-dir", cfg, "--dry-run"],
            PULUMI_CONFIG_PASSPHRASE=OLD,
        ).stdout
    )
    assert plan["status"] == "planned" and plan["files"] == 16 and plan["runId"] is None
    refused = cli(
        setup,
        ["secrets", "rotate", "--all", "--config-dir", cfg],
        2,
        PULUMI_CONFIG_PASSPHRASE=OLD,
        PULUMI_DIY_NEW_PASSPHRASE=NEW,
    )
    assert "pass --yes" in refused.stderr
    assert before == {o.key: backend.store.read(o.key) for o in backend.store.list(".pulumi", recursive=True)}
    new_file = tmp_path / "new.txt"
    new_file.write_text(f"  {NEW}\n")
    done = cli(
        setup,
        ["--json", "secrets", "rotate", "--all", "--config-dir", cfg, "--yes"],
        PULUMI_CONFIG_PASSPHRASE=OLD,
        PULUMI_DIY_NEW_PASSPHRASE_FILE=str(new_file),
    )
    doc = json.loads(done.stdout)
    assert set(doc) == {"runId", "operation", "status", "resumed", "seconds", "files", "stacks", "warnings"}
    assert doc["status"] == "done" and doc["operation"] == "rotate" and doc["files"] == 16
    stack = doc["stacks"][0]
    assert set(stack) == {
        "stack",
        "status",
        "target",
        "old",
        "new",
        "settingsFile",
        "settings",
        "rewrite",
        "files",
    }
    assert (
        stack["settings"]["encryptionsalt"].startswith("v1:") and stack["new"]["salt"] != stack["old"]["salt"]
    )
    assert "checking 2 stack(s)" in done.stderr
    cli(setup, ["secrets", "verify", "--all", "--config-dir", cfg], PULUMI_CONFIG_PASSPHRASE=NEW)
    cli(setup, ["secrets", "verify", "--all", "--config-dir", cfg], 7, PULUMI_CONFIG_PASSPHRASE=OLD)
    human = cli(
        setup,
        ["secrets", "rotate", "web/dev", "--yes"],
        PULUMI_CONFIG_PASSPHRASE=NEW,
        PULUMI_DIY_NEW_PASSPHRASE=OLD,
        PULUMI_DIY_NEW_PASSPHRASE_FILE="",
    )
    assert "rotate run" in human.stdout and "set in Pulumi.dev.yaml: encryptionsalt: v1:" in human.stdout
    assert "no --config-dir" in human.stderr


def test_change_provider_to_vault_and_back(setup: dict[str, Any], vault_addr: tuple[str, str]) -> None:
    import hvac

    client = hvac.Client(url=vault_addr[0], token=vault_addr[1])
    mount = f"transit-{uuid.uuid4().hex[:8]}"
    client.sys.enable_secrets_engine("transit", path=mount)
    client.secrets.transit.create_key(name="diy", mount_point=mount)
    cfg = str(setup["cfg"])
    vault = {"VAULT_ADDR": vault_addr[0], "VAULT_TOKEN": vault_addr[1]}
    url = f"hashivault://diy?engine={mount}"
    moved = json.loads(
        cli(
            setup,
            ["--json", "secrets", "change-provider", "--all", "--to", url, "--config-dir", cfg, "--yes"],
            PULUMI_CONFIG_PASSPHRASE=OLD,
            **vault,
        ).stdout
    )
    assert moved["operation"] == "change-provider" and all(s["new"]["url"] == url for s in moved["stacks"])
    assert set(moved["stacks"][0]["settings"]) == {"secretsprovider", "encryptedkey"}
    text = (setup["cfg"] / "infra" / "Pulumi.dev.yaml").read_text()
    assert text.startswith(f"secretsprovider: {url}\nencryptedkey: ") and "encryptionsalt" not in text
    cli(setup, ["secrets", "verify", "--all", "--config-dir", cfg], **vault)
    cli(
        setup,
        ["secrets", "change-provider", "infra/dev", "--to", "passphrase", "--config-dir", cfg, "--yes"],
        PULUMI_DIY_NEW_PASSPHRASE=NEW,
        **vault,
    )
    cli(setup, ["secrets", "verify", "infra/dev", "--config-dir", cfg], PULUMI_CONFIG_PASSPHRASE=NEW, **vault)


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["secrets", "change-provider", "--all", "--to", "rot13://x"], 2, "unknown secrets provider"),
        (["secrets", "change-provider", "--all", "--to", "service"], 2, "Pulumi Cloud"),
        (["secrets", "rotate", "infra/dev", "--all"], 2, "name one STACK"),
        (["secrets", "rotate"], 2, "name one STACK"),
        (["secrets", "rotate", "--resume", "--all"], 2, "--resume takes no"),
        (["secrets", "rotate", "--resume"], 12, "no unfinished rotation run"),
        (["secrets", "verify", "--project", "nope"], 12, "no stacks in project 'nope'"),
        (["secrets", "ls", "infra/nope"], 3, "no stack named infra/nope"),
    ],
)
def test_usage_and_lookup_errors(setup: dict[str, Any], args: list[str], code: int, message: str) -> None:
    result = cli(setup, args, code, PULUMI_CONFIG_PASSPHRASE=OLD)
    assert message in result.stderr and result.stdout == ""
    as_json = cli(setup, ["--json", *args], code, PULUMI_CONFIG_PASSPHRASE=OLD)
    assert json.loads(as_json.stdout)["error"]["code"] == code


def test_wrong_passphrase_rotation_exit_code_and_nothing_written(setup: dict[str, Any]) -> None:
    backend = setup["backend"]
    before = {o.key: backend.store.read(o.key) for o in backend.store.list(".pulumi", recursive=True)}
    result = cli(
        setup,
        ["secrets", "rotate", "--all", "--yes"],
        7,
        PULUMI_CONFIG_PASSPHRASE="wrong",
        PULUMI_DIY_NEW_PASSPHRASE=NEW,
    )
    assert "incorrect passphrase" in result.stderr
    assert before == {o.key: backend.store.read(o.key) for o in backend.store.list(".pulumi", recursive=True)}
