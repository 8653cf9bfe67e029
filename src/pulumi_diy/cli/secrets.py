"""`pulumi-diy secrets ...`: ls, verify, rotate, change-provider (and rotate --resume)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import ExitCode, UsageError
from . import render
from .common import SecretsProviderOpt, StackArg, StackSelectionArg
from .context import AppContext, app_context
from .render import secrets as views

if TYPE_CHECKING:
    from ..secrets.rekey import RekeyResult

app = typer.Typer(
    help="Secrets: where they are, verify they decrypt, rotate passphrases and move between passphrase and "
    "KMS, in every file (history, backups, .bak) of one stack or the whole backend.",
    no_args_is_help=True,
)

AllOpt = Annotated[bool, typer.Option("--all", help="Every stack in the backend.")]
ProjectOpt = Annotated[str | None, typer.Option("--project", "-p", help="Every stack of this project.")]
ConfigDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--config-dir",
        "-C",
        metavar="DIR",
        file_okay=False,
        help="Folder holding the Pulumi.<stack>.yaml files (or <project>/Pulumi.<stack>.yaml sub-folders).",
    ),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Check everything decrypts and show the plan; write nothing.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def _new_passphrase_from_env(actx: AppContext) -> Callable[[], str | None]:
    def get() -> str | None:
        from ..secrets.passphrase import read_passphrase

        s = actx.settings
        return read_passphrase(s.new_passphrase.value, s.new_passphrase_file.value, s.cwd)

    return get


@app.command("ls")
def ls(
    ctx: typer.Context,
    stack: StackArg,
    config_dir: ConfigDirOpt = None,
) -> None:
    """List where a stack's secrets are: resource URN and property path in the current checkpoint, and
    the secure keys of its Pulumi.<stack>.yaml with --config-dir. Never values; needs no passphrase.

    Example: pulumi-diy secrets ls infra/prod --config-dir ./infra
    """
    from ..secrets.scan import list_secrets

    actx = app_context(ctx)
    backend = actx.backend()
    render.emit(actx, list_secrets(backend, backend.resolve(stack), config_dir=config_dir), views.listing)


@app.command("verify")
def verify(
    ctx: typer.Context,
    stack: StackSelectionArg = None,
    all_stacks: AllOpt = False,
    project: ProjectOpt = None,
    config_dir: ConfigDirOpt = None,
) -> None:
    """Decrypt every secret in the current checkpoint, .bak, history checkpoints and history config,
    backups and (with --config-dir) Pulumi.<stack>.yaml; report per file which key it is under and what
    fails, and any unfinished rotation. Prints no plaintext. Exit code 7 when anything fails.

    While a rotation is unfinished, set PULUMI_DIY_NEW_PASSPHRASE too to check the files already moved.

    Example: PULUMI_CONFIG_PASSPHRASE_FILE=~/.pp pulumi-diy secrets verify --all --config-dir ./stacks
    """
    from ..secrets.rekey import deleted_stacks_warning, select_stacks
    from ..secrets.verify import verify_secrets

    actx = app_context(ctx)
    backend = actx.backend()
    refs = select_stacks(backend, stack, all_stacks=all_stacks, project=project)
    render.info(actx, f"verifying {len(refs)} stack(s)")
    passphrases = [actx.passphrase, actx.old_passphrase, _new_passphrase_from_env(actx)]
    # A passphrase prompt must not be drawn over by the bar: a bar only when no prompt can come.
    s = actx.settings
    no_prompt = s.passphrase.value is not None or bool(s.passphrase_file.value) or not actx.interactive()
    bar = render.progress(actx, "Verifying", total=len(refs)) if no_prompt else contextlib.nullcontext(None)
    with bar as advance:
        result = verify_secrets(backend, refs, passphrases=passphrases, config_dir=config_dir, progress=advance)
    if stack is None and (note := deleted_stacks_warning(backend, project)):
        result = dataclasses.replace(result, warnings=(*result.warnings, note))
    render.emit(actx, result, views.verify_report)
    if not result.ok:
        raise typer.Exit(int(ExitCode.SECRETS))


def _run_rekey(
    actx: AppContext,
    *,
    stack: str | None,
    all_stacks: bool,
    project: str | None,
    to: str | None,
    config_dir: Path | None,
    dry_run: bool,
    yes: bool,
) -> None:
    from ..secrets.rekey import Target, deleted_stacks_warning, rekey, select_stacks

    backend = actx.backend()
    target = Target.parse(to) if to is not None else None
    refs = select_stacks(backend, stack, all_stacks=all_stacks, project=project)
    render.info(actx, f"checking {len(refs)} stack(s): every file must decrypt before anything is written")
    with contextlib.ExitStack() as stack_ctx:
        advance: list[Callable[[int], None]] = []

        def confirm(plan: RekeyResult) -> bool:
            views.plan_summary(render.console(actx, stderr=True), plan)
            ok = actx.confirm(
                f"Re-encrypt {plan.files_to_rewrite} file(s) of {len(plan.stacks)} stack(s)?", yes=yes
            )
            if ok:
                advance.append(
                    stack_ctx.enter_context(render.progress(actx, "Re-encrypting", plan.files_to_rewrite))
                )
            return ok

        result = rekey(
            backend,
            refs,
            target=target,
            passphrase=actx.passphrase,
            new_passphrase=actx.new_passphrase,
            more_passphrases=[actx.old_passphrase],
            config_dir=config_dir,
            dry_run=dry_run,
            confirm=confirm,
            progress=lambda n: advance[0](n) if advance else None,
        )
    if stack is None and (note := deleted_stacks_warning(backend, project)):
        result = dataclasses.replace(result, warnings=(*result.warnings, note))
    render.emit(actx, result, views.rekey_report)


@app.command("rotate")
def rotate(
    ctx: typer.Context,
    stack: StackSelectionArg = None,
    all_stacks: AllOpt = False,
    project: ProjectOpt = None,
    config_dir: ConfigDirOpt = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    resume: Annotated[bool, typer.Option("--resume", help="Finish an interrupted rotation run.")] = False,
    run_id: Annotated[
        str | None, typer.Option("--run-id", metavar="ID", help="Which run --resume finishes.")
    ] = None,
) -> None:
    """Re-encrypt every secret of the selected stacks under a new key: a new passphrase (and a new salt
    per stack) for passphrase stacks, a new data key for KMS stacks. Covers the current checkpoint,
    .bak, history, backups and (with --config-dir) Pulumi.<stack>.yaml. The old passphrase comes from
    PULUMI_CONFIG_PASSPHRASE[_FILE] or a prompt, the new one from PULUMI_DIY_NEW_PASSPHRASE[_FILE] or a
    prompt asked twice. Everything is decrypted before anything is written; an interrupted run is
    recorded in the backend and finished with --resume.

    Example: pulumi-diy secrets rotate --all --config-dir ./stacks --yes
    """
    actx = app_context(ctx)
    if resume:
        if stack or all_stacks or project or dry_run or config_dir:
            raise UsageError(
                "--resume takes no STACK, --all, --project, --config-dir or --dry-run: "
                "the run's journal says what to finish"
            )
        from ..secrets.resume import resume_rekey

        with render.progress(actx, "Re-encrypting") as advance:
            result = resume_rekey(
                actx.backend(),
                run_id=run_id,
                passphrase=actx.passphrase,
                new_passphrase=actx.new_passphrase,
                more_passphrases=[actx.old_passphrase],
                progress=advance,
            )
        render.emit(actx, result, views.rekey_report)
        return
    if run_id:
        raise UsageError("--run-id goes with --resume")
    _run_rekey(
        actx,
        stack=stack,
        all_stacks=all_stacks,
        project=project,
        to=None,
        config_dir=config_dir,
        dry_run=dry_run,
        yes=yes,
    )


@app.command("change-provider")
def change_provider(
    ctx: typer.Context,
    to: SecretsProviderOpt,
    stack: StackSelectionArg = None,
    all_stacks: AllOpt = False,
    project: ProjectOpt = None,
    config_dir: ConfigDirOpt = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
) -> None:
    """Move the selected stacks' secrets to another secrets provider (a new data key per stack under a
    KMS key, or a new passphrase), in every file like `secrets rotate`. A KMS key is tested for both
    encrypt and decrypt before anything is written.

    Example: pulumi-diy secrets change-provider --project infra --to 'awskms://alias/p?region=eu-west-1'
    """
    _run_rekey(
        app_context(ctx),
        stack=stack,
        all_stacks=all_stacks,
        project=project,
        to=to,
        config_dir=config_dir,
        dry_run=dry_run,
        yes=yes,
    )
