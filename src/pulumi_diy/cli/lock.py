"""`pulumi-diy lock ...`: list, show, break and wait for stack locks."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from ..durations import parse_duration
from ..errors import ExitCode
from . import render
from .common import LockIdOpt, OptionalStackArg, ProjectOpt, StackArg, resolve_stack
from .completion import complete_duration
from .context import AppContext, app_context
from .render import locks as views

app = typer.Typer(help="See every stack lock, break stale ones safely, wait for a stack to be free.",
                  no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="JSON on stdout (same as the global --json).")]
StaleOpt = Annotated[str, typer.Option(
    "--stale-after", metavar="DURATION", help="Call a lock stale when it is older than this.",
    autocompletion=complete_duration)]


def _context(ctx: typer.Context, json_output: bool) -> AppContext:
    actx = app_context(ctx)
    if json_output:
        actx.json = True
    return actx


@app.command("ls")
def ls(
    ctx: typer.Context,
    stack: OptionalStackArg = None,
    project: ProjectOpt = None,
    stale_after: StaleOpt = "2h",
    json_output: JsonOpt = False,
) -> None:
    """List every lock file in the backend (project and legacy layouts) with holder, age and a stale
    verdict: older than --stale-after, or held by a pid that no longer runs on this very host.
    Lock files that are not valid JSON are listed as corrupt. One listing of the whole locks tree.

    Example: pulumi-diy lock ls --project infra --stale-after 30m
    """
    from ..locking import list_locks

    actx = _context(ctx, json_output)
    seconds = parse_duration(stale_after, what="--stale-after")
    backend = actx.backend()
    ref = resolve_stack(actx, stack) if stack else None
    rows = list_locks(backend, ref, project=project, stale_after=seconds)
    render.emit(actx, rows, views.lock_table)


@app.command("show")
def show(
    ctx: typer.Context,
    stack: StackArg,
    stale_after: StaleOpt = "2h",
    json_output: JsonOpt = False,
) -> None:
    """Show the locks of one stack in detail: holder, pid, creation time, age, staleness, lock file URL.

    Example: pulumi-diy lock show infra/prod
    """
    from ..locking import show_locks

    actx = _context(ctx, json_output)
    seconds = parse_duration(stale_after, what="--stale-after")
    details = show_locks(actx.backend(), resolve_stack(actx, stack), stale_after=seconds)
    render.emit(actx, details, views.stack_locks)


@app.command("break")
def break_(
    ctx: typer.Context,
    stack: StackArg,
    lock_id: LockIdOpt = None,
    older_than: Annotated[str | None, typer.Option(
        "--older-than", metavar="DURATION", help="Only locks older than this (e.g. 2h).",
        autocompletion=complete_duration)] = None,
    user: Annotated[str | None, typer.Option("--user", metavar="USER", help="Only this user's locks.")] = None,
    host: Annotated[str | None, typer.Option("--host", metavar="HOST", help="Only this host's locks.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Also remove matching locks that are not stale.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would go; remove nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_output: JsonOpt = False,
) -> None:
    """Remove the stack's locks that match ALL the given filters, reporting each (who, since when).

    Without --lock-id or --older-than only stale locks go (old, or their pid is dead on this host);
    --force overrides that. Asks for confirmation unless --yes. Each lock is re-read just before
    deletion and left alone if it changed. Exit code 12 when no lock matched.

    Example: pulumi-diy lock break infra/prod --user ci --older-than 2h --yes
    """
    from ..locking import break_locks, remove_locks

    actx = _context(ctx, json_output)
    age = parse_duration(older_than, what="--older-than") if older_than is not None else None
    ref = resolve_stack(actx, stack)
    plan = break_locks(actx.backend(), ref, lock_id=lock_id, older_than=age, user=user, host=host,
                       force=force, dry_run=True)
    if dry_run:
        render.emit(actx, plan, views.break_result)
        return
    if not yes and not actx.json:
        views.break_plan(render.console(actx, stderr=True), plan)
    if not actx.confirm(f"Remove {len(plan.matched)} lock(s) of {ref}?", yes=yes):
        render.info(actx, "cancelled: nothing removed")  # declining is not a failure (as history restore)
        if actx.json:
            render.emit(actx, plan, views.break_result)
        return
    result = remove_locks(actx.backend(), plan)
    render.emit(actx, result, views.break_result)
    if any(k.reason.startswith("changed") for k in result.skipped):
        raise typer.Exit(int(ExitCode.CONFLICT))


@app.command("wait")
def wait(
    ctx: typer.Context,
    stack: StackArg,
    timeout: Annotated[str, typer.Option(
        "--timeout", metavar="DURATION", help="Give up after it.", autocompletion=complete_duration)] = "10m",
    poll: Annotated[str, typer.Option(
        "--poll", metavar="DURATION", help="Time between checks.", autocompletion=complete_duration)] = "5s",
    json_output: JsonOpt = False,
) -> None:
    """Wait until the stack has no lock: exit 0 as soon as it is free, exit 11 at the timeout.
    Progress goes to stderr. For CI jobs that queue behind a running `pulumi up`.

    Example: pulumi-diy lock wait infra/prod --timeout 30m --poll 10s && pulumi up --yes
    """
    from ..locking import LockInfo, wait_for_unlock

    actx = _context(ctx, json_output)
    limit = parse_duration(timeout, what="--timeout")
    interval = max(parse_duration(poll, what="--poll"), 0.05)
    ref = resolve_stack(actx, stack)
    last: dict[str, object] = {"ids": None, "at": 0.0}

    def on_poll(locks: list[LockInfo], elapsed: float) -> None:
        ids = tuple(sorted(lock.lock_id for lock in locks))
        # A line when the holders change and every 30 s otherwise: readable in CI logs.
        if ids != last["ids"] or time.monotonic() - float(last["at"]) >= 30:  # type: ignore[arg-type]
            last.update(ids=ids, at=time.monotonic())
            holders = ", ".join(f"{lock.lock_id} (corrupt)" if lock.corrupt else lock.owner for lock in locks)
            spent = f"{render.human_age(elapsed)} of {render.human_age(limit)}"
            render.info(actx, f"waiting for {ref} ({spent}): locked by {holders}")

    result = wait_for_unlock(actx.backend(), ref, limit, interval, on_poll=on_poll)
    render.emit(actx, result, views.wait_result)
