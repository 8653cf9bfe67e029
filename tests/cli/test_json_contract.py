"""JSON, exit codes and environment variables as a contract.

- every command's `--json` output has exactly the paths and types documented in docs/json.md
  (observed on real runs, see scripts/cli_artifacts/jsondoc.py);
- under `--json` every error is `{"error": {"code", "name", "message"}}` on stdout, with the exit code;
- the README's exit-code table is `pulumi_diy.errors.ExitCode`, and its environment table names
  every variable config.py reads.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from pulumi_diy.errors import ExitCode
from tests.cli.contract_helpers import ROOT, SCRIPTS, make_backend
from tests.cli.helpers import run

sys.path.insert(0, str(SCRIPTS))
from cli_artifacts import docs, jsondoc
from cli_artifacts.model import load

TREE = load()
LEAVES = [c for c in TREE.walk() if c.path and not c.is_group]
DOC = (ROOT / "docs/json.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def outputs() -> dict[str, list[Any]]:
    return jsondoc.run_samples(TREE)


def test_every_command_is_documented() -> None:
    documented = jsondoc.parse_doc(DOC)
    assert sorted(documented) == sorted(c.name for c in LEAVES), "run scripts/gen_cli_artifacts.py docs/json.md"


@pytest.mark.parametrize("name", [c.name for c in LEAVES if c.name not in jsondoc.RAW])
def test_json_output_matches_the_documented_shape(name: str, outputs: dict[str, list[Any]]) -> None:
    documented = jsondoc.parse_doc(DOC).get(name)
    observed = jsondoc.schema(outputs[name])
    assert documented is not None, f"docs/json.md does not document `{name}`"
    added = {p: t for p, t in observed.items() if p not in documented}
    gone = {p: t for p, t in documented.items() if p not in observed}
    retyped = {p: (documented[p], t) for p, t in observed.items() if p in documented and documented[p] != t}
    assert not (added or gone or retyped), (
        f"`{name} --json` changed (added {added}, removed {gone}, retyped {retyped}): if intended, "
        "run scripts/gen_cli_artifacts.py docs/json.md and mention it in CHANGELOG.md")


def test_json_doc_is_current(outputs: dict[str, list[Any]]) -> None:
    assert jsondoc.render_doc(TREE, outputs) == DOC, "run scripts/gen_cli_artifacts.py docs/json.md"


def test_schema_inference() -> None:
    shape = jsondoc.schema([{"a": 1, "tags": {"x": "1"}, "n": None, "kids": [{"v": 1.5, "children": []}]},
                            {"a": 2, "tags": None, "n": "s", "kids": [], "m": {"k:v": 1}}])
    assert shape == {"$": "object", "$.a": "integer", "$.tags": "map or null", "$.tags{}": "string",
                     "$.n": "string or null", "$.kids": "array", "$.kids[]": "object", "$.kids[].v": "number",
                     "$.kids[].children": "array of `$.kids[]`", "$.m": "map", "$.m{}": "integer"}


# --- errors under --json ----------------------------------------------------------------------------------------


def _required_args(cmd: Any) -> list[str]:
    args = []
    for a in cmd.arguments:
        if a.required:
            args.append("1" if "VERSION" in a.metavar else "infra/prod")
    for p in cmd.options:
        if p.required and p.takes_value:
            args += [p.long[0] if p.long else p.opts[0], "passphrase"]
    return args


@pytest.mark.parametrize("cmd", LEAVES, ids=lambda c: c.name)
def test_errors_are_json_with_the_exit_code(cmd: Any, tmp_path: Path) -> None:
    argv = ["--json", "--backend", f"file://{tmp_path}/missing", *cmd.path, *_required_args(cmd)]
    r = run(argv, {"HOME": str(tmp_path), "PULUMI_DIY_CACHE_DIR": str(tmp_path / "cache"),
                   "PULUMI_CONFIG_PASSPHRASE": "x", "PULUMI_DIY_NEW_PASSPHRASE": "y"})
    if r.exit_code == 0:
        assert "error" not in json.loads(r.stdout) if r.stdout.strip() else True
        return
    doc = json.loads(r.stdout)
    assert set(doc) == {"error"} and set(doc["error"]) == {"code", "name", "message"}, r.stdout
    assert doc["error"]["code"] == r.exit_code
    assert isinstance(doc["error"]["name"], str) and isinstance(doc["error"]["message"], str)
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(("argv", "code", "name"), [
    (["--json", "--no-such-flag"], ExitCode.USAGE, "UsageError"),
    (["--json", "-P", "0", "stack", "ls"], ExitCode.USAGE, "UsageError"),
    (["--json"], ExitCode.USAGE, "UsageError"),
    (["--json", "stack", "no-such-command"], ExitCode.USAGE, "UsageError"),
    (["--json", "stack", "show"], ExitCode.USAGE, "UsageError"),
    (["--json", "stack", "ls", "--sort", "colour"], ExitCode.USAGE, "UsageError"),
    (["--json", "stack", "show", "nope/nope"], ExitCode.NOT_FOUND, "StackNotFound"),
    (["--json", "stack", "show", "not a stack"], ExitCode.USAGE, "InvalidStackReference"),
    (["lock", "show", "nope/nope", "--json", "--no-such-flag"], ExitCode.USAGE, "UsageError"),
])
def test_error_object_and_exit_code(argv: list[str], code: int, name: str, tmp_path: Path) -> None:
    url = make_backend(tmp_path / "backend", cache_dir=tmp_path / "cache")
    r = run(["--backend", url, *argv] if argv[0] == "--json" else argv,
            {"HOME": str(tmp_path), "PULUMI_DIY_CACHE_DIR": str(tmp_path / "cache"), "PULUMI_BACKEND_URL": url})
    assert r.exit_code == code, (r.stdout, r.stderr)
    error = json.loads(r.stdout)["error"]
    assert (error["code"], error["name"]) == (int(code), name) and error["message"]
    if argv == ["--json"]:
        return  # without --json that is `pulumi-diy` alone, which prints the help
    without = run([a for a in argv if a != "--json"], {"HOME": str(tmp_path), "PULUMI_BACKEND_URL": url,
                                                        "PULUMI_DIY_CACHE_DIR": str(tmp_path / "cache")})
    assert without.exit_code == code and without.stdout == "" and without.stderr


# --- the README tables ----------------------------------------------------------------------------------------


def test_readme_exit_code_table_is_the_exit_code_enum() -> None:
    table = dict(docs.readme_table("Exit codes"))
    assert sorted(int(c) for c in table) == sorted(int(c) for c in ExitCode)
    from pulumi_diy import errors

    meanings = getattr(errors, "EXIT_CODE_MEANINGS", None)
    if meanings is not None:
        assert {str(int(c)): m for c, m in meanings.items()} == table


def _config_variables() -> tuple[set[str], set[str]]:
    """(variables config.py reads, the Pulumi alternative names it falls back to)."""
    source = (ROOT / "src/pulumi_diy/config.py").read_text(encoding="utf-8")
    names = set(re.findall(r'"((?:PULUMI|NO)_[A-Z0-9_]+)"', source))
    alternatives = set(re.findall(r'_env_alt\(env, "[A-Z0-9_]+", "([A-Z0-9_]+)"\)', source))
    return names - alternatives, alternatives


def test_readme_environment_table_names_every_variable_read() -> None:
    documented = " ".join(name for name, _ in docs.readme_table("Environment variables"))
    listed = set(re.findall(r"`((?:PULUMI|NO)_[A-Z0-9_]+)`", documented))
    read, _ = _config_variables()
    assert read - listed == set(), "config.py reads variables the README's environment table does not list"
    assert listed - read == set(), "the README's environment table lists variables nothing reads"


def test_man_page_and_reference_carry_both_tables() -> None:
    man = (ROOT / "man/pulumi-diy.1").read_text(encoding="utf-8")
    reference = (ROOT / "docs/cli.md").read_text(encoding="utf-8")
    for code in ExitCode:
        assert f".B {int(code)}\n" in man and f"| {int(code)} |" in reference
    for name, _ in docs.readme_table("Environment variables"):
        for var in re.findall(r"`([A-Z][A-Z0-9_*]+)`", name):
            assert var in man and var in reference
