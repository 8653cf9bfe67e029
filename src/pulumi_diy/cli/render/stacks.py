"""Human views of stack results."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import human_age, human_size

if TYPE_CHECKING:
    from rich.console import Console

    from ...stacks import ResourceNode, ResourceTree, StackDetails, StackSummary


def _ago(dt: datetime | None) -> str:
    if dt is None:
        return "n/a"
    return human_age((datetime.now(timezone.utc) - dt).total_seconds()) + " ago"


def _local(dt: datetime | None) -> str:
    return dt.astimezone().strftime("%Y-%m-%d %H:%M:%S %z") if dt else "n/a"


def stack_table(c: Console, rows: list[StackSummary]) -> None:
    from rich.table import Table

    if not rows:
        c.print("no stacks", markup=False)
        return
    t = Table(box=None, pad_edge=False, header_style="bold")
    for col, kw in (("NAME", {"no_wrap": True}), ("LAST UPDATE", {}), ("RESOURCES", {"justify": "right"}),
                    ("LOCKED", {}), ("SIZE", {"justify": "right"}), ("SECRETS", {}), ("NOTE", {"overflow": "fold"})):
        t.add_column(col, **kw)
    for r in rows:
        note = r.error or (f"{r.pending_operations} pending operation(s)" if r.pending_operations else "")
        if r.compression != "none":
            note = f"{r.compression} {note}".strip()
        t.add_row(r.name, _ago(r.last_update), "-" if r.resource_count is None else str(r.resource_count),
                  f"yes ({r.locks})" if r.locks else "", human_size(r.size), r.secrets_provider or "-", note)
    c.print(t)


def _value(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def stack_details(c: Console, d: StackDetails) -> None:
    from rich.table import Table

    c.print(f"Stack        {d.ref}", markup=False)
    c.print(f"Checkpoint   {d.key} ({human_size(d.size)}, {d.compression}, {d.style}, version {d.version}"
            + (f", features {', '.join(d.features)}" if d.features else "") + ")", markup=False)
    c.print(f"Last update  {_local(d.last_update)} ({_ago(d.last_update)}) by Pulumi {d.pulumi_version or 'n/a'}",
            markup=False)
    sp = d.secrets_provider
    c.print(f"Secrets      {sp['type'] if sp else 'none'}" + (f" {sp['url']}" if sp and sp.get('url') else ""),
            markup=False)
    c.print(f"History      {d.history_count} update(s), {d.backups_count} backup(s)", markup=False)
    if d.tags:
        c.print("Tags         " + ", ".join(f"{k}={v}" for k, v in sorted(d.tags.items())), markup=False)
    if d.tags_error:
        c.print(f"Tags         unreadable: {d.tags_error}", markup=False, style="yellow")
    if not d.magic_ok:
        c.print("Manifest magic does not match its version: Pulumi will refuse this checkpoint", style="bold red")
    if d.locks:
        c.print("Locked", style="bold yellow")
        for lock in d.locks:
            who = f"{lock.get('username')}@{lock.get('hostname')} (pid {lock.get('pid')})"
            c.print(f"  {lock['lockId']}: {who if not lock.get('corrupt') else 'corrupt: ' + lock['corrupt']}"
                    f" since {lock.get('timestamp') or 'n/a'}", markup=False)
    if d.pending_operations:
        c.print(f"{len(d.pending_operations)} pending operation(s): an update was interrupted", style="bold red")
        for op in d.pending_operations:
            c.print(f"  {op['type']:<9} {op['urn']}", markup=False)
    c.print(f"\nResources ({d.resource_count})", style="bold")
    t = Table(box=None, pad_edge=False, show_header=False)
    t.add_column("type")
    t.add_column("count", justify="right")
    for typ, n in d.resources_by_type.items():
        t.add_row(typ, str(n))
    c.print(t)
    if d.providers:
        c.print("\nProviders", style="bold")
        for p in d.providers:
            c.print(f"  {p['urn']}" + (f" (version {p['version']})" if p.get("version") else ""), markup=False)
    if d.outputs:
        c.print("\nOutputs", style="bold")
        width = max(len(k) for k in d.outputs)
        for k, v in sorted(d.outputs.items()):
            c.print(f"  {k:<{width}}  {_value(v)}", markup=False)
    if d.integrity:
        c.print(f"\nIntegrity problems ({len(d.integrity)})", style="bold yellow")
        for p in d.integrity:
            c.print(f"  {p['urn']}: {p['message']}", markup=False)


def _node_label(n: ResourceNode) -> str:
    marks = f" [{', '.join(n.marks)}]" if n.marks else ""
    ident = f" id={n.id}" if n.id else ""
    return f"{n.type} {n.name}{ident}{marks}"


def resource_tree(c: Console, tree: ResourceTree) -> None:
    if tree.flat:
        for n in tree.roots:
            c.print(_node_label(n), markup=False, highlight=False)
        c.print(f"{tree.count} resource(s)", markup=False, style="dim")
        return
    from rich.markup import escape
    from rich.tree import Tree

    root = Tree(f"{tree.ref} ({tree.count} resources)", guide_style="dim")

    def add(parent: Tree, node: ResourceNode) -> None:
        branch = parent.add(escape(_node_label(node)))
        for child in node.children:
            add(branch, child)

    for n in tree.roots:
        add(root, n)
    c.print(root)


def urn_lines(c: Console, tree: ResourceTree) -> None:
    def walk(nodes: list[ResourceNode]) -> None:
        for n in nodes:
            c.print(n.urn, markup=False, highlight=False, soft_wrap=True)
            walk(n.children)

    walk(tree.roots)
