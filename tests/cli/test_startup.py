"""Start-up stays light: `--help`, `--version` and completion requests import no cloud SDK, storage
driver, database driver, crypto or compression library (they load only when a command needs them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.contract_helpers import cli_env, complete, run_cli

HEAVY = ("boto3", "botocore", "s3fs", "gcsfs", "adlfs", "azure", "google", "psycopg", "psycopg_pool",
         "cryptography", "zstandard", "hvac", "fsspec", "aiohttp", "requests", "urllib3", "yaml", "ruamel",
         # Rich draws tables and progress bars; help and completion print plain text.
         "rich")
# Typer coerces every value through pydantic once a sub-command runs; completion reads the words as
# typed instead (cli/completion.py), which keeps a TAB at the cost of `--version`.
COMPLETION_HEAVY = (*HEAVY, "pydantic")


def imported(stderr: str) -> set[str]:
    """Top-level package names from `python -X importtime` output."""
    return {m.group(1).split(".")[0] for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)", stderr, re.M)}


def heavy(stderr: str, names: tuple[str, ...] = HEAVY) -> list[str]:
    return sorted(imported(stderr) & set(names))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("startup")
    return cli_env(home, PULUMI_BACKEND_URL="s3://state-bucket/prefix?region=eu-west-1")


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["stack", "--help"], ["lock", "--help"],
                                  ["history", "--help"], ["secrets", "--help"], ["stack", "ls", "--help"]],
                         ids=" ".join)
def test_help_and_version_import_nothing_heavy(env: dict[str, str], args: list[str]) -> None:
    r = run_cli(args, env, python_flags=["-X", "importtime"])
    if r.returncode == 2 and "No such command" in r.stdout + r.stderr:
        pytest.skip(f"no `{args[0]}` command in this tree")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "pulumi_diy" in imported(r.stderr), "importtime output not understood"
    assert heavy(r.stderr) == [], f"`pulumi-diy {' '.join(args)}` imports heavy modules"


@pytest.mark.parametrize("protocol", ["lines", "bash"])
@pytest.mark.parametrize("line", ["pulumi-diy stack show ", "pulumi-diy -b s3://state-bucket/prefix stack show i",
                                  "pulumi-diy -b file:///nonexistent stack show "])
def test_completion_requests_import_nothing_heavy(env: dict[str, str], line: str, protocol: str) -> None:
    r = complete(line, env, protocol=protocol, python_flags=["-X", "importtime"])
    assert r.returncode == 0, r.stderr[-2000:]
    assert "pulumi_diy" in imported(r.stderr)
    assert heavy(r.stderr, COMPLETION_HEAVY) == [], f"completing {line!r} imports heavy modules"


def test_the_heavy_list_is_detected(env: dict[str, str], tmp_path: Path) -> None:
    # The detector itself works: a command that opens an S3 backend does import the S3 stack.
    pytest.importorskip("s3fs")
    r = run_cli(["--json", "stack", "ls"], {**env, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
                                            "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"},
                python_flags=["-X", "importtime"], timeout=120)
    assert "s3fs" in heavy(r.stderr) or "fsspec" in heavy(r.stderr), r.stdout


def test_top_level_help_loads_no_command_group(env: dict[str, str]) -> None:
    # `--help` lists the groups from cli/app.py's LAZY_GROUPS; a group loads when it is used.
    r = run_cli(["--help"], env, python_flags=["-X", "importtime"])
    assert r.returncode == 0, r.stderr[-2000:]
    modules = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)", r.stderr, re.M))
    assert "pulumi_diy.cli.app" in modules
    assert not {f"pulumi_diy.cli.{m}" for m in ("stack", "backend_cmd", "lock", "history", "secrets",
                                                "render", "context")} & modules
    assert "secrets  Secrets: where they are" in r.stdout
    r = run_cli(["lock", "--help"], env, python_flags=["-X", "importtime"])
    modules = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)", r.stderr, re.M))
    assert "pulumi_diy.cli.lock" in modules and "pulumi_diy.cli.secrets" not in modules
