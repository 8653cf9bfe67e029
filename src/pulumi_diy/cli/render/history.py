"""Human views of history results (`history ...`, `stack ls --deleted`, `stack restore`)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import human_age, human_size

if TYPE_CHECKING:
    from rich.console import Console

    from ...history import (
        DeletedStack,
        DeploymentDiff,
        HistoryDetails,
        HistoryDiff,
        HistoryEntry,
        HistoryFeed,
        HistoryPage,
        PropertyChange,
        PruneResult,
        RestoreResult,
        StackRestoreResult,
    )

_MASK = "[secret]"
_WIDTH = 100


def _local(dt: datetime | None) -> str:
    return dt.astimezone().strftime("%Y-%m-%d %H:%M:%S") if dt else "-"


def _ago(dt: datetime | None) -> str:
    return human_age((datetime.now(timezone.utc) - dt).total_seconds()) + " ago" if dt else "-"


def _duration(seconds: int | None) -> str:
    return "-" if seconds is None else human_age(seconds)


def _changes(changes: dict[str, int]) -> str:
    marks = (("create", "+"), ("delete", "-"), ("update", "~"), ("replace", "+-"), ("same", "="))
    parts = [f"{sign}{changes[op]}" for op, sign in marks if changes.get(op)]
    others = sum(v for k, v in changes.items() if k not in dict(marks))
    if others:
        parts.append(f"*{others}")
    return " ".join(parts) or "-"


def _git(e: HistoryEntry) -> str:
    head = (e.env("git.head") or "")[:8]
    branch = (e.env("git.headName") or "").removeprefix("refs/heads/")
    if not head and not branch:
        return "-"
    return f"{branch}@{head}" if branch and head else branch or head


def _ci(e: HistoryEntry) -> str:
    system = e.env("ci.system")
    if not system:
        return "-"
    build = e.env("ci.build.number") or e.env("ci.build.id")
    return f"{system} #{build}" if build else system


def _entry_table(c: Console, entries: tuple[HistoryEntry, ...], *, with_stack: bool) -> None:
    from rich.table import Table

    t = Table(box=None, pad_edge=False, header_style="bold")
    columns = ["VERSION", "KIND", "RESULT", "STARTED", "DURATION", "CHANGES", "AUTHOR", "GIT", "CI", "PULUMI",
               "MESSAGE"]
    if with_stack:
        columns.insert(0, "STACK")
    for col in columns:
        t.add_column(col, no_wrap=col != "MESSAGE", overflow="fold",
                     justify="right" if col in ("VERSION", "DURATION") else "left")
    for e in entries:
        result = e.result or "-"
        style = "green" if result == "succeeded" else "red" if result == "failed" else None
        from rich.text import Text

        row: list[Any] = [str(e.ref)] if with_stack else []
        if e.error:
            row += [str(e.version), "?", Text("unreadable", style="red"), "-", "-", "-", "-", "-", "-", "-",
                    Text(e.error)]
        else:
            row += [str(e.version), e.kind or "-", Text(result, style=style or ""), _local(e.started),
                    _duration(e.duration), _changes(e.resource_changes), e.user or "-", _git(e), _ci(e),
                    e.pulumi_version or "-", Text(e.message.splitlines()[0] if e.message else "")]
        t.add_row(*row)
    c.print(t)


def history_page(c: Console, page: HistoryPage) -> None:
    if not page.total:
        c.print(f"stack {page.ref} has no history", markup=False)
        return
    _entry_table(c, page.entries, with_stack=False)
    if len(page.entries) < page.total:
        c.print(f"{len(page.entries)} of {page.total} versions shown (--limit 0 shows all)", markup=False,
                style="dim")


def history_feed(c: Console, feed: HistoryFeed) -> None:
    if not feed.entries:
        c.print("no updates match", markup=False)
        return
    _entry_table(c, feed.entries, with_stack=True)
    c.print(f"{len(feed.entries)} of {feed.total} update(s) in {feed.stacks} stack(s)", markup=False,
            style="dim")


def history_details(c: Console, d: HistoryDetails) -> None:
    e = d.entry
    lines = [("Stack", str(e.ref)), ("Version", f"{e.version} of {d.total} (id {e.id})")]
    if e.error:
        lines.append(("Error", e.error))
    lines += [("Kind", e.kind or "-"), ("Result", e.result or "-"), ("Message", e.message or "-"),
              ("Started", f"{_local(e.started)} ({_ago(e.started)})"), ("Duration", _duration(e.duration)),
              ("Changes", _changes(e.resource_changes)), ("Author", e.user or "-"), ("Git", _git(e)),
              ("CI", _ci(e)), ("Pulumi", e.pulumi_version or "-"), ("History file", e.key)]
    cp = d.checkpoint
    if cp is not None:
        pending = f", {cp.pending_operations} pending operation(s)" if cp.pending_operations else ""
        secrets = cp.secrets_provider or "none"
        what = cp.error or f"{cp.resource_count} resource(s), secrets {secrets}{pending}"
        lines.append(("Checkpoint", f"{cp.key} ({human_size(cp.size)}): {what}"))
    else:
        lines.append(("Checkpoint", "missing"))
    for label, value in lines:
        c.print(f"{label:<13} {value}", markup=False)
    config = d.masked_config
    if config:
        c.print("\nConfig", style="bold")
        width = max(len(k) for k in config)
        for k, v in config.items():
            c.print(f"  {k:<{width}}  {_plain(v)}", markup=False)
    if e.environment:
        c.print("\nEnvironment", style="bold")
        width = max(len(k) for k in e.environment)
        for k, v in e.environment.items():
            c.print(f"  {k:<{width}}  {v}", markup=False)


def _plain(v: Any) -> str:
    if v == _MASK or isinstance(v, str):
        return str(v)
    return json.dumps(v, ensure_ascii=False)


def _show(v: Any) -> str:
    text = _MASK if v == _MASK else json.dumps(v, ensure_ascii=False)
    return text if len(text) <= _WIDTH else text[: _WIDTH - 3] + "..."


def _short_urn(urn: Any) -> str:
    if not isinstance(urn, str) or not urn.startswith("urn:pulumi:"):
        return _show(urn)
    parts = urn.split("::", 3)
    return f"{parts[2].rsplit('$', 1)[-1]}::{parts[3]}" if len(parts) == 4 else urn


_BOOL_FIELDS = frozenset({"custom", "delete", "protect", "taint", "external", "pendingReplacement",
                          "retainOnDelete", "refreshBeforeUpdate"})


def _field_value(name: str, v: Any) -> str:
    if v is None:
        return "false" if name in _BOOL_FIELDS else "-"
    if name == "provider" and isinstance(v, str):
        urn, _, pid = v.rpartition("::")
        return f"{_short_urn(urn)} ({pid[:8]})"
    if name in ("parent", "deletedWith", "viewOf"):
        return _short_urn(v)
    return _show(v)


def _property_line(p: PropertyChange, prefix: str = "") -> tuple[str, str, str]:
    path = prefix + p.path if p.path else prefix.rstrip(".") or "(all)"
    if p.op == "added":
        return "+", "green", f"{path}: {_show(p.new)}"
    if p.op == "removed":
        return "-", "red", f"{path}: {_show(p.old)}"
    if p.op == "not-compared":
        return "?", "yellow", f"{path}: [secret] (not compared: key unavailable)"
    return "~", "yellow", f"{path}: {_show(p.old)} -> {_show(p.new)}"


_OPS = {"add": ("+", "green", "added"), "remove": ("-", "red", "removed"),
        "replace": ("+-", "magenta", "replaced"), "change": ("~", "yellow", "changed")}


def diff_body(c: Console, d: DeploymentDiff) -> None:
    s = d.summary
    c.print(f"Resources: {s['add']} added, {s['remove']} removed, {s['replace']} replaced, "
            f"{s['change']} changed, {s['same']} unchanged", markup=False, style="bold")
    for r in d.resources:
        sign, style, word = _OPS[r.op]
        ident = f" (id {r.old_id} -> {r.new_id})" if r.op == "replace" else ""
        c.print(f"{sign:>2} {_short_urn(r.urn)} {word}{ident}", markup=False, style=style)
        for f in r.fields:
            if f.field == "dependencies" and isinstance(f.old or [], list) and isinstance(f.new or [], list):
                gained = [x for x in f.new or [] if x not in (f.old or [])]
                lost = [x for x in f.old or [] if x not in (f.new or [])]
                text = ", ".join([f"+{_short_urn(x)}" for x in gained] + [f"-{_short_urn(x)}" for x in lost])
                c.print(f"      ~ dependencies: {text}", markup=False)
                continue
            c.print(f"      ~ {f.field}: {_field_value(f.field, f.old)} -> {_field_value(f.field, f.new)}",
                    markup=False)
        for p in r.properties:
            sign2, style2, text = _property_line(p, "outputs." if p.section == "outputs" else "")
            c.print(f"      {sign2} {text}", markup=False, style=style2)
    if d.outputs:
        c.print("Stack outputs:", markup=False, style="bold")
        for p in d.outputs:
            sign2, style2, text = _property_line(p)
            c.print(f"   {sign2} {text}", markup=False, style=style2)
    notes = []
    if d.old_pulumi_version != d.new_pulumi_version:
        notes.append(f"Pulumi version: {d.old_pulumi_version or '-'} -> {d.new_pulumi_version or '-'}")
    if d.secrets_provider_changed:
        notes.append("the secrets provider differs")
    if d.old_pending or d.new_pending:
        notes.append(f"pending operations: {d.old_pending} -> {d.new_pending}")
    if d.not_compared:
        notes.append(f"{len(d.not_compared)} secret(s) not compared: their key is not available "
                     "(set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE to compare them)")
    for n in notes:
        c.print(f"note: {n}", markup=False, style="dim")


def history_diff(c: Console, hd: HistoryDiff) -> None:
    c.print(f"{hd.ref}: {hd.old_label} -> {hd.new_label}", markup=False, style="bold")
    if hd.diff.empty:
        c.print("no differences", markup=False)
    else:
        diff_body(c, hd.diff)


def restore_result(c: Console, r: RestoreResult) -> None:
    head = f"{r.ref}: restore version {r.version} (id {r.version_id}) from {r.source_key}"
    c.print(head, markup=False, style="bold")
    if r.unchanged:
        c.print(f"nothing to do: the current checkpoint already equals version {r.version}", markup=False)
        return
    diff_body(c, r.diff)
    if r.reencrypted:
        c.print("secrets re-encrypted with the current secrets provider", markup=False)
    for w in r.warnings:
        c.print(f"warning: {w}", markup=False, style="yellow")
    if r.cancelled:
        c.print("cancelled: nothing written", markup=False)
    elif r.dry_run:
        c.print("dry run: nothing written", markup=False)
    elif r.written and r.save is not None:
        backup = f"; previous checkpoint backed up to {r.save.backup_key}" if r.save.backup_key else ""
        c.print(f"restored: wrote {r.save.key}{backup}", markup=False, style="green")


def prune_result(c: Console, r: PruneResult) -> None:
    from rich.table import Table

    t = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("STACK", "ENTRIES", "REMOVED", "BACKUPS", "REMOVED ", "FREED", "NOTE"):
        t.add_column(col, justify="right" if col not in ("STACK", "NOTE") else "left", no_wrap=col != "NOTE")
    for s in r.stacks:
        t.add_row(str(s.ref), str(s.entries), str(s.entries_removed), str(s.backups), str(s.backups_removed),
                  human_size(s.bytes), "; ".join(s.errors))
    c.print(t)
    if not r.files:
        c.print("nothing to remove: every entry and backup is within the rule", markup=False, style="bold")
        return
    verb = "would remove" if r.dry_run or r.cancelled else "removed"
    c.print(f"{verb} {r.entries_removed} history entr{'y' if r.entries_removed == 1 else 'ies'} and "
            f"{r.backups_removed} backup(s): {r.files} file(s), {human_size(r.bytes)}", markup=False,
            style="bold")
    if r.cancelled:
        c.print("cancelled: nothing removed", markup=False)
    elif r.dry_run:
        c.print("dry run: nothing removed", markup=False)
    elif r.entries_removed:
        c.print("remaining versions are renumbered from 1; entry ids are unchanged", markup=False,
                style="dim")


def deleted_table(c: Console, rows: list[DeletedStack]) -> None:
    from rich.table import Table

    if not rows:
        c.print("no deleted stacks", markup=False)
        return
    t = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("NAME", "LAST COPY", "COPIES", "NEWEST", "SIZE"):
        t.add_column(col, no_wrap=True)
    for d in rows:
        kinds: dict[str, int] = {}
        for copy in d.copies:
            kinds[copy.kind] = kinds.get(copy.kind, 0) + 1
        counts = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        t.add_row(str(d.ref), f"{_local(d.newest.time)} ({_ago(d.newest.time)})", counts, d.newest.id,
                  human_size(d.newest.size))
    c.print(t)
    c.print("restore one with: pulumi-diy stack restore NAME [--from-backup ID]", markup=False, style="dim")


def stack_restore_result(c: Console, r: StackRestoreResult) -> None:
    src = r.source
    c.print(f"{r.ref}: restore from {src.kind} copy {src.id} ({src.key}, {_local(src.time)})", markup=False,
            style="bold")
    count = "-" if r.resource_count is None else str(r.resource_count)
    c.print(f"  {count} resource(s), last update {_local(r.last_update)}, Pulumi {r.pulumi_version or '-'}, "
            f"secrets {r.secrets_provider or 'none'}", markup=False)
    if r.cancelled:
        c.print("cancelled: nothing written", markup=False)
    elif r.dry_run:
        c.print("dry run: nothing written", markup=False)
    elif r.written and r.save is not None:
        c.print(f"restored: wrote {r.save.key} (recreate Pulumi.{r.ref.name}.yaml if `stack rm` deleted it)",
                markup=False, style="green")
