"""The root command: global options, sub-command groups, and the one error boundary (`main`)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from .._version import __version__
from ..errors import ExitCode, PulumiDiyError
from . import render
from .completion import complete_backend_url
from .context import AppContext


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
    """The one error boundary: every failure becomes one line (or a JSON object) and an exit code."""

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
            render.error(AppContext(json=True), int(ExitCode.USAGE), "UsageError", e.format_message())
            raise typer.Exit(int(ExitCode.USAGE)) from None

    def invoke(self, ctx: Any) -> Any:
        pending = [*getattr(ctx, "_protected_args", []), *ctx.args]  # a sub-command's own --json counts too
        try:
            return super().invoke(ctx)
        except PulumiDiyError as e:
            actx = ctx.obj if isinstance(ctx.obj, AppContext) else None
            if actx is not None and actx.debug:
                _print_traceback()
            render.error(actx, int(e.exit_code), type(e).__name__, e.message)
            raise typer.Exit(int(e.exit_code)) from None
        except (typer.Exit, typer.Abort):
            raise
        except typer.TyperException as e:
            actx = ctx.obj if isinstance(ctx.obj, AppContext) else None
            if (actx is not None and actx.json) or ctx.params.get("json_output") or _json_requested(pending):
                message = e.format_message() if hasattr(e, "format_message") else str(e)
                render.error(AppContext(json=True), int(ExitCode.USAGE), "UsageError", message)
                raise typer.Exit(int(ExitCode.USAGE)) from None
            raise
        except KeyboardInterrupt:
            sys.stderr.write("error: interrupted\n")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except BrokenPipeError:
            raise typer.Exit(0) from None
        except Exception as e:  # the last line of defence: one line, never a dump of locals
            actx = ctx.obj if isinstance(ctx.obj, AppContext) else None
            if actx is not None and actx.debug:
                _print_traceback()
            render.error(actx, int(ExitCode.ERROR), "InternalError",
                         f"unexpected {type(e).__name__}: {e} (rerun with --debug for the traceback)")
            raise typer.Exit(int(ExitCode.ERROR)) from None
        finally:
            if isinstance(ctx.obj, AppContext):
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
             "then the backend of `pulumi login`.", autocompletion=complete_backend_url)] = None,
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
    ctx.obj = AppContext(backend_flag=backend, json=json_output, quiet=quiet, debug=debug, use_cache=not no_cache,
                         parallel=parallel, cache_dir=cache_dir, no_color=no_color)


def _register() -> None:
    from . import backend_cmd, env_cmd, stack

    app.add_typer(stack.app, name="stack")
    app.add_typer(backend_cmd.app, name="backend")
    app.command(name="env")(env_cmd.env)
    for name in ("lock", "history", "secrets"):
        try:
            module = __import__(f"pulumi_diy.cli.{name}", fromlist=["app"])
        except ImportError:
            continue
        app.add_typer(module.app, name=name)


_register()


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    app(args=argv, prog_name="pulumi-diy")
