"""Helpers shared by command modules (argument types, secrets access)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .completion import (
    complete_backup,
    complete_deleted_stack,
    complete_lock_id,
    complete_project,
    complete_secrets_provider,
    complete_sort,
    complete_stack,
    complete_version,
)

if TYPE_CHECKING:
    from ..backend.layout import StackRef
    from ..state import Checkpoint
    from .context import AppContext


def resolve_stack(actx: AppContext, text: str) -> StackRef:
    return actx.backend().resolve(text)


def secrets_manager_for(actx: AppContext, secrets_providers: dict[str, Any] | None) -> Any:
    """The secrets manager recorded in a checkpoint, unlocked with the user's passphrase or KMS access."""
    from ..secrets import manager_from_secrets_providers
    from ..secrets.kms import key_wrapper_for_url

    env = actx.settings.env
    return manager_from_secrets_providers(
        secrets_providers, passphrase=actx.passphrase,
        kms_factory=lambda url: key_wrapper_for_url(url, env=env),
        more_passphrases=[actx.old_passphrase],
    )


def revealer(actx: AppContext) -> Callable[[Checkpoint], dict[str, Any]]:
    """A function that returns a checkpoint's deployment with every secret in plaintext."""
    from ..secrets import reveal_deployment

    def reveal(cp: Checkpoint) -> dict[str, Any]:
        if cp.latest is None:
            return {}
        return reveal_deployment(cp.latest, secrets_manager_for(actx, cp.secrets_providers))

    return reveal


# --- shared argument and option types, with value completion ------------------------------------------
# Typer reads these at runtime, so they are real values, not TYPE_CHECKING imports.

StackArg = Annotated[str, typer.Argument(
    metavar="STACK", help="project/stack (or organization/project/stack).", autocompletion=complete_stack)]
OptionalStackArg = Annotated[str | None, typer.Argument(
    metavar="[STACK]", help="project/stack (or organization/project/stack).", autocompletion=complete_stack)]
# A STACK that --all/--project may replace (secrets verify/rotate/change-provider): `stack: StackSelectionArg = None`.
StackSelectionArg = Annotated[str | None, typer.Argument(
    metavar="STACK", help="project/stack (or organization/project/stack).", autocompletion=complete_stack)]
DeletedStackArg = Annotated[str, typer.Argument(
    metavar="STACK", help="project/stack of the deleted stack.", autocompletion=complete_deleted_stack)]
VersionArg = Annotated[str, typer.Argument(
    metavar="VERSION", help="N (1 = oldest), -N (N before the latest), 'latest', or an entry id (timestamp).",
    autocompletion=complete_version)]
ProjectOpt = Annotated[str | None, typer.Option(
    "--project", "-p", metavar="PROJECT", help="Only this project's stacks.", autocompletion=complete_project)]
LockIdOpt = Annotated[str | None, typer.Option(
    "--lock-id", metavar="ID", help="Only this lock.", autocompletion=complete_lock_id)]
# `secrets change-provider --to` (required).
SecretsProviderOpt = Annotated[str, typer.Option(
    "--to", metavar="PROVIDER", help="passphrase, or awskms://..., azurekeyvault://..., gcpkms://..., hashivault://...",
    autocompletion=complete_secrets_provider)]
BackupOpt = Annotated[str | None, typer.Option(
    "--from-backup", metavar="TIMESTAMP",
    help="Which copy: a timestamp from a backup/retained file name, or 'bak'. Default: the newest.",
    autocompletion=complete_backup)]
SortOpt = Annotated[str, typer.Option(
    "--sort", "-s", metavar="KEY", help="Sort by name, last-update, resources or size.", autocompletion=complete_sort)]
