"""JSON, exit codes and environment variables as a contract.

- every command's `--json` output has exactly the paths and types documented in docs/json.md
  (observed on real runs, see scripts/cli_artifacts/jsondoc.py), no documented path is only ever
  null without a stated reason, and commands that write are sampled writing;
- outputs that are *not* the doc's samples (another synthetic backend, shaped differently, in both
  layouts, with writes on copies) print only documented paths with documented types, so a key added
  to a result without regenerating the doc fails here;
- under `--json` every error is `{"error": {"code", "name", "message"}}` on stdout, with the exit code;
- the README's exit-code table is `pulumi_diy.errors.ExitCode`, and its environment table names
  every variable config.py reads.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from dataclasses import dataclass, field
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
DOCUMENTED = jsondoc.parse_doc(DOC)
RESULT_COMMANDS = [c.name for c in LEAVES if c.name not in jsondoc.RAW]


@pytest.fixture(scope="module")
def outputs() -> dict[str, list[Any]]:
    return jsondoc.run_samples(TREE)


def test_every_command_is_documented() -> None:
    assert sorted(DOCUMENTED) == sorted(c.name for c in LEAVES), "run scripts/gen_cli_artifacts.py docs/json.md"


@pytest.mark.parametrize("name", RESULT_COMMANDS)
def test_json_output_matches_the_documented_shape(name: str, outputs: dict[str, list[Any]]) -> None:
    documented = DOCUMENTED.get(name)
    observed = jsondoc.schema(outputs[name], name)
    assert documented is not None, f"docs/json.md does not document `{name}`"
    added = {p: t for p, t in observed.items() if p not in documented}
    gone = {p: t for p, t in documented.items() if p not in observed}
    retyped = {p: (documented[p], t) for p, t in observed.items() if p in documented and documented[p] != t}
    assert not (added or gone or retyped), (
        f"`{name} --json` changed (added {added}, removed {gone}, retyped {retyped}): if intended, "
        "run scripts/gen_cli_artifacts.py docs/json.md and mention it in CHANGELOG.md")


def test_json_doc_is_current(outputs: dict[str, list[Any]]) -> None:
    assert jsondoc.render_doc(TREE, outputs) == DOC, "run scripts/gen_cli_artifacts.py docs/json.md"


@pytest.mark.parametrize("name", RESULT_COMMANDS)
def test_no_documented_path_is_null_or_empty_without_a_reason(name: str) -> None:
    documented = DOCUMENTED.get(name) or {}
    assert jsondoc.unexplained(name, documented) == []
    for path, why in jsondoc.ALWAYS_NULL.get(name, {}).items():
        assert f"- `{path}`: {why}." in DOC


@pytest.mark.parametrize("cmd", [c for c in LEAVES if any("--yes" in o.long for o in c.options)], ids=lambda c: c.name)
def test_commands_that_write_are_sampled_writing(cmd: Any) -> None:
    writes = [s for s in jsondoc.SAMPLES[cmd.name] if "--yes" in s.args and "--dry-run" not in s.args]
    assert writes, f"`{cmd.name}` has --yes but no sample that writes: its result after a write is undocumented"
    assert all(s.fresh for s in writes), "a sample that writes must run on a fresh copy of the backend"


def test_schema_inference() -> None:
    shape = jsondoc.schema([{"a": 1, "tags": {"x": "1"}, "n": None, "kids": [{"v": 1.5, "children": []}]},
                            {"a": 2, "tags": None, "n": "s", "kids": [], "m": {"k:v": 1}}])
    assert shape == {"$": "object", "$.a": "integer", "$.tags": "map or null", "$.tags{}": "string",
                     "$.n": "string or null", "$.kids": "array", "$.kids[]": "object", "$.kids[].v": "number",
                     "$.kids[].children": "array of `$.kids[]`", "$.m": "map", "$.m{}": "integer"}
    assert list(shape) == ["$", "$.a", "$.tags", "$.tags{}", "$.n", "$.kids", "$.kids[]", "$.kids[].v",
                           "$.kids[].children", "$.m", "$.m{}"]  # each path right after its parent
    data = jsondoc.schema([{"outputs": {"x": {"deep": [1]}, "y": 2}, "compression": {"gzip": 1}}], "backend info")
    assert data == {"$": "object", "$.outputs": "map", "$.outputs{}": "any", "$.compression": "map",
                    "$.compression{}": "integer"}
    assert jsondoc.schema([{"compression": {"value": None, "source": "unset"}}], "env")["$.compression"] == "object"


def test_an_undocumented_key_or_type_fails_the_check() -> None:
    documented = DOCUMENTED["lock wait"] or {}
    good = {"stack": "a/b", "free": True, "waitedSeconds": 1, "polls": 1, "wasLocked": False}
    assert jsondoc.check_output("lock wait", good, documented) == []  # an integer where a number is documented
    assert jsondoc.check_output("lock wait", {**good, "holder": "x"}, documented) == \
        ["$.holder (string) is not documented"]
    assert jsondoc.check_output("lock wait", {**good, "polls": None}, documented) == \
        ["$.polls is null, documented as integer"]


# --- real outputs that are not the doc's samples ----------------------------------------------------------------

OTHER_PASSPHRASE = "other-contract-pass"


@dataclass
class Other:
    """A backend shaped unlike the doc's samples: more stacks and resources, a salt per stack, zstd and
    indented files, tags with several keys, a deleted stack; settings files in ``config``."""

    root: Path
    config: Path
    home: Path

    def env(self, **extra: str | None) -> dict[str, str | None]:
        return {"HOME": str(self.home), "PULUMI_BACKEND_URL": f"file://{self.root}",
                "PULUMI_DIY_CACHE_DIR": str(self.home / "cache"), "PULUMI_CONFIG_PASSPHRASE": OTHER_PASSPHRASE,
                "PULUMI_DIY_NEW_PASSPHRASE": OTHER_PASSPHRASE + "-2", **extra}

    def copy(self, to: Path) -> Other:
        shutil.copytree(self.root.parent, to)
        return Other(to / self.root.name, to / self.config.name, to / self.home.name)


def _synth_other(base: Path, *, legacy: bool) -> Other:
    from pulumi_diy.backend.backend import open_backend
    from pulumi_diy.config import resolve_settings
    from pulumi_diy.synth import SynthSpec, generate, remove_stack

    other = Other(base / "backend", base / "config", base / "home")
    for d in (other.root, other.config, other.home):
        d.mkdir(parents=True)
    projects = ["app"] if legacy else ["app", "db"]
    spec = SynthSpec(projects=projects, stacks=["dev", "staging", "prod", "old"], resources=14, history=5, backups=3,
                     passphrase=OTHER_PASSPHRASE, seed=3, salt_per_stack=True, legacy=legacy,
                     compression={"app/staging": "zstd", "db/dev": "gzip"}, indented={"app/dev", "db/prod"},
                     stale_locks={"app/prod", "db/staging"}, pending={"app/staging"},
                     tags={"app/prod": {"team": "app", "tier": "gold", "owner:email": "a@example.com"}})
    settings = resolve_settings(environ={k: v for k, v in other.env().items() if v})
    with open_backend(settings=settings, use_cache=False) as backend:
        report = generate(backend, spec)
        for label, text in report.configs.items():  # both layouts: <config>/<project>/Pulumi.<stack>.yaml
            project, stack = label.split("/")
            (other.config / project).mkdir(exist_ok=True)
            (other.config / project / f"Pulumi.{stack}.yaml").write_text(text)
        remove_stack(backend, backend.resolve("old" if legacy else "app/old"))  # .bak and backups/ stay
    return other


@pytest.fixture(scope="module")
def others(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Other]:
    base = tmp_path_factory.mktemp("json-contract-others")
    return {"project": _synth_other(base / "project", legacy=False),
            "legacy": _synth_other(base / "legacy", legacy=True)}


@dataclass(frozen=True)
class Run:
    name: str  # the documented command whose table the output must fit
    args: tuple[str, ...]
    code: int = 0
    writes: bool = False  # on a copy of the backend
    layout: str = "project"
    env: dict[str, str | None] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.layout}: {' '.join(self.args)}"


def R(name: str, *args: str, **kw: Any) -> Run:
    return Run(name, args or tuple(name.split()), **kw)


CFG = "{config}"
WRONG = {"PULUMI_CONFIG_PASSPHRASE": "wrong"}
OTHER_RUNS = [
    R("env", env={"PULUMI_DIY_BACKEND_ZSTD": "1", "PULUMI_DIY_BACKEND_DISABLE_CHECKPOINT_BACKUPS": "true"}),
    R("backend info"), R("backend info", layout="legacy"),
    R("stack ls", "stack", "ls", "--project", "db", "--sort", "last-update"), R("stack ls", layout="legacy"),
    R("stack ls", "stack", "ls", "--tag", "owner:email"),
    R("stack deleted", "stack", "ls", "--deleted"), R("stack deleted", layout="legacy"),
    *(R("stack show", "stack", "show", s) for s in ("app/dev", "app/staging", "app/prod", "db/dev", "db/staging")),
    R("stack show", "stack", "show", "staging", layout="legacy"),
    R("stack resources", "stack", "resources", "app/prod"),
    R("stack resources", "stack", "resources", "db/prod", "--type", "random:*"),
    R("stack restore", "stack", "restore", "app/old", "--dry-run"),
    R("stack restore", "stack", "restore", "app/old", "--yes", writes=True),
    R("stack restore", "stack", "restore", "old", "--yes", writes=True, layout="legacy",
      env={"PULUMI_DIY_BACKEND_ZSTD": "true"}),
    R("lock ls", "lock", "ls", "--stale-after", "1h"), R("lock ls", "lock", "ls", "--project", "db"),
    R("lock show", "lock", "show", "db/staging"), R("lock show", "lock", "show", "prod", layout="legacy"),
    R("lock wait", "lock", "wait", "app/dev", "--timeout", "1s"),
    R("lock break", "lock", "break", "app/prod", "--dry-run"),
    R("lock break", "lock", "break", "db/staging", "--yes", writes=True),
    R("history ls", "history", "ls", "app/prod", "--limit", "2"), R("history ls", "history", "ls", "--all", "-p", "db"),
    R("history ls", "history", "ls", "prod", layout="legacy"),
    R("history show", "history", "show", "app/prod", "2"), R("history show", "history", "show", "db/dev", "latest"),
    R("history diff", "history", "diff", "app/prod", "1"),
    R("history diff", "history", "diff", "app/prod", "2", "4", "--show-secrets"),
    R("history diff", "history", "diff", "db/prod", "1", env=WRONG),
    R("history restore", "history", "restore", "app/prod", "2", "--dry-run"),
    R("history restore", "history", "restore", "app/staging", "1", "--yes", writes=True),
    R("history restore", "history", "restore", "dev", "1", "--yes", writes=True, layout="legacy",
      env={"PULUMI_DIY_BACKEND_GZIP": "true"}),
    R("history prune", "history", "prune", "--all", "--older-than", "1d", "--keep", "2", "--dry-run"),
    R("history prune", "history", "prune", "app/dev", "--keep", "2", "--yes", writes=True),
    R("secrets ls", "secrets", "ls", "db/prod", "--config-dir", CFG), R("secrets ls", "secrets", "ls", "app/dev"),
    R("secrets verify", "secrets", "verify", "--project", "db", "--config-dir", CFG),
    R("secrets verify", "secrets", "verify", "app/prod", code=int(ExitCode.SECRETS), env=WRONG),
    R("secrets rotate", "secrets", "rotate", "--project", "db", "--config-dir", CFG, "--dry-run"),
    R("secrets rotate", "secrets", "rotate", "db/dev", "--config-dir", CFG, "--yes", writes=True),
    R("secrets rotate", "secrets", "rotate", "staging", "--config-dir", CFG + "/app", "--yes", writes=True,
      layout="legacy"),
    R("secrets change-provider", "secrets", "change-provider", "db/dev", "--to", "default", "--dry-run"),
    R("secrets change-provider", "secrets", "change-provider", "db/prod", "--to", "passphrase", "--config-dir", CFG,
      "--yes", writes=True),
]


def test_other_runs_cover_every_command() -> None:
    assert sorted({r.name for r in OTHER_RUNS}) == sorted(RESULT_COMMANDS), \
        "add a run of the new command to OTHER_RUNS"


@pytest.mark.parametrize("r", OTHER_RUNS, ids=lambda r: r.id)
def test_real_outputs_print_only_documented_paths_and_types(r: Run, others: dict[str, Other],
                                                            tmp_path: Path) -> None:
    other = others[r.layout].copy(tmp_path / "copy") if r.writes else others[r.layout]
    args = [a.replace(CFG, str(other.config)) for a in r.args]
    result = run(["--json", *args], other.env(**r.env))
    assert result.exit_code == r.code, (result.stdout, result.stderr)
    documented = DOCUMENTED.get(r.name) or {}
    problems = jsondoc.check_output(r.name, json.loads(result.stdout), documented)
    assert problems == [], f"`pulumi-diy --json {' '.join(r.args)}` prints what docs/json.md does not say: " \
        "sample it in scripts/cli_artifacts/jsondoc.py and run scripts/gen_cli_artifacts.py docs/json.md"


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
    alternatives = set(re.findall(r'_env_alt\(\s*env,\s*"[A-Z0-9_]+",\s*"([A-Z0-9_]+)"\s*\)', source))
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
