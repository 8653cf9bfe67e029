#!/usr/bin/env python3
"""Generate the CLI's committed artefacts from the live command tree, or check they are current.

    scripts/gen_cli_artifacts.py            # rewrite every artefact
    scripts/gen_cli_artifacts.py --check    # exit 1 and name the stale files (what the tests run)

Writes the bash, zsh and fish completion scripts, the man page, the Markdown command reference
and the JSON output reference. Everything is derived from ``pulumi_diy.cli.app`` at run time (the
JSON reference from real runs against a synthetic backend): run this after adding or changing a
command, an option or a result's ``to_dict``.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "scripts")]

from cli_artifacts import docs, jsondoc, shells  # noqa: E402
from cli_artifacts.model import Command, load  # noqa: E402

ARTIFACTS: dict[str, Callable[[Command], str]] = {
    "completions/pulumi-diy.bash": shells.bash,
    "completions/_pulumi-diy": shells.zsh,
    "completions/pulumi-diy.fish": shells.fish,
    "man/pulumi-diy.1": docs.man,
    "docs/cli.md": docs.markdown,
    "docs/json.md": jsondoc.json_doc,
}


def generate(only: list[str] | None = None) -> dict[str, str]:
    """Relative path -> fresh content, for every artefact (or the ones named)."""
    tree = load()
    return {path: render(tree) for path, render in ARTIFACTS.items() if not only or path in only}


def stale(fresh: dict[str, str]) -> dict[str, str]:
    """Relative path -> a short diff, for each committed file that differs from ``fresh``."""
    out = {}
    for path, content in fresh.items():
        file = ROOT / path
        current = file.read_text(encoding="utf-8") if file.exists() else ""
        if current != content:
            diff = difflib.unified_diff(current.splitlines(), content.splitlines(), f"{path} (committed)",
                                        f"{path} (generated)", lineterm="", n=1)
            out[path] = "\n".join(list(diff)[:40])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if an artefact is stale")
    parser.add_argument("paths", nargs="*", metavar="PATH", help=f"only these artefacts: {', '.join(ARTIFACTS)}")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.paths) - set(ARTIFACTS))
    if unknown:
        parser.error(f"not an artefact: {', '.join(unknown)}")
    fresh = generate(args.paths)
    if args.check:
        found = stale(fresh)
        for path, diff in found.items():
            print(f"stale: {path}\n{diff}\n", file=sys.stderr)
        if found:
            print(f"{len(found)} artefact(s) out of date: run scripts/gen_cli_artifacts.py", file=sys.stderr)
            return 1
        return 0
    for path, content in fresh.items():
        file = ROOT / path
        file.parent.mkdir(parents=True, exist_ok=True)
        if not file.exists() or file.read_text(encoding="utf-8") != content:
            file.write_text(content, encoding="utf-8")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
