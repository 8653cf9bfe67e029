"""The command tree as plain data, read from the live Typer app (never listed by hand).

Every generated artefact (completions, man page, reference) is rendered from :func:`load`, so a
command added anywhere in ``pulumi_diy.cli`` shows up in all of them at the next generation.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

PROG = "pulumi-diy"
_EXAMPLE = re.compile(r"^Examples?:\s*(.*)$")


@dataclass(frozen=True)
class Param:
    """An option or a positional argument."""

    name: str
    opts: tuple[str, ...]  # every spelling (`--backend`, `-b`, `--no-x`); () for an argument
    metavar: str
    help: str
    is_flag: bool
    multiple: bool
    required: bool
    default: str | None
    nargs: int
    values: str  # how its value completes: dynamic | choices | file | dir | "" (free text)
    choices: tuple[str, ...] = ()

    @property
    def is_option(self) -> bool:
        return bool(self.opts)

    @property
    def takes_value(self) -> bool:
        return self.is_option and not self.is_flag

    @property
    def long(self) -> tuple[str, ...]:
        return tuple(o for o in self.opts if o.startswith("--"))

    @property
    def short(self) -> tuple[str, ...]:
        return tuple(o for o in self.opts if not o.startswith("--"))

    @property
    def display_metavar(self) -> str:
        m = self.metavar.rstrip(".")
        return m[1:-1] if m.startswith("[") and m.endswith("]") else m


@dataclass(frozen=True)
class Command:
    """A command or a command group, with its whole sub-tree."""

    path: tuple[str, ...]
    help: tuple[str, ...]  # paragraphs of the description, Example lines removed
    examples: tuple[str, ...]
    options: tuple[Param, ...]
    arguments: tuple[Param, ...]
    subcommands: tuple[Command, ...] = field(default=())

    @property
    def name(self) -> str:
        return " ".join(self.path)

    @property
    def full_name(self) -> str:
        return " ".join((PROG, *self.path))

    @property
    def is_group(self) -> bool:
        return bool(self.subcommands)

    @property
    def summary(self) -> str:
        """The first sentence of the help, for menus."""
        first = self.help[0] if self.help else ""
        m = re.match(r"(.+?\.)(\s|$)", first)
        return (m.group(1) if m else first).rstrip(".")

    @property
    def usage(self) -> str:
        parts = [self.full_name]
        if any(o.name != "help" for o in self.options):
            parts.append("[OPTIONS]")
        if self.is_group:
            parts.append("COMMAND [ARGS]...")
        for a in self.arguments:
            shown = a.display_metavar + ("..." if a.nargs == -1 else "")
            parts.append(shown if a.required else f"[{shown}]")
        return " ".join(parts)

    def walk(self) -> Iterator[Command]:
        yield self
        for sub in self.subcommands:
            yield from sub.walk()


def short_text(text: str, limit: int = 80) -> str:
    """One line of at most ``limit`` characters, cut at a word."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 3].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "..."


def split_help(raw: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A docstring -> (paragraphs, examples). ``Example:`` lines become examples; `; pulumi-diy` splits."""
    text = inspect.cleandoc(raw or "").partition("\f")[0]
    paragraphs: list[str] = []
    examples: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        kept = []
        for line in block.splitlines():
            m = _EXAMPLE.match(line.strip())
            if m:
                examples += [e.strip() for e in re.split(rf";\s*(?={PROG}\b)", m.group(1)) if e.strip()]
            else:
                kept.append(line.strip())
        if kept:
            paragraphs.append(" ".join(kept))
    return tuple(paragraphs), tuple(examples)


def _choices(param: Any) -> tuple[str, ...]:
    desc = getattr(param, "type_descriptor", None)
    found = desc.choices if desc is not None else None
    return tuple(str(getattr(c, "value", c)) for c in found or ())


def _value_kind(param: Any) -> str:
    if getattr(param, "_custom_shell_complete", None) is not None:
        return "dynamic"
    if _choices(param):
        return "choices"
    desc = getattr(param, "type_descriptor", None)
    if desc is not None and desc.is_path:
        info = desc.parameter_info
        return "dir" if info.dir_okay and not info.file_okay else "file"
    return ""


def _metavar(param: Any, is_option: bool) -> str:
    if param.metavar:
        return str(param.metavar)
    if not is_option:
        return str(param.name).upper()
    desc = getattr(param, "type_descriptor", None)
    annotation = getattr(desc, "annotation", None)
    if desc is not None and desc.is_path:
        return "DIR" if desc.parameter_info.dir_okay and not desc.parameter_info.file_okay else "FILE"
    if annotation is int:
        return "N"
    longest = max(param.opts, key=len)
    return longest.lstrip("-").replace("-", "_").upper()


def _default(param: Any) -> str | None:
    value = param.default
    if value is None or isinstance(value, bool) or callable(value) or value in ((), []):
        return None
    return str(getattr(value, "value", value))


def _param(param: Any) -> Param:
    is_option = type(param).__name__.endswith("Option")
    return Param(
        name=str(param.name),
        # The help option's names come from a set: give them an order that does not change between runs.
        opts=tuple(sorted(param.opts, key=lambda o: (-len(o), o)) if param.name == "help" else param.opts)
        + tuple(param.secondary_opts) if is_option else (),
        metavar=_metavar(param, is_option),
        help=" ".join((getattr(param, "help", None) or "").split()),
        is_flag=bool(getattr(param, "is_flag", False)),
        multiple=bool(param.multiple),
        required=bool(param.required),
        default=_default(param),
        nargs=int(param.nargs),
        values=_value_kind(param),
        choices=_choices(param),
    )


def _command(cmd: Any, ctx: Any, path: tuple[str, ...]) -> Command:
    from typer import _click

    params = [p for p in cmd.get_params(ctx) if not getattr(p, "hidden", False)]
    help_paragraphs, examples = split_help(cmd.help)
    subs = []
    if hasattr(cmd, "commands"):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            sub_ctx = _click.Context(sub, info_name=name, parent=ctx)
            subs.append(_command(sub, sub_ctx, (*path, name)))
    return Command(
        path=path,
        help=help_paragraphs,
        examples=examples,
        options=tuple(_param(p) for p in params if type(p).__name__.endswith("Option")),
        arguments=tuple(_param(p) for p in params if not type(p).__name__.endswith("Option")),
        subcommands=tuple(subs),
    )


def load() -> Command:
    """The live command tree of ``pulumi_diy.cli.app``."""
    import typer
    from typer import _click

    from pulumi_diy.cli.app import app

    root = typer.main.get_command(app)
    ctx = _click.Context(root, info_name=PROG, **(root.context_settings or {}))
    return _command(root, ctx, ())
