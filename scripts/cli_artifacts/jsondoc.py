"""docs/json.md: the keys and types of every command's ``--json`` output, observed, not hand-written.

Each leaf command of the live tree runs against a synthetic file:// backend (``pulumi_diy.synth``)
with the invocations in :data:`SAMPLES`; the JSON it prints is folded into a table of paths and
types. A command that is in neither :data:`SAMPLES` nor :data:`RAW` makes generation fail, so a new
command cannot ship without its JSON documented. Objects whose keys are data (outputs, tags,
config, counters by kind) are documented as maps (``{}``), so the contract is the shape.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .model import PROG, Command

PASSPHRASE = "json-doc-passphrase"
STACKS = ("infra/dev", "infra/prod", "web/dev", "web/prod")
DELETED = "web/old"  # a stack that survives only in backups/, for `stack deleted` / `stack restore`

# Invocations per command (after `pulumi-diy --json`), run in this order; mutating ones use --dry-run
# or run last. Several invocations per command let optional keys and non-empty lists show up.
SAMPLES: dict[str, list[list[str]]] = {
    "env": [["env"]],
    "backend info": [["backend", "info"]],
    "stack ls": [["stack", "ls"], ["stack", "ls", "--tag", "team"]],
    "stack show": [["stack", "show", s] for s in STACKS],
    "stack resources": [["stack", "resources", "infra/prod"], ["stack", "resources", "web/dev", "--type", "aws:*"]],
    "stack deleted": [["stack", "deleted"]],
    "stack restore": [["stack", "restore", DELETED, "--dry-run"]],
    "lock ls": [["lock", "ls"]],
    "lock show": [["lock", "show", "web/prod"], ["lock", "show", "infra/prod"]],
    "lock wait": [["lock", "wait", "infra/prod", "--timeout", "1s"]],
    "lock break": [["lock", "break", "web/prod", "--dry-run"], ["lock", "break", "web/prod", "--yes"]],
    "history ls": [["history", "ls", "infra/prod"], ["history", "ls", "--all", "--limit", "5"]],
    "history show": [["history", "show", "infra/prod", "1"], ["history", "show", "infra/dev", "latest"]],
    "history diff": [["history", "diff", "infra/prod", "1", "2"], ["history", "diff", "infra/dev", "1"]],
    "history restore": [["history", "restore", "infra/prod", "1", "--dry-run"]],
    "history prune": [["history", "prune", "infra/prod", "--keep", "1", "--dry-run"]],
    "secrets ls": [["secrets", "ls", "infra/prod"]],
    "secrets verify": [["secrets", "verify", "infra/prod"]],
    "secrets rotate": [["secrets", "rotate", "web/dev", "--dry-run"]],
    "secrets change-provider": [["secrets", "change-provider", "web/dev", "--to", "passphrase", "--dry-run"]],
}
# Commands whose output is a document, not a result object.
RAW: dict[str, str] = {
    "stack export": "the stack's deployment exactly as `pulumi stack export` prints it",
    "history export": "the version's checkpoint as a `pulumi stack export` document",
}
# Said under a command's table.
NOTES: dict[str, str] = {"stack ls": "With `--deleted` the output is that of `stack deleted`."}
# Objects whose keys are data, by key name; and keys whose value is a list of the parent's shape.
MAPS = frozenset({"outputs", "resourcesByType", "tags", "compression", "otherFiles", "server", "environment",
                  "config", "configMasked", "resourceChanges", "inputs", "properties"})
RECURSIVE = frozenset({"children"})
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# --- the sample backend and the runs ----------------------------------------------------------------------

@contextmanager
def sample_environment() -> Iterator[dict[str, str | None]]:
    """A synthetic backend with locks, tags, pending operations, history, backups and a deleted stack."""
    from pulumi_diy.backend.backend import open_backend
    from pulumi_diy.config import resolve_settings
    from pulumi_diy.synth import SynthSpec, generate

    with tempfile.TemporaryDirectory(prefix="pulumi-diy-jsondoc-") as tmp:
        root = os.path.join(tmp, "backend")
        os.makedirs(root)
        env: dict[str, str | None] = {
            "HOME": tmp, "PULUMI_HOME": None, "PULUMI_BACKEND_URL": f"file://{root}",
            "PULUMI_DIY_CACHE_DIR": os.path.join(tmp, "cache"), "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_CONFIG_PASSPHRASE_FILE": None, "PULUMI_DIY_NEW_PASSPHRASE": PASSPHRASE + "-new",
            "PULUMI_DIY_NEW_PASSPHRASE_FILE": None, "NO_COLOR": "1", "PULUMI_DIY_PARALLEL": None,
        }
        for name in os.environ:  # the caller's Pulumi settings must not change the documented shapes
            if name.startswith("PULUMI_"):
                env.setdefault(name, None)
        spec = SynthSpec(projects=["infra", "web"], stacks=["dev", "prod", "old"], resources=5, history=3,
                         backups=2, passphrase=PASSPHRASE, stale_locks={"web/prod"}, pending={"infra/dev"},
                         tags={"infra/prod": {"team": "platform"}, "web/dev": {"team": "web"}},
                         compression={"web/dev": "gzip"})
        settings = resolve_settings(backend=f"file://{root}", environ={k: v for k, v in env.items() if v})
        generate(open_backend(settings=settings, use_cache=False), spec)
        project, name = DELETED.split("/")
        stacks = os.path.join(root, ".pulumi", "stacks", project)
        for f in os.listdir(stacks):  # `pulumi stack rm` leaves .bak and backups/ behind
            if f.startswith(name + ".") and not f.endswith(".bak"):
                os.remove(os.path.join(stacks, f))
        history = os.path.join(root, ".pulumi", "history", project, name)
        for f in os.listdir(history):
            os.remove(os.path.join(history, f))
        # Damage that shows the error keys: an unreadable checkpoint and a lock file that is not JSON.
        _write(os.path.join(root, ".pulumi", "stacks", "broken", "bad.json"), b"{not json")
        _write(os.path.join(root, ".pulumi", "locks", "organization", "infra", "dev", "corrupt-lock.json"), b"?")
        yield env


def _write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def run_samples(tree: Command) -> dict[str, list[Any]]:
    """command name -> the parsed JSON of each sample run. Fails on a command without a sample."""
    from typer.testing import CliRunner

    from pulumi_diy.cli import render
    from pulumi_diy.cli.app import app

    leaves = [c.name for c in tree.walk() if c.path and not c.is_group]
    missing = [n for n in leaves if n not in SAMPLES and n not in RAW]
    if missing:
        raise SystemExit(f"no JSON sample for {', '.join(missing)}: add invocations to SAMPLES (or RAW) in "
                         "scripts/cli_artifacts/jsondoc.py")
    outputs: dict[str, list[Any]] = {}
    with sample_environment() as env:
        for name in (n for n in SAMPLES if n in leaves):
            for args in SAMPLES[name]:
                render.reset()
                result = CliRunner().invoke(app, ["--json", *args], env=env)
                if result.exit_code != 0:
                    raise SystemExit(f"JSON sample `{PROG} --json {' '.join(args)}` exited {result.exit_code}:\n"
                                     f"{result.stdout}{result.stderr}")
                outputs.setdefault(name, []).append(json.loads(result.stdout))
    return outputs


# --- shapes -------------------------------------------------------------------------------------------------

def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}[type(value)]


def _is_map(key: str, value: dict[str, Any]) -> bool:
    return key in MAPS or any(not _IDENT.fullmatch(k) for k in value)


def infer(value: Any, path: str = "$", out: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """path -> the set of JSON types seen there, over one value (call again to merge more values)."""
    out = {} if out is None else out
    out.setdefault(path, set()).add(_type(value))
    key = re.split(r"[.\[{]", path)[-1]
    if isinstance(value, list):
        for item in value:
            infer(item, path + "[]", out)
    elif isinstance(value, dict) and _is_map(key, value):
        out[path] = {"map" if t == "object" else t for t in out[path]}
        for item in value.values():
            infer(item, path + "{}", out)
    elif isinstance(value, dict):
        for k, v in value.items():
            if k in RECURSIVE and isinstance(v, list):
                out.setdefault(f"{path}.{k}", set()).add(f"array of `{path}`")
                for item in v:
                    infer(item, path, out)
            else:
                infer(v, f"{path}.{k}", out)
    return out


def type_text(types: set[str]) -> str:
    if {"integer", "number"} <= types:
        types = types - {"integer"}
    named = sorted(t for t in types if t != "null")
    return " or ".join(named + (["null"] if "null" in types else []))


def schema(values: list[Any]) -> dict[str, str]:
    found: dict[str, set[str]] = {}
    for v in values:
        infer(v, "$", found)
    return {path: type_text(types) for path, types in found.items()}


# --- the document -------------------------------------------------------------------------------------------

_INTRO = f"""# `{PROG} --json` output

<!-- Generated by scripts/gen_cli_artifacts.py from real runs of every command; do not edit. -->

Every command takes `--json` (a global flag: `{PROG} --json stack ls`; the `lock` commands also
accept it after the command). The result goes to stdout as one JSON document; progress and
diagnostics stay on stderr. The tables below list every path in each command's output and the
JSON types seen there: `$` is the document, `.key` a key of an object, `[]` the items of an array,
`{{}}` the values of a map (an object whose keys are data, such as outputs, tags or config keys).
The types are the ones observed in the sample runs listed under each command: `null` alone means
no sample had a value there, and an `array` without item rows means every sample's list was empty.
Keys are only ever added in a minor release; a key listed here is not removed or retyped without a
major version.

## Errors

Under `--json` an error is a JSON object on stdout, with the same exit code as without `--json`
(see the exit status table in `docs/cli.md`):

| path | type |
| --- | --- |
| `$.error` | object |
| `$.error.code` | integer |
| `$.error.name` | string |
| `$.error.message` | string |

`name` is the error class (`StackNotFound`, `StackLocked`, `UsageError`, ...).
"""


def section(name: str, samples: list[list[str]], shape: dict[str, str]) -> str:
    runs = "\n".join(f"    {PROG} --json {' '.join(a)}" for a in samples)
    rows = "\n".join(f"| `{p}` | {t} |" for p, t in shape.items())
    note = f"\n{NOTES[name]}\n" if name in NOTES else ""
    return f"### `{name}`\n\nSampled with:\n\n{runs}\n\n| path | type |\n| --- | --- |\n{rows}\n{note}"


def render_doc(tree: Command, outputs: dict[str, list[Any]]) -> str:
    parts = [_INTRO, "## Commands\n"]
    for cmd in tree.walk():
        if not cmd.path or cmd.is_group:
            continue
        if cmd.name in RAW:
            parts.append(f"### `{cmd.name}`\n\nNot a JSON result: stdout is {RAW[cmd.name]}.\n")
        else:
            parts.append(section(cmd.name, SAMPLES[cmd.name], schema(outputs[cmd.name])))
    return "\n".join(parts)


def parse_doc(text: str) -> dict[str, dict[str, str] | None]:
    """docs/json.md -> command -> {path: type} (None for a raw-output command)."""
    out: dict[str, dict[str, str] | None] = {}
    for m in re.finditer(r"^### `([^`]+)`\n(.*?)(?=^### |\Z)", text, re.M | re.S):
        rows = dict(re.findall(r"^\| `([^`]+)` \| (.+?) \|$", m.group(2), re.M))
        out[m.group(1)] = rows or None
    return out


def json_doc(tree: Command) -> str:
    return render_doc(tree, run_samples(tree))
