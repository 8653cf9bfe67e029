"""Shared by the CLI contract tests: a synthetic backend, the CLI as a subprocess, tools that may be missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
PASSPHRASE = "contract-pass"
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_tool(name: str, *, ci: bool = True) -> str:
    """The path of an executable; skipped with a reason when missing (a failure under CI=true if ``ci``)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (scripts/bootstrap installs it)"
        if ci and IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def make_backend(root: Path, *, cache_dir: Path) -> str:
    """A realistic file:// backend: 2 projects x 2 stacks, history, backups, a stale lock on web/prod."""
    from pulumi_diy.backend.backend import open_backend
    from pulumi_diy.config import resolve_settings
    from pulumi_diy.synth import SynthSpec, generate

    root.mkdir(parents=True, exist_ok=True)
    url = f"file://{root}"
    spec = SynthSpec(projects=["infra", "web"], stacks=["dev", "prod"], resources=4, history=3, backups=2,
                     passphrase=PASSPHRASE, stale_locks={"web/prod"}, tags={"infra/prod": {"team": "platform"}})
    settings = resolve_settings(backend=url, environ={"PULUMI_DIY_CACHE_DIR": str(cache_dir), "HOME": str(root)})
    generate(open_backend(settings=settings, use_cache=False), spec)
    return url


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment for a pulumi-diy subprocess: this checkout's sources, no user settings."""
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(PYTHONPATH=str(ROOT / "src"), HOME=str(home), PULUMI_DIY_CACHE_DIR=str(home / "cache"),
               PYTHONDONTWRITEBYTECODE="1")
    env.update(extra)
    return env


def run_cli(args: Sequence[str], env: Mapping[str, str], *, python_flags: Sequence[str] = (),
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *python_flags, "-m", "pulumi_diy", *args], env=dict(env),
                          capture_output=True, text=True, timeout=timeout, check=False)


def complete(line: str, env: Mapping[str, str], protocol: str = "lines",
             python_flags: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """Ask the program for completions of ``line`` (the text left of the cursor)."""
    extra = {"_PULUMI_DIY_COMPLETE": f"complete_{protocol}", "_TYPER_COMPLETE_ARGS": line}
    if protocol == "bash":
        words = line.split()
        extra = {"_PULUMI_DIY_COMPLETE": "complete_bash", "COMP_WORDS": line,
                 "COMP_CWORD": str(len(words) if line.endswith(" ") else len(words) - 1)}
    return run_cli([], {**env, **extra}, python_flags=python_flags)


def bin_dir(tmp: Path) -> Path:
    """A directory with a `pulumi-diy` executable that runs this checkout (for the shells to call)."""
    d = tmp / "bin"
    d.mkdir(exist_ok=True)
    exe = d / "pulumi-diy"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pulumi_diy "$@"\n')
    exe.chmod(0o755)
    return d
