"""`pulumi-diy backend ...`."""

from __future__ import annotations

import typer

from . import render
from .context import app_context
from .render import backend as views

app = typer.Typer(help="Describe the backend itself.", no_args_is_help=True)


@app.command("info")
def info(ctx: typer.Context) -> None:
    """Show the backend: URL (credentials redacted), storage kind, layout, meta.yaml version, counts of
    projects, stacks, history entries, backups and locks, bytes, compression in use, legacy files.

    Example: pulumi-diy --backend s3://my-state backend info --json
    """
    from ..info import backend_info

    actx = app_context(ctx)
    render.emit(actx, backend_info(actx.backend()), views.backend_info)
