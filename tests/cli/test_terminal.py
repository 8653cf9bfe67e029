"""Terminal manners, checked on a real pseudo-terminal: colour only on a TTY and never with NO_COLOR,
tables that fit the window, progress hidden by --quiet/--json, and no prompt without a TTY."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from tests.cli.contract_helpers import cli_env, make_backend, run_cli
from tests.cli.helpers import run

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Commands that change the backend, with arguments that give them something to do on make_backend's store.
CONFIRMED = {
    "lock break": ["lock", "break", "web/prod"],
    "history restore": ["history", "restore", "infra/prod", "1"],
    "history prune": ["history", "prune", "infra/prod", "--keep", "1"],
    "secrets rotate": ["secrets", "rotate", "infra/dev"],
    "secrets change-provider": ["secrets", "change-provider", "infra/dev", "--to", "passphrase"],
    "stack restore": ["stack", "restore", "infra/gone"],
}


def on_tty(args: list[str], env: dict[str, str], cols: int = 80) -> tuple[int, str]:
    """Run pulumi-diy with stdin, stdout and stderr on one pseudo-terminal of ``cols`` columns."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "pulumi_diy", *args], stdin=follower, stdout=follower,
                            stderr=follower, env=env, close_fds=True)
    os.close(follower)
    out = b""
    while select.select([leader], [], [], 60)[0]:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    return proc.wait(timeout=60), out.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    home = tmp_path_factory.mktemp("terminal")
    url = make_backend(home / "backend", cache_dir=home / "cache")
    return url, cli_env(home, PULUMI_BACKEND_URL=url, TERM="xterm-256color")


def test_colour_on_a_terminal_only(backend: tuple[str, dict[str, str]]) -> None:
    _, env = backend
    code, out = on_tty(["stack", "ls"], env)
    assert code == 0 and ANSI.search(out), out
    for plain_env, args in (({"NO_COLOR": "1"}, ["stack", "ls"]), ({}, ["--no-color", "stack", "ls"])):
        code, out = on_tty(args, {**env, **plain_env})
        assert code == 0 and "web/prod" in out
        assert not re.search(r"\x1b\[[0-9;]*m", out), f"colour despite {plain_env or args[0]}"
    piped = run_cli(["stack", "ls"], env)
    assert piped.returncode == 0 and "\x1b" not in piped.stdout + piped.stderr


@pytest.mark.parametrize("args", [["stack", "ls"], ["lock", "ls"], ["history", "ls", "infra/prod"], ["env"]],
                         ids=" ".join)
def test_tables_fit_the_terminal(backend: tuple[str, dict[str, str]], args: list[str]) -> None:
    _, env = backend
    code, out = on_tty(args, {**env, "NO_COLOR": "1"}, cols=60)
    if code == 2 and "No such command" in out:
        pytest.skip(f"no `{args[0]}` command in this tree")
    assert code == 0, out
    widest = max(len(ANSI.sub("", line)) for line in out.splitlines())
    assert widest <= 60, out


def test_progress_is_hidden_by_quiet_and_json(backend: tuple[str, dict[str, str]]) -> None:
    _, env = backend
    code, out = on_tty(["--quiet", "stack", "ls"], {**env, "NO_COLOR": "1"})
    assert code == 0 and "Reading" not in out and "web/prod" in out
    code, out = on_tty(["--json", "stack", "ls"], env)
    assert code == 0
    assert [r["name"] for r in json.loads(ANSI.sub("", out.replace("\r\n", "\n")))][-1] == "web/prod"


def test_no_prompt_without_a_terminal(tmp_path: Path) -> None:
    """Every command that asks first fails without a TTY, naming --yes, and changes nothing."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from cli_artifacts.model import load

    asking = sorted(c.name for c in load().walk() if any("--yes" in p.opts for p in c.options))
    assert set(asking) <= set(CONFIRMED), f"add arguments for {set(asking) - set(CONFIRMED)} to CONFIRMED"
    url = make_backend(tmp_path / "backend", cache_dir=tmp_path / "cache")
    _deleted_stack(tmp_path / "backend")
    before = _snapshot(tmp_path / "backend")
    env = {"HOME": str(tmp_path), "PULUMI_DIY_CACHE_DIR": str(tmp_path / "cache"), "PULUMI_BACKEND_URL": url,
           "PULUMI_CONFIG_PASSPHRASE": "contract-pass", "PULUMI_DIY_NEW_PASSPHRASE": "next-pass"}
    for name in asking:
        r = run(CONFIRMED[name], env)
        assert r.exit_code == 2, (name, r.stdout, r.stderr)
        assert "--yes" in r.stderr, (name, r.stderr)
    assert _snapshot(tmp_path / "backend") == before


def _deleted_stack(root: Path) -> None:
    """infra/gone: a stack that survives only in backups/, as after `pulumi stack rm` (for `stack restore`)."""
    src, dest = root / ".pulumi/backups/infra/dev", root / ".pulumi/backups/infra/gone"
    dest.mkdir(parents=True)
    for f in src.iterdir():
        (dest / f.name.replace("dev.", "gone.", 1)).write_bytes(f.read_bytes())


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
