"""Shell completion of *values*: stack names, projects, history versions, lock ids, secrets providers.

A TAB must never wait on the network: names come from what is already on this machine, the local
cache and quick ``file://`` listings (:mod:`.completion_sources`).

The generated scripts in ``completions/`` complete commands and options by themselves and ask the
program only for values, with ``_PULUMI_DIY_COMPLETE=complete_lines _TYPER_COMPLETE_ARGS="<line>"``;
the answer is one ``value<TAB>help`` per line. Typer's own protocols (``complete_bash``,
``complete_zsh``, ``complete_fish``) work as well. Everything here imports only the standard
library and Typer, and swallows every error: a completion never prints a traceback into a shell.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import typer
from typer._click.shell_completion import CompletionItem, ShellComplete, add_completion_class, split_arg_string

from .completion_sources import (
    Items,
    Target,
    backup_ids,
    deleted_stacks,
    history_versions,
    lock_ids,
    stack_names,
    target_for,
)

SECRETS_PROVIDERS: tuple[tuple[str, str], ...] = (
    ("passphrase", "passphrase-based (PULUMI_CONFIG_PASSPHRASE)"),
    ("awskms://", "AWS KMS: awskms://KEY_ID_OR_ALIAS?region=REGION"),
    ("azurekeyvault://", "Azure Key Vault: azurekeyvault://VAULT.vault.azure.net/keys/KEY"),
    ("gcpkms://", "Google Cloud KMS: gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K"),
    ("hashivault://", "HashiCorp Vault transit: hashivault://KEY"),
)
BACKEND_SCHEMES: tuple[tuple[str, str], ...] = (
    ("file://", "a local directory"), ("s3://", "Amazon S3 or an S3-compatible store"),
    ("gs://", "Google Cloud Storage"), ("azblob://", "Azure Blob Storage"), ("postgres://", "PostgreSQL"),
)
DURATION_EXAMPLES: tuple[str, ...] = ("30s", "5m", "30m", "2h", "12h", "1d", "7d", "30d", "90d")
_UNITS = (("s", "seconds"), ("m", "minutes"), ("h", "hours"), ("d", "days"), ("w", "weeks"))


# --- the protocol the generated scripts speak -----------------------------------------------------


class _RawValues(ShellComplete):
    """Completers read the words as typed: skipping Typer's value coercion while the line is parsed
    skips importing pydantic, a tenth of a second on every TAB."""

    def get_completions(self, args: list[str], incomplete: str) -> list[CompletionItem]:
        from typer._click.shell_completion import _resolve_context, _resolve_incomplete
        from typer.core import _TyperParameter

        coerce = _TyperParameter.process_value
        _TyperParameter.process_value = lambda self, ctx, value: value  # type: ignore[method-assign]
        try:
            ctx = _resolve_context(self.cli, self.ctx_args, self.prog_name, args)
            if args and args[-1].startswith("-"):
                # An option still waiting for its value (`--lock-id <TAB>`) ends Click's resilient parse
                # before the positional arguments: the STACK typed before it comes from the line without it.
                before = _resolve_context(self.cli, self.ctx_args, self.prog_name, args[:-1])
                if before.command is ctx.command:
                    for name, value in before.params.items():
                        if ctx.params.get(name) is None:
                            ctx.params[name] = value
            obj, incomplete = _resolve_incomplete(ctx, args, incomplete)
            return obj.shell_complete(ctx, incomplete)
        finally:
            _TyperParameter.process_value = coerce  # type: ignore[method-assign]


class LinesComplete(_RawValues):
    """``value<TAB>help`` per line for the line in ``_TYPER_COMPLETE_ARGS`` (the text left of the cursor).

    One format for bash, zsh and fish, with no Rich rendering of the help (which would cost an import
    of Rich on every TAB) and nothing for the shell to ``eval``.
    """

    name = "lines"
    source_template = ""

    def source_vars(self) -> dict[str, Any]:
        return {}

    # The protocol's own variable, like Typer's `_TYPER_COMPLETE_ARGS` readers (not a setting).
    def get_completion_args(self) -> tuple[list[str], str]:
        line = os.environ.get("_TYPER_COMPLETE_ARGS", "")
        words = split_arg_string(line)[1:]
        if words and not line[-1:].isspace():
            return words[:-1], words[-1]
        return words, ""

    def format_completion(self, item: CompletionItem) -> str:
        help_text = " ".join(str(item.help).split()) if item.help else ""
        return f"{item.value}\t{help_text}" if help_text else str(item.value)


def register_protocols() -> None:
    """Make ``_PULUMI_DIY_COMPLETE=complete_{lines,bash,zsh,fish}`` work.

    The root app is built with ``add_completion=False`` (we ship our own scripts instead of Typer's
    ``--install-completion``), and then Typer registers no shell at all; this does it, cheaply.
    """
    from typer._completion_classes import BashComplete, FishComplete, ZshComplete, completion_init

    completion_init()
    for cls in (BashComplete, ZshComplete, FishComplete):
        add_completion_class(type(cls.__name__, (_RawValues, cls), {}), cls.name)
    add_completion_class(LinesComplete, LinesComplete.name)


register_protocols()


def _safe(fn: Callable[[typer.Context, str], Items]) -> Callable[[typer.Context, str], Items]:
    """A completer that fails quietly: a broken cache or an odd URL means no suggestions, not a traceback."""

    @functools.wraps(fn)
    def wrapper(ctx: typer.Context, incomplete: str) -> Items:
        try:
            return [(v, h) for v, h in fn(ctx, incomplete) if v.startswith(incomplete)]
        except Exception:
            return []

    return wrapper


# --- the completers the argument types in common.py use ------------------------------------------


def _target(ctx: typer.Context) -> Target | None:
    params = ctx.find_root().params
    return target_for(params.get("backend"), params.get("cache_dir"), not params.get("no_cache"))


def _stack_param(ctx: typer.Context) -> tuple[str, str] | None:
    """(project or "", stack) of the STACK already typed on the line, if any."""
    text = ctx.params.get("stack")
    if not isinstance(text, str) or not text:
        return None
    parts = text.strip().split("/")
    if len(parts) == 3:
        parts = parts[1:]
    return (parts[0], parts[1]) if len(parts) == 2 else ("", parts[0])


@_safe
def complete_stack(ctx: typer.Context, incomplete: str) -> Items:
    """Stack names of the backend on the command line (``project/stack``; bare names in legacy stores)."""
    if (target := _target(ctx)) is None:
        return []
    items = sorted(stack_names(target).items())
    if incomplete.startswith("organization/"):
        return [(f"organization/{n}", h) for n, h in items if "/" in n]
    return items


@_safe
def complete_deleted_stack(ctx: typer.Context, incomplete: str) -> Items:
    target = _target(ctx)
    return deleted_stacks(target) if target else []


@_safe
def complete_project(ctx: typer.Context, incomplete: str) -> Items:
    if (target := _target(ctx)) is None:
        return []
    projects: dict[str, int] = {}
    for name in stack_names(target):
        if "/" in name:
            project = name.split("/", 1)[0]
            projects[project] = projects.get(project, 0) + 1
    return [(p, f"{n} stack(s)") for p, n in sorted(projects.items())]


# The history commands whose VERSION may also be 'current' (export_version, diff_versions).
TAKES_CURRENT = frozenset({"export", "diff"})


@_safe
def complete_version(ctx: typer.Context, incomplete: str) -> Items:
    """History versions of the STACK given earlier on the line: ``latest``, the newest numbers and a few
    ``-N`` with their dates, every number once digits are typed, the 19-digit ids once those outgrow
    the numbers (see :func:`.completion_sources.history_versions`)."""
    target, stack = _target(ctx), _stack_param(ctx)
    if target is None or stack is None:
        return []
    return history_versions(target, *stack, incomplete, current=ctx.command.name in TAKES_CURRENT)


@_safe
def complete_backup(ctx: typer.Context, incomplete: str) -> Items:
    """Timestamps of the STACK's backups/ copies (file:// only) and ``bak``."""
    target, stack = _target(ctx), _stack_param(ctx)
    return backup_ids(target, stack) if target and stack else []


@_safe
def complete_lock_id(ctx: typer.Context, incomplete: str) -> Items:
    target = _target(ctx)
    return lock_ids(target, _stack_param(ctx)) if target else []


@_safe
def complete_secrets_provider(ctx: typer.Context, incomplete: str) -> Items:
    return list(SECRETS_PROVIDERS)


@_safe
def complete_backend_url(ctx: typer.Context, incomplete: str) -> Items:
    """DIY URL schemes, and the backend in use now (PULUMI_BACKEND_URL or `pulumi login`'s current)."""
    from ..config import resolve_settings

    current = resolve_settings().backend_url
    mine = [(current.value, f"from {current.source}")] if current.value else []
    return mine + list(BACKEND_SCHEMES)


@_safe
def complete_sort(ctx: typer.Context, incomplete: str) -> Items:
    from ..stacks import SORT_KEYS

    return [(k, "") for k in SORT_KEYS]


@_safe
def complete_duration(ctx: typer.Context, incomplete: str) -> Items:
    if incomplete.isdigit():
        return [(incomplete + unit, name) for unit, name in _UNITS]
    return [(d, "") for d in DURATION_EXAMPLES]
