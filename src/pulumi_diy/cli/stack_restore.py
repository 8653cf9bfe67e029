"""`pulumi-diy stack restore` and `stack deleted` (also behind `stack ls --deleted`): stacks that
`pulumi stack rm` deleted but whose `.bak`, retained or `backups/` copies survive."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from . import render
from .common import BackupOpt, DeletedStackArg, resolve_stack
from .context import app_context
from .render import history as views

if TYPE_CHECKING:
    from ..history import StackRestoreResult


def show_deleted(ctx: typer.Context) -> None:
    """Print the deleted stacks (what `stack ls --deleted` shows)."""
    from ..history import list_deleted_stacks

    actx = app_context(ctx)
    render.emit(actx, list_deleted_stacks(actx.backend()), views.deleted_table)


def deleted(ctx: typer.Context) -> None:
    """List stacks that only survive in .bak, retained or backups/ copies (deleted, or renamed away).

    Two listings, no reads. Restore one with `pulumi-diy stack restore`.

    Example: pulumi-diy stack deleted
    """
    show_deleted(ctx)


def restore(
    ctx: typer.Context,
    stack: DeletedStackArg,
    from_backup: BackupOpt = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Show what would be restored; write nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Bring back a deleted stack from its newest surviving copy (or --from-backup TIMESTAMP), under the
    stack lock. Refuses when the stack exists (use `history restore` to roll an existing stack back).
    Pulumi.<stack>.yaml is not stored in the backend and is not restored.

    Example: pulumi-diy stack restore infra/old-dev --from-backup 1759312345678901234 --dry-run
    """
    from ..history import restore_deleted_stack

    actx = app_context(ctx)

    def confirm(plan: StackRestoreResult) -> bool:
        if not yes and actx.interactive() and not actx.json:
            views.stack_restore_result(render.console(actx, stderr=True), plan)
        question = f"Restore stack {plan.ref} from {plan.source.kind} copy {plan.source.id}?"
        return actx.confirm(question, yes=yes)

    result = restore_deleted_stack(actx.backend(), resolve_stack(actx, stack), source=from_backup,
                                   dry_run=dry_run, confirm=confirm)
    render.emit(actx, result, views.stack_restore_result)


def register(app: typer.Typer) -> None:
    """Add `restore` and `deleted` to the `stack` command group."""
    app.command("restore")(restore)
    app.command("deleted")(deleted)
