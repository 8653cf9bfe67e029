"""The root command: global options, sub-command groups, and the one error boundary (`main`)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from .._version import __version__
from ..errors import ExitCode, PulumiDiyError

if TYPE_CHECKING:
    from .context import AppContext

# Command groups load on first use: `pulumi-diy --help` lists them from here without importing them
# (start-up time; tests/cli/test_contract.py checks each line against the group's own help).
LAZY_GROUPS: dict[str, tuple[str, str]] = {
    "stack": ("stack", "Inspect stacks: list, show, resources, export."),
    "backend": ("backend_cmd", "Describe the backend itself."),
    "lock": ("lock", "See every stack lock, break stale ones safely, wait for a stack to be free."),
    "history": ("history", "Browse a stack's checkpoint history: list, show, export, diff, restore, prune."),
    "secrets": ("secrets", "Secrets: where they are, verify they decrypt, rotate passphrases and move between "
                "passphrase and KMS, in every file (history, backups, .bak) of one stack or the whole backend."),
}
_ORDER = ("env", "stack", "backend", "lock", "history", "secrets")  # as Typer listed them: commands, then groups


def _render() -> Any:
    from . import render

    return render


def _app_context(**kw: Any) -> AppContext:
    from .context import AppContext

    return AppContext(**kw)


def _is_app_context(obj: Any) -> bool:
    module = sys.modules.get(f"{__package__}.context")  # no AppContext exists before it is imported
    return module is not None and isinstance(obj, module.AppContext)


def _complete_backend_url(ctx: typer.Context, incomplete: str) -> Any:
    from .completion import complete_backend_url

    return complete_backend_url(ctx, incomplete)


def _json_requested(args: list[str]) -> bool:
    """`--json` among arguments not yet parsed (before any `--`)."""
    return "--json" in (args[: args.index("--")] if "--" in args else args)


# Global switches that may also be written after the command (`pulumi-diy stack ls --json`, as with
# kubectl or aws); they take no value, so moving them in front of the command changes nothing else.
_HOISTED = ("--json", "--quiet", "--debug", "--no-cache", "--no-color")


def _hoist_global_flags(args: list[str]) -> list[str]:
    end = args.index("--") if "--" in args else len(args)
    head, tail = args[:end], args[end:]
    hoisted = [a for a in head if a in _HOISTED]
    return [*dict.fromkeys(hoisted), *[a for a in head if a not in _HOISTED], *tail]


def _print_traceback() -> None:
    import traceback  # only with --debug; frames only, never locals

    traceback.print_exc()


class _ErrorBoundary(TyperGroup):
    """The one error boundary: every failure becomes one line (or a JSON object) and an exit code.

    It also loads the command groups of :data:`LAZY_GROUPS` when they are first asked for."""

    def _main_shell_completion(self, ctx_args: Any, prog_name: str, complete_var: str | None = None) -> None:
        # A completion request (the protocol's own variable, as Typer reads it; not a setting) needs the
        # protocols cli/completion.py registers; nothing else loads that module up front.
        if os.environ.get(complete_var or f"_{prog_name}_COMPLETE".replace("-", "_").upper()):
            from . import completion  # noqa: F401

        super()._main_shell_completion(ctx_args, prog_name, complete_var)

    def list_commands(self, ctx: Any) -> list[str]:
        names = [*super().list_commands(ctx), *(n for n in LAZY_GROUPS if n not in self.commands)]
        return sorted(names, key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in LAZY_GROUPS and cmd_name not in self.commands:
            self.add_command(load_group(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """As Typer's, but a group not loaded yet is described by its line in LAZY_GROUPS."""
        from typer._click.utils import make_default_short_help

        names = [n for n in self.list_commands(ctx) if n not in self.commands or not self.commands[n].hidden]
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = [(n, self.commands[n].get_short_help_str(limit) if n in self.commands
                 else make_default_short_help(LAZY_GROUPS[n][1], limit)) for n in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        if parent is None:
            args[:] = _hoist_global_flags(args)
        # Bad global options fail before the root callback has seen --json: answer in JSON anyway.
        given = list(args)  # the parser consumes `args`
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except typer.TyperException as e:
            if parent is not None or not _json_requested(given) or not hasattr(e, "format_message"):
                raise
            _render().error(_app_context(json=True), int(ExitCode.USAGE), "UsageError", e.format_message())
            raise typer.Exit(int(ExitCode.USAGE)) from None

    def invoke(self, ctx: Any) -> Any:
        pending = [*getattr(ctx, "_protected_args", []), *ctx.args]  # a sub-command's own --json counts too
        try:
            return super().invoke(ctx)
        except PulumiDiyError as e:
            actx = ctx.obj if _is_app_context(ctx.obj) else None
            if actx is not None and actx.debug:
                _print_traceback()
            _render().error(actx, int(e.exit_code), type(e).__name__, e.message)
            raise typer.Exit(int(e.exit_code)) from None
        except (typer.Exit, typer.Abort):
            raise
        except typer.TyperException as e:
            actx = ctx.obj if _is_app_context(ctx.obj) else None
            if (actx is not None and actx.json) or ctx.params.get("json_output") or _json_requested(pending):
                message = e.format_message() if hasattr(e, "format_message") else str(e)
                _render().error(_app_context(json=True), int(ExitCode.USAGE), "UsageError", message)
                raise typer.Exit(int(ExitCode.USAGE)) from None
            raise
        except KeyboardInterrupt:  # SIGINT, and SIGTERM (see main)
            actx = ctx.obj if _is_app_context(ctx.obj) else None
            json_wanted = (actx is not None and actx.json) or _json_requested(pending)
            _render().error(_app_context(json=True) if json_wanted else actx, int(ExitCode.INTERRUPTED),
                            "Interrupted", "interrupted")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except BrokenPipeError:
            raise typer.Exit(0) from None
        except Exception as e:  # the last line of defence: one line, never a dump of locals
            actx = ctx.obj if _is_app_context(ctx.obj) else None
            if actx is not None and actx.debug:
                _print_traceback()
            _render().error(actx, int(ExitCode.ERROR), "InternalError",
                         f"unexpected {type(e).__name__}: {e} (rerun with --debug for the traceback)")
            raise typer.Exit(int(ExitCode.ERROR)) from None
        finally:
            if _is_app_context(ctx.obj):
                ctx.obj.close()


app = typer.Typer(
    cls=_ErrorBoundary,
    name="pulumi-diy",
    help="Operate Pulumi DIY backends (file, S3, GCS, Azure Blob, PostgreSQL): stacks, history, locks, secrets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"pulumi-diy {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    backend: Annotated[str | None, typer.Option(
        "--backend", "-b", metavar="URL",
        help="Backend URL (file://, s3://, gs://, azblob://, postgres://). Default: PULUMI_BACKEND_URL, "
             "then the backend of `pulumi login`.", autocompletion=_complete_backend_url)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or informational output.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the local cache.")] = False,
    cache_dir: Annotated[str | None, typer.Option(
        "--cache-dir", metavar="DIR", help="Cache directory (default: PULUMI_DIY_CACHE_DIR or the user cache dir).")
    ] = None,
    parallel: Annotated[int | None, typer.Option(
        "--parallel", "-P", min=1, max=1024, metavar="N",
        help="Concurrent reads (default: PULUMI_DIY_PARALLEL or 64).")] = None,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colours (NO_COLOR is honoured too).")] = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """pulumi-diy: the operational features of Pulumi Cloud for DIY backends, with no server to run.

    Example: pulumi-diy --backend s3://my-state?region=eu-west-1 stack ls
    """
    ctx.obj = _app_context(backend_flag=backend, json=json_output, quiet=quiet, debug=debug, use_cache=not no_cache,
                         parallel=parallel, cache_dir=cache_dir, no_color=no_color)


def load_group(name: str) -> Any:
    """The click group of one of :data:`LAZY_GROUPS`, built the way ``app.add_typer`` would build it."""
    from typer.models import TyperInfo

    module = __import__(f"{__package__}.{LAZY_GROUPS[name][0]}", fromlist=["app"])  # seen by -X importtime
    return typer.main.get_group_from_info(
        TyperInfo(module.app, name=name), pretty_exceptions_short=app.pretty_exceptions_short,
        suggest_commands=app.suggest_commands, rich_markup_mode=app.rich_markup_mode)


def _register() -> None:
    from . import env_cmd

    app.command(name="env")(env_cmd.env)


_register()


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C: temporary files removed, locks released, exit 130


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    app(args=argv, prog_name="pulumi-diy")
