"""`pulumi-diy history ...`: list, show, export, diff, restore and prune a stack's checkpoint history."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import ExitCode
from . import render
from .common import StackArg, VersionArg, resolve_stack, revealer, secrets_manager_for
from .completion import complete_duration, complete_project, complete_stack
from .context import AppContext, app_context
from .render import history as views

if TYPE_CHECKING:
    from ..history import RestoreResult

app = typer.Typer(help="Browse a stack's checkpoint history: list, show, export, diff, restore, prune.",
                  no_args_is_help=True)

DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what would happen; write nothing.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
# Lets a VERSION like -1 through as an argument instead of an unknown option.
NEGATIVE_VERSIONS = {"ignore_unknown_options": True}


def quiet_keys(actx: AppContext) -> Any:
    """Secrets managers that never prompt: the passphrase only from PULUMI_CONFIG_PASSPHRASE[_FILE]."""
    from ..errors import PassphraseRequired
    from ..secrets import manager_from_secrets_providers
    from ..secrets.kms import key_wrapper_for_url
    from ..secrets.passphrase import read_passphrase

    s = actx.settings

    def passphrase() -> str:
        value = read_passphrase(s.passphrase.value, s.passphrase_file.value, s.cwd)
        if value is None:
            raise PassphraseRequired(
                "no passphrase in PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE")
        return value

    return lambda sp: manager_from_secrets_providers(
        sp, passphrase=passphrase, kms_factory=lambda url: key_wrapper_for_url(url, env=s.env),
        more_passphrases=[actx.old_passphrase])


def keys(actx: AppContext) -> Any:
    """Secrets managers unlocked like Pulumi does: environment, else a prompt on a terminal."""
    return lambda sp: secrets_manager_for(actx, sp)


@app.command("ls")
def ls(
    ctx: typer.Context,
    stack: Annotated[str | None, typer.Argument(
        metavar="[STACK]", help="project/stack; omit with --all.", autocompletion=complete_stack)] = None,
    all_stacks: Annotated[bool, typer.Option(
        "--all", "-a", help="Every stack's updates, newest first.")] = False,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="DURATION",
        help="With --all: only updates in the last DURATION (e.g. 7d, 12h).", autocompletion=complete_duration)
    ] = None,
    project: Annotated[str | None, typer.Option(
        "--project", "-p", help="With --all: only stacks of this project.",
        autocompletion=complete_project)] = None,
    limit: Annotated[int, typer.Option(
        "--limit", "-n", min=0, help="Show at most N updates (0 = all).")] = 20,
) -> None:
    """List updates newest first: version (1 = oldest), kind, result, start, duration, resource changes,
    git author/branch/head, CI, Pulumi version, message. Only the entries shown are read.

    Example: pulumi-diy history ls infra/prod --limit 5; pulumi-diy history ls --all --since 7d
    """
    from ..durations import parse_duration
    from ..errors import UsageError

    actx = app_context(ctx)
    if all_stacks == (stack is not None):
        raise UsageError("give either a STACK or --all")
    if not all_stacks and (since or project):
        raise UsageError("--since and --project go with --all")
    backend = actx.backend()
    with render.progress(actx, "Reading history", total=limit or None) as advance:
        if all_stacks:
            from ..history import history_feed

            seconds = parse_duration(since, what="--since") if since else None
            feed = history_feed(backend, since=seconds, project=project, limit=limit, progress=advance)
            render.emit(actx, feed, views.history_feed)
            return
        from ..history import list_history

        assert stack is not None
        page = list_history(backend, resolve_stack(actx, stack), limit=limit, progress=advance)
    render.emit(actx, page, views.history_page)


@app.command("show", context_settings=NEGATIVE_VERSIONS)
def show(ctx: typer.Context, stack: StackArg, version: VersionArg) -> None:
    """Show one update in full: message, times, changes, environment (git, CI, Pulumi), config with secure
    values masked, and the checkpoint saved with it.

    Example: pulumi-diy history show infra/prod 12
    """
    from ..history import show_entry

    actx = app_context(ctx)
    details = show_entry(actx.backend(), resolve_stack(actx, stack), version)
    render.emit(actx, details, views.history_details)
    if details.entry.error:  # shown in the output; a script must not take it for a good entry
        if actx.json:
            raise typer.Exit(int(ExitCode.CORRUPT))
        from ..errors import CorruptInput

        raise CorruptInput(details.entry.error)


@app.command("export", context_settings=NEGATIVE_VERSIONS)
def export(
    ctx: typer.Context,
    stack: StackArg,
    version: VersionArg,
    file: Annotated[Path | None, typer.Option(
        "--file", "-f", help="Write to this file instead of stdout.")] = None,
    show_secrets: Annotated[bool, typer.Option(
        "--show-secrets", help="Decrypt secrets with the version's own secrets provider.")] = False,
) -> None:
    """Print a version's checkpoint as a `pulumi stack export` document, ready for `pulumi stack import`.
    VERSION may also be 'current'.

    Example: pulumi-diy history export infra/prod -1 --file prod-previous.json
    """
    from ..history import export_version

    actx = app_context(ctx)
    data = export_version(actx.backend(), resolve_stack(actx, stack), version,
                          reveal=revealer(actx) if show_secrets else None)
    if file is None:
        render.write_raw(data)
        return
    from ..files import write_private_file

    write_private_file(file, data, private=show_secrets)
    render.info(actx, f"exported version {version} of {stack} to {file}")


@app.command("diff", context_settings=NEGATIVE_VERSIONS)
def diff(
    ctx: typer.Context,
    stack: StackArg,
    old: VersionArg,
    new: Annotated[str, typer.Argument(
        metavar="[VERSION2]", help="Default: the current checkpoint.")] = "current",
    show_secrets: Annotated[bool, typer.Option(
        "--show-secrets", help="Show changed secret values in plaintext (asks for the passphrase if needed).")
    ] = False,
) -> None:
    """Compare two versions (or a version and the current state): resources added, removed, replaced and
    changed by URN, property changes as paths, protect/provider/parent changes, stack outputs.

    Secrets with identical ciphertexts are equal. Otherwise they are compared by plaintext when the key
    is available without asking (PULUMI_CONFIG_PASSPHRASE[_FILE], KMS credentials) and shown as
    [secret]; when it is not, they are reported as "not compared". --show-secrets requires the keys
    (asking on a terminal) and shows the values.

    Example: pulumi-diy history diff infra/prod 11 12
    """
    from ..history import diff_versions

    actx = app_context(ctx)
    result = diff_versions(actx.backend(), resolve_stack(actx, stack), old, new,
                           keys=keys(actx) if show_secrets else quiet_keys(actx), show_secrets=show_secrets)
    render.emit(actx, result, views.history_diff)


@app.command("restore", context_settings=NEGATIVE_VERSIONS)
def restore(ctx: typer.Context, stack: StackArg, version: VersionArg, dry_run: DryRun = False,
            yes: Yes = False) -> None:
    """Make a past version the stack's current checkpoint, under the stack lock.

    The current checkpoint is copied to backups/ (and .bak) first; the version is written in the stack's
    current style and compression, with the current secrets provider (re-encrypting when the version
    used another key: both keys are then needed). Refuses versions that fail Pulumi's integrity checks.
    History is not rewritten. Prints what changes, then asks unless --yes.

    Example: pulumi-diy history restore infra/prod -1 --dry-run
    """
    from ..history import restore_version

    actx = app_context(ctx)

    def confirm(plan: RestoreResult) -> bool:
        if not yes and actx.interactive() and not actx.json:
            views.restore_result(render.console(actx, stderr=True), plan)
        question = f"Restore version {plan.version} as the current checkpoint of {plan.ref}?"
        return actx.confirm(question, yes=yes)

    result = restore_version(actx.backend(), resolve_stack(actx, stack), version, keys=keys(actx),
                             reveal_keys=quiet_keys(actx), dry_run=dry_run, confirm=confirm)
    render.emit(actx, result, views.restore_result)


@app.command("prune")
def prune(
    ctx: typer.Context,
    stack: Annotated[str | None, typer.Argument(
        metavar="[STACK]", help="project/stack; or --all.", autocompletion=complete_stack)] = None,
    all_stacks: Annotated[bool, typer.Option("--all", "-a", help="Every stack in the backend.")] = False,
    keep: Annotated[int | None, typer.Option(
        "--keep", min=1, help="Keep the newest N entries/backups.")] = None,
    older_than: Annotated[str | None, typer.Option(
        "--older-than", metavar="DURATION",
        help="Remove entries/backups older than DURATION (e.g. 90d).", autocompletion=complete_duration)
    ] = None,
    dry_run: DryRun = False,
    yes: Yes = False,
) -> None:
    """Remove history entries (history + checkpoint pairs) and backups beyond a retention rule.

    --keep N keeps the newest N; --older-than D removes what is older than D; with both, only what both
    rules let go is removed. The newest entry and backup always stay; the current checkpoint and its
    .bak are never touched. Each stack is pruned under its lock. Remaining versions are renumbered.

    Example: pulumi-diy history prune --all --older-than 90d --dry-run
    """
    from ..durations import parse_duration
    from ..errors import UsageError
    from ..history import prune_history

    actx = app_context(ctx)
    if all_stacks == (stack is not None):
        raise UsageError("give either a STACK or --all")
    if keep is None and older_than is None:
        raise UsageError("give a retention rule: --keep N and/or --older-than DURATION")
    backend = actx.backend()
    refs = list(backend.stacks()) if all_stacks else [resolve_stack(actx, stack or "")]
    seconds = parse_duration(older_than, what="--older-than") if older_than else None

    plan = prune_history(backend, refs, keep=keep, older_than=seconds, dry_run=True)
    if dry_run or not plan.files:
        render.emit(actx, dataclasses.replace(plan, dry_run=dry_run), views.prune_result)
        return
    if not yes and actx.interactive() and not actx.json:
        views.prune_result(render.console(actx, stderr=True), plan)
    if not actx.confirm(f"Delete {plan.files} file(s) ({render.human_size(plan.bytes)})?", yes=yes):
        render.emit(actx, dataclasses.replace(plan, cancelled=True), views.prune_result)
        return
    # Each stack's rule is re-applied under its lock to a fresh listing.
    with render.progress(actx, "Deleting", total=plan.files) as advance:
        result = prune_history(backend, refs, keep=keep, older_than=seconds, progress=advance)
    render.emit(actx, result, views.prune_result)
    failed = next((s.exit_code for s in result.stacks if s.errors), None)
    if failed is not None:  # some files or stacks were left: scripts must see it
        raise typer.Exit(failed or int(ExitCode.ERROR))
