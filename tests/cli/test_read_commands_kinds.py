"""Every read-side command against every storage kind, through Typer's CliRunner.

One backend (two projects, history, backups, locks, tags, three compressions) is generated on local
files and copied byte for byte to each kind; each command must then exit 0 with the same JSON on
stdout as on local files (kind-specific fields aside) and nothing on stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pulumi_diy.synth import SynthSpec, generate
from tests.backends import BackendTarget, make_target, unreachable_target
from tests.cli.helpers import run
from tests.storage.test_interop import copy_backend

SPEC = dict(projects=["infra", "web.app"], stacks=["dev", "prod-eu"], resources=7, history=3, backups=2,
            passphrase="kinds", compression={"web.app/dev": "gzip", "web.app/prod-eu": "zstd"},
            stale_locks={"infra/prod-eu"}, tags={"infra/dev": {"team": "platform"}}, pending={"infra/dev"})

# (command line, stdout is JSON) -- `--json` goes before the command (a global option).
COMMANDS: list[tuple[list[str], bool]] = [
    (["stack", "ls"], True),
    (["stack", "ls", "--project", "web.app", "--sort", "resources"], True),
    (["stack", "show", "infra/dev"], True),
    (["stack", "resources", "web.app/prod-eu"], True),
    (["stack", "export", "web.app/dev"], False),
    (["stack", "export", "web.app/prod-eu"], False),
    (["backend", "info"], True),
    (["history", "ls", "infra/dev"], True),
    (["lock", "ls"], True),
]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> BackendTarget:
    root = tmp_path_factory.mktemp("cli-source") / "state"
    root.mkdir()
    src = BackendTarget("file", f"file://{root}", {}, str(root.parent))
    generate(src.open(use_cache=False), SynthSpec(**SPEC))
    return src


def cli(target: BackendTarget, args: list[str], *, as_json: bool = True) -> Any:
    env = {**target.env, "PULUMI_DIY_CACHE_DIR": f"{target._tmp}/cli-cache", "HOME": target._tmp}
    return run([*(["--json"] if as_json else []), "--backend", target.url, *args], env)


def ok(target: BackendTarget, args: list[str], *, as_json: bool = True) -> Any:
    result = cli(target, args, as_json=as_json)
    assert result.exit_code == 0, (target.kind, args, result.stdout, result.stderr)
    assert result.stderr == "", (target.kind, args, result.stderr)
    return json.loads(result.stdout) if as_json else result.stdout_bytes


def _comparable(args: list[str], out: Any) -> Any:
    """Drop what must differ between kinds: where the backend is, and object mtimes."""
    if args[:2] == ["backend", "info"]:
        return {k: v for k, v in out.items() if k not in ("url", "kind", "root", "server")}
    if args[:2] == ["stack", "ls"]:
        return [{k: v for k, v in row.items() if k != "modified"} for row in out]
    return _scrub(out)


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in ("modified", "url", "lockUrl", "file", "ageSeconds")}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


@pytest.fixture
def copied(source: BackendTarget, target: BackendTarget) -> BackendTarget:
    copy_backend(source, target)
    return target


def test_read_commands_match_local_files(source: BackendTarget, copied: BackendTarget) -> None:
    for args, as_json in COMMANDS:
        expected = ok(source, args, as_json=as_json)
        got = ok(copied, args, as_json=as_json)
        if as_json:
            assert _comparable(args, got) == _comparable(args, expected), (copied.kind, args)
        else:
            assert got == expected, (copied.kind, args)  # `stack export` is byte-identical


def test_stack_ls_content(copied: BackendTarget) -> None:
    rows = ok(copied, ["stack", "ls"])
    assert [r["name"] for r in rows] == ["infra/dev", "infra/prod-eu", "web.app/dev", "web.app/prod-eu"]
    by = {r["name"]: r for r in rows}
    assert by["web.app/dev"]["compression"] == "gzip" and by["web.app/prod-eu"]["compression"] == "zstd"
    assert by["infra/prod-eu"]["locks"] == 1 and by["infra/prod-eu"]["updateInProgress"] is True
    assert all(r["resourceCount"] == 7 and r["error"] is None for r in rows)
    again = ok(copied, ["stack", "ls"])  # second run: summaries come from the etag-keyed cache
    assert again == rows


def test_stack_show_and_export(copied: BackendTarget) -> None:
    details = ok(copied, ["stack", "show", "infra/dev"])
    assert json.dumps(details).count("infra") > 0
    exported = json.loads(ok(copied, ["stack", "export", "web.app/prod-eu"], as_json=False))
    assert exported["version"] == 3 and len(exported["deployment"]["resources"]) == 7


def test_backend_info_reports_kind_and_server(copied: BackendTarget) -> None:
    info = ok(copied, ["backend", "info"])
    assert (info["kind"], info["layout"], info["stacks"], info["projects"], info["locks"]) == \
        (copied.kind, "project", 4, 2, 1)
    server = info["server"]
    assert "error" not in server, server
    if copied.kind == "s3":
        assert (server["versioning"], server["region"], server["addressingStyle"]) == ("Disabled", "us-east-1", "path")
    elif copied.kind == "gcs":
        assert server["versioning"] == "Disabled" and server["endpoint"].startswith("http://127.0.0.1:")
    elif copied.kind == "azure":
        assert (server["account"], server["credential"]) == ("devstoreaccount1", "connection_string")
        assert server["versioning"] is None and "versioningNote" in server
    elif copied.kind == "postgres":
        assert server["table"].startswith("state_") and server["keyPrefix"] == "postgres"
        assert server["postgresVersion"].split(".")[0].isdigit() and server["tableBytes"] > 0
    else:
        assert server["path"] == copied.url[len("file://"):]


def test_backend_info_sees_s3_versioning(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    import boto3

    target = make_target("s3", request, tmp_path)  # moto implements PutBucketVersioning

    endpoint = target.url.split("endpoint=", 1)[1].split("&", 1)[0]
    bucket = target.url.split("://", 1)[1].split("/", 1)[0]
    boto3.client("s3", endpoint_url=endpoint).put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert ok(target, ["backend", "info"])["server"]["versioning"] == "Enabled"


def test_env_shows_the_redacted_url_and_its_source(target: BackendTarget) -> None:
    out = ok(target, ["env"])
    assert out["backend_url"]["source"] == "--backend"
    assert out["backend_url"]["value"].split("://", 1)[0] == target.url.split("://", 1)[0]
    assert "****:****@" in out["backend_url"]["value"] or "@" not in target.url


def test_unreachable_backend_is_one_error_line(target: BackendTarget) -> None:
    if target.kind == "file":
        pytest.skip("local files have no server")
    dead = unreachable_target(target.kind, Path(target._tmp))
    result = cli(dead, ["stack", "ls"], as_json=False)
    assert result.exit_code == 8, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    as_json = cli(dead, ["stack", "ls"])
    assert as_json.exit_code == 8 and json.loads(as_json.stdout or as_json.stderr)["error"]["name"] == \
        "BackendUnreachable"


def test_missing_bucket_is_exit_10(target: BackendTarget, request: pytest.FixtureRequest) -> None:
    missing = make_target(target.kind, request, Path(target._tmp) / "gone", create=False)
    result = cli(missing, ["stack", "ls"], as_json=False)
    assert result.exit_code == 10, (result.stdout, result.stderr)
    assert result.stdout == "" and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
