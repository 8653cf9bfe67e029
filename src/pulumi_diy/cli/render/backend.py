"""Human views of backend-level results."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import human_size

if TYPE_CHECKING:
    from rich.console import Console

    from ...config import Settings
    from ...info import BackendInfo


def backend_info(c: Console, i: BackendInfo) -> None:
    meta = f"meta.yaml version {i.meta_version}" if i.meta_present else f"no meta.yaml ({i.meta_source})"
    lines = [
        ("Backend", i.url),
        ("Storage", i.kind),
        ("Layout", f"{i.layout} ({meta})"),
        ("Projects", str(i.projects)),
        ("Stacks", str(i.stacks)),
        ("History", f"{i.history_entries} update(s), {human_size(i.bytes['history'])}"),
        ("Backups", f"{i.backups}, {human_size(i.bytes['backups'])}"),
        ("Locks", str(i.locks)),
        ("Checkpoints", f"{human_size(i.bytes['current'])} current, {human_size(i.bytes['stacks'])} with .bak/tags"),
        ("Compression", ", ".join(f"{k}: {v}" for k, v in i.compression.items()) or "-"),
    ]
    if i.other_files:
        lines.append(("Other files", ", ".join(f"{k}: {v}" for k, v in i.other_files.items())))
    for k, v in sorted(i.server.items()):
        lines.append((k.replace("_", " ").capitalize(), str(v)))
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        c.print(f"{k:<{width}}  {v}", markup=False, highlight=False)
    if i.legacy_files:
        c.print(f"warning: {len(i.legacy_files)} legacy stack file(s) in a project-layout store "
                "(Pulumi ignores them): " + ", ".join(i.legacy_files[:5]), markup=False, style="yellow")


def settings_table(c: Console, s: Settings) -> None:
    rows = [(x.name, x.shown() or "-", x.source) for x in s.all()]
    w1 = max(len(r[0]) for r in rows)
    w2 = min(max(len(r[1]) for r in rows), 60)
    for name, value, source in rows:
        c.print(f"{name:<{w1}}  {value:<{w2}}  ({source})", markup=False, highlight=False)
