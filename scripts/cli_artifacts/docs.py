"""The man page (troff) and the Markdown reference, rendered from the command tree.

Exit codes and environment variables come from one place each: the tables in README.md (the
exit codes checked against ``pulumi_diy.errors.ExitCode`` by the contract tests; when errors.py
grows ``EXIT_CODE_MEANINGS`` that dict wins).
"""

from __future__ import annotations

import re
from pathlib import Path

from .model import PROG, Command, Param

ROOT = Path(__file__).resolve().parents[2]
GENERATED = "Generated from the command tree by scripts/gen_cli_artifacts.py; do not edit."

FILES: tuple[tuple[str, str], ...] = (
    ("~/.pulumi/credentials.json",
     "Read only: its `current` entry is the backend when neither `--backend` nor `PULUMI_BACKEND_URL` is "
     "given (`$PULUMI_HOME/credentials.json` when `PULUMI_HOME` is set)."),
    ("~/.cache/pulumi-diy/cache-v1.sqlite3",
     "The local cache of checkpoint summaries and history entries, keyed by each object's etag, size and "
     "mtime (`~/Library/Caches/pulumi-diy` on macOS; `PULUMI_DIY_CACHE_DIR` or `--cache-dir` move it, "
     "`--no-cache` bypasses it). It holds no plaintext secrets and is safe to delete. Shell completion "
     "reads stack names from it."),
    ("Pulumi.yaml",
     "In the current directory: its `name` is the project of a bare stack name."),
    ("Pulumi.<stack>.yaml",
     "Stack settings in the `--config-dir` of the secrets commands: `encryptionsalt`, `secretsprovider`, "
     "`encryptedkey` and `secure:` values are verified and rewritten in place."),
)
COMPLETION_INSTALL: tuple[tuple[str, str], ...] = (
    ("bash", "copy `completions/pulumi-diy.bash` to "
             "`~/.local/share/bash-completion/completions/pulumi-diy` (or source it from `~/.bashrc`)"),
    ("zsh", "copy `completions/_pulumi-diy` into a directory on `$fpath`, then `autoload -Uz compinit && compinit`"),
    ("fish", "copy `completions/pulumi-diy.fish` to `~/.config/fish/completions/`"),
)


# --- the two tables kept in README.md ------------------------------------------------------------------

def readme_table(heading: str, readme: Path = ROOT / "README.md") -> list[tuple[str, str]]:
    """The two-column table under ``## heading`` in README.md, as (first cell, second cell) rows."""
    text = readme.read_text(encoding="utf-8")
    m = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not m:
        raise SystemExit(f"README.md has no '## {heading}' section")
    rows = []
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) == 2 and not set(cells[0]) <= set(":- ") and cells[0] not in ("code", "variable"):
            rows.append((cells[0], cells[1]))
    if not rows:
        raise SystemExit(f"README.md: no table under '## {heading}'")
    return rows


def exit_codes() -> list[tuple[str, str]]:
    from pulumi_diy import errors

    meanings = getattr(errors, "EXIT_CODE_MEANINGS", None)
    if meanings:
        return [(str(int(code)), str(text)) for code, text in sorted(meanings.items())]
    return readme_table("Exit codes")


def environment() -> list[tuple[str, str]]:
    return readme_table("Environment variables")


# --- troff ------------------------------------------------------------------------------------------------

def _esc(text: str) -> str:
    return text.replace("\\", "\\e").replace("-", "\\-")


def _roff(text: str) -> str:
    """Prose with `code` spans -> troff (code in bold, its hyphens as minus signs)."""
    out = []
    for i, part in enumerate(re.split(r"`([^`]*)`", text)):
        out.append(f"\\fB{_esc(part)}\\fR" if i % 2 else part.replace("\\", "\\e"))
    line = "".join(out)
    return "\\&" + line if line[:1] in (".", "'") else line


def _man_opt(p: Param) -> list[str]:
    names = ", ".join(f"\\fB{_esc(o)}\\fR" for o in (*p.short, *p.long))
    value = f" \\fI{_esc(p.display_metavar)}\\fR" if p.takes_value else ""
    extra = f" (default: {p.default})" if p.default is not None and p.takes_value else ""
    more = " May be repeated." if p.multiple and "repeat" not in p.help else ""
    return [".TP", names + value, _roff(p.help + extra + more) or "\\&"]


def _man_command(cmd: Command) -> list[str]:
    out = [f'.SS "{_esc(cmd.usage)}"']
    out += [line for para in cmd.help for line in (_roff(para), ".PP")][:-1] if cmd.help else []
    args = [a for a in cmd.arguments if a.help]
    for a in args:
        out += [".TP", f"\\fI{_esc(a.display_metavar)}\\fR", _roff(a.help)]
    for p in cmd.options:
        if p.name != "help":
            out += _man_opt(p)
    for e in cmd.examples:
        out += [".PP", "Example:", ".RS 4", ".nf", _esc(e), ".fi", ".RE"]
    return out


def man(root: Command) -> str:
    from pulumi_diy import __version__

    leaves = [c for c in root.walk() if c.path and not c.is_group]
    out = [
        f'.\\" {GENERATED}',
        f'.TH PULUMI\\-DIY 1 "" "{PROG} {__version__}" "User Commands"',
        ".nh",  # no hyphenation: option and variable names must stay copyable
        ".ad l",
        ".SH NAME",
        f"{PROG} \\- {_roff(root.summary[0].lower() + root.summary[1:])}",
        ".SH SYNOPSIS",
        f".B {PROG}",
        "[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION",
        *[line for para in root.help for line in (_roff(para), ".PP")],
        "Commands are noun groups with verbs, as in Pulumi's own CLI. Every command has \\fB\\-\\-json\\fR "
        "(a global flag): output for people goes to stdout, progress and diagnostics to stderr, and under "
        "\\fB\\-\\-json\\fR errors are a JSON object on stdout too. Colours only on a terminal, never with "
        "\\fBNO_COLOR\\fR. Commands that change the backend ask for confirmation on a terminal and need "
        "\\fB\\-\\-yes\\fR otherwise.",
        ".SH GLOBAL OPTIONS",
    ]
    for p in root.options:
        out += _man_opt(p)
    out.append(".SH COMMANDS")
    for cmd in root.walk():
        if cmd.path and cmd.is_group:
            out += [f'.SS "{_esc(cmd.full_name)}"', _roff(cmd.help[0] if cmd.help else cmd.summary)]
        elif cmd.path:
            out += _man_command(cmd)
    out.append(".SH ENVIRONMENT")
    for name, meaning in environment():
        out += [".TP", _roff(name), _roff(meaning)]
    out.append(".SH EXIT STATUS")
    for code, meaning in exit_codes():
        out += [".TP", f".B {code}", _roff(meaning)]
    out.append(".SH FILES")
    for path, what in FILES:
        out += [".TP", f".I {_esc(path)}", _roff(what)]
    out.append(".SH SHELL COMPLETION")
    out.append(f"Completion scripts for bash, zsh and fish are installed with the package under "
               f"\\fIshare/\\fR. Values (stack names, history versions, lock ids) come from {PROG} itself, "
               "served from the local cache, so a TAB never waits on the network.")
    out.append(".SH EXAMPLES")
    for cmd in leaves:
        for e in cmd.examples:
            out += [".TP", f".B {_esc(e)}", _roff(cmd.summary) + "."]
    out += [".SH SEE ALSO", "\\fBpulumi\\fR(1)"]
    return "\n".join(out) + "\n"


# --- Markdown --------------------------------------------------------------------------------------------

def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _md_options(params: tuple[Param, ...]) -> list[str]:
    rows = [p for p in params if p.name != "help"]
    if not rows:
        return []
    out = ["| option | description |", "| --- | --- |"]
    for p in rows:
        names = ", ".join(f"`{o}`" for o in (*p.short, *p.long))
        value = f" `{p.display_metavar}`" if p.takes_value else ""
        extra = f" Default: `{p.default}`." if p.default is not None and p.takes_value else ""
        more = " Repeatable." if p.multiple and "repeat" not in p.help else ""
        out.append(f"| {names}{value} | {_md_cell(p.help)}{extra}{more} |")
    return [*out, ""]


def _anchor(cmd: Command) -> str:
    return "-".join((PROG, *cmd.path)).lower()


def markdown(root: Command) -> str:
    out = [f"# `{PROG}` command reference", "", f"<!-- {GENERATED} -->", "", *[f"{p}\n" for p in root.help],
           f"```\n{root.usage}\n```", "", "## Global options", "", *_md_options(root.options), "## Commands", ""]
    for cmd in root.walk():
        if cmd.path:
            indent = "  " * (len(cmd.path) - 1)
            out.append(f"{indent}- [`{cmd.name}`](#{_anchor(cmd)}): {_md_cell(cmd.summary)}")
    out.append("")
    for cmd in root.walk():
        if not cmd.path:
            continue
        out += [f"{'#' * min(len(cmd.path) + 2, 4)} <a id=\"{_anchor(cmd)}\"></a>`{cmd.full_name}`", "",
                f"```\n{cmd.usage}\n```", "", *[f"{p}\n" for p in cmd.help]]
        if cmd.arguments:
            out += ["| argument | description |", "| --- | --- |"]
            out += [f"| `{a.display_metavar}`{'' if a.required else ' (optional)'} | {_md_cell(a.help)} |"
                    for a in cmd.arguments] + [""]
        out += _md_options(cmd.options)
        if cmd.examples:
            out += ["Example:" if len(cmd.examples) == 1 else "Examples:", "", "```sh", *cmd.examples, "```", ""]
    out += ["## Environment variables", "", "| variable | effect |", "| --- | --- |"]
    out += [f"| {name} | {meaning} |" for name, meaning in environment()]
    out += ["", "## Exit status", "", "| code | meaning |", "| ---: | --- |"]
    out += [f"| {code} | {meaning} |" for code, meaning in exit_codes()]
    out += ["", "## Files", ""] + [f"- `{path}`: {what}" for path, what in FILES]
    out += ["", "## Shell completion", "",
            "The wheel installs the scripts under `share/` (`bash-completion/completions`, `zsh/site-functions`, "
            "`fish/vendor_completions.d`), where packagers and pipx pick them up. From a checkout:", ""]
    out += [f"- {shell}: {how}" for shell, how in COMPLETION_INSTALL]
    out += ["", "Commands and options complete without starting Python; values (stack names, history versions, "
            "lock ids, secrets providers) come from `pulumi-diy` itself, served from the local cache (and a "
            "listing of at most a second for `file://` backends), so a TAB never waits on the network.", ""]
    return "\n".join(out)
