"""`pulumi-diy stack ...`: list, show, resources, export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import render
from .common import ProjectOpt, SortOpt, StackArg, resolve_stack, revealer
from .context import app_context
from .render import stacks as views

app = typer.Typer(help="Inspect stacks: list, show, resources, export.", no_args_is_help=True)


@app.command("ls")
def ls(
    ctx: typer.Context,
    project: ProjectOpt = None,
    tag: Annotated[list[str] | None, typer.Option(
        "--tag", "-t", metavar="NAME[=VALUE]", help="Only stacks with this tag (repeatable).")] = None,
    sort: SortOpt = "name",
    deleted: Annotated[bool, typer.Option(
        "--deleted", help="List stacks that only survive in .bak/backups (removed by `pulumi stack rm`).")] = False,
) -> None:
    """List every stack in the backend: last update, resources, locks, size.

    Names and sizes come from one listing; checkpoints are read concurrently and cached by etag,
    so a second run reads only what changed.

    Example: pulumi-diy stack ls --project infra --sort last-update
    """
    if deleted:
        from .stack_restore import show_deleted

        show_deleted(ctx)
        return
    from ..stacks import list_stacks

    actx = app_context(ctx)
    backend = actx.backend()
    with render.progress(actx, "Reading stacks") as advance:
        rows = list_stacks(backend, project=project, tags=tag or (), sort=sort, progress=advance)
    render.emit(actx, rows, views.stack_table)


@app.command("show")
def show(
    ctx: typer.Context,
    stack: StackArg,
    show_secrets: Annotated[bool, typer.Option("--show-secrets", help="Show secret outputs in plaintext.")] = False,
) -> None:
    """Summarise a stack: manifest, secrets provider, resources by type, outputs, providers, pending
    operations, tags, locks and history.

    Example: pulumi-diy stack show infra/prod
    """
    from ..stacks import show_stack

    actx = app_context(ctx)
    ref = resolve_stack(actx, stack)
    details = show_stack(actx.backend(), ref, reveal=revealer(actx) if show_secrets else None)
    render.emit(actx, details, views.stack_details)


@app.command("resources")
def resources(
    ctx: typer.Context,
    stack: StackArg,
    type_: Annotated[str | None, typer.Option(
        "--type", "-T", metavar="TYPE", help="Only resources of this type (glob patterns allowed).")] = None,
    urn_only: Annotated[bool, typer.Option("--urn-only", help="Print only URNs, one per line.")] = False,
) -> None:
    """Show the stack's resource tree by parent, with protect/external/delete/pending-replacement marks.

    Example: pulumi-diy stack resources infra/prod --type aws:s3/bucket:Bucket
    """
    from ..stacks import stack_resources

    actx = app_context(ctx)
    tree = stack_resources(actx.backend(), resolve_stack(actx, stack), type_filter=type_)
    if urn_only and not actx.json:
        views.urn_lines(render.console(actx), tree)
        return
    render.emit(actx, tree, views.resource_tree)


@app.command("export")
def export(
    ctx: typer.Context,
    stack: StackArg,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Write to this file instead of stdout.")] = None,
    show_secrets: Annotated[bool, typer.Option(
        "--show-secrets", help="Decrypt secrets (needs the passphrase or KMS access).")] = False,
) -> None:
    """Print the stack's deployment exactly as `pulumi stack export` does, ready for `pulumi stack import`.

    Example: pulumi-diy stack export infra/prod --file prod.json
    """
    from ..stacks import export_stack

    actx = app_context(ctx)
    data = export_stack(actx.backend(), resolve_stack(actx, stack), reveal=revealer(actx) if show_secrets else None,
                        on_warning=lambda message: render.warn(actx, message))
    if file is None:
        render.write_raw(data)
        return
    from ..files import write_private_file

    write_private_file(file, data, private=show_secrets)
    render.info(actx, f"exported {stack} to {file}")


def _register_restore() -> None:
    from .stack_restore import register

    register(app)  # `stack restore` and `stack deleted` live with the history code


_register_restore()
