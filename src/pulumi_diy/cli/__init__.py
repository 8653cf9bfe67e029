"""The command-line interface (Typer). `main` is the console entry point."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Run pulumi-diy. `--version` alone is answered without importing Typer, so it is instant."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        from .._version import __version__

        sys.stdout.write(f"pulumi-diy {__version__}\n")
        return
    from .app import main as app_main

    app_main(args)
