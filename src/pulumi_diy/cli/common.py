"""Helpers shared by command modules (argument types, secrets access)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

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
    )


def revealer(actx: AppContext) -> Callable[[Checkpoint], dict[str, Any]]:
    """A function that returns a checkpoint's deployment with every secret in plaintext."""
    from ..secrets import reveal_deployment

    def reveal(cp: Checkpoint) -> dict[str, Any]:
        if cp.latest is None:
            return {}
        return reveal_deployment(cp.latest, secrets_manager_for(actx, cp.secrets_providers))

    return reveal
