"""Running the CLI in-process with stdout and stderr kept apart."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from typer.testing import CliRunner, Result

from pulumi_diy.cli import render
from pulumi_diy.cli.app import app


def run(args: Sequence[str], env: Mapping[str, str | None] | None = None, input: str | None = None) -> Result:
    render.reset()
    base: dict[str, str | None] = {"PULUMI_BACKEND_URL": None, "PULUMI_CONFIG_PASSPHRASE": None,
                                   "PULUMI_CONFIG_PASSPHRASE_FILE": None, "NO_COLOR": "1"}
    base.update(env or {})
    return CliRunner().invoke(app, list(args), env=base, input=input, catch_exceptions=False)


def run_json(args: Sequence[str], env: Mapping[str, str | None] | None = None, code: int = 0) -> Any:
    result = run(["--json", *args], env)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return json.loads(result.stdout)
