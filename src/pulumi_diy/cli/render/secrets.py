"""Human views of the secrets commands' results (never a plaintext: the results hold none)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from ...secrets.rekey import RekeyResult, StackChange
    from ...secrets.scan import SecretsListing
    from ...secrets.verify import VerifyResult


def _table(*columns: str) -> Table:
    from rich.table import Table

    t = Table(box=None, pad_edge=False, header_style="bold")
    for col in columns:
        t.add_column(col, overflow="fold")
    return t


def listing(c: Console, r: SecretsListing) -> None:
    c.print(f"Stack       {r.stack}", markup=False)
    c.print(f"Checkpoint  {r.checkpoint}", markup=False)
    c.print(f"Provider    {r.key.label if r.key else 'none'}", markup=False)
    if r.locations:
        t = _table("URN", "PROPERTY")
        for loc in r.locations:
            t.add_row(loc.urn, f"{loc.section}.{loc.path}" if loc.path else loc.section)
        c.print(t)
    else:
        c.print("no secrets in the current checkpoint", markup=False)
    if r.plaintext_secrets:
        c.print(f"{r.plaintext_secrets} secret(s) stored unencrypted (plaintext form)", markup=False)
    if r.settings_file:
        c.print(
            f"Settings    {r.settings_file} ({r.settings_key.label if r.settings_key else 'no provider'})",
            markup=False,
        )
        for key in r.config_keys:
            c.print(f"  secure config {key}", markup=False)


def verify_report(c: Console, r: VerifyResult) -> None:
    for s in r.stacks:
        counts = Counter(f.status for f in s.files)
        state = "ok" if s.ok else "FAILED"
        c.print(
            f"{s.stack}: {state} ({len(s.files)} files: "
            + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            + ")",
            markup=False,
        )
        t = _table("FILE", "KIND", "SECRETS", "KEY", "STATUS")
        for f in s.files:
            status = (
                f.status
                + (f" ({f.rotation} key)" if f.rotation else "")
                + (f": {f.error}" if f.error else "")
            )
            t.add_row(f.key, f.kind, str(f.secrets), f.provider.label if f.provider else "-", status)
        c.print(t)
        for w in s.warnings:
            c.print(f"  warning: {w}", markup=False)
    for w in r.warnings:
        c.print(f"warning: {w}", markup=False)
    for j in r.journals:
        c.print(
            f"unfinished rotation run {j.id} ({j.operation}, started {j.created} on {j.host}): "
            f"{len(j.pending)} stack(s) pending: {', '.join(j.pending) or '-'}; "
            f"finish with `pulumi-diy secrets rotate --resume --run-id {j.id}`",
            markup=False,
        )
    c.print("all secrets decrypt" if r.ok else "verification FAILED", markup=False)


def _kinds(s: StackChange, actions: tuple[str, ...]) -> str:
    counts = Counter(f.kind for f in s.files if f.action in actions)
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "nothing"


def plan_summary(c: Console, r: RekeyResult) -> None:
    """What a run is about to do (stderr, before the confirmation)."""
    for s in r.stacks:
        c.print(
            f"{s.stack}: {s.old.label if s.old else 'no key'} -> {s.new.label if s.new else s.target}: "
            f"{_kinds(s, ('rewrite',))}",
            markup=False,
        )
    for w in r.warnings:
        c.print(f"warning: {w}", markup=False)


def rekey_report(c: Console, r: RekeyResult) -> None:
    if r.status == "planned":
        c.print(
            f"dry run: {r.files_to_rewrite} file(s) of {len(r.stacks)} stack(s) would be re-encrypted; "
            "every secret decrypts with the current key(s)",
            markup=False,
        )
        plan_summary(c, r)
        return
    if r.status == "cancelled":
        c.print("cancelled: nothing was written", markup=False)
        return
    verb = "resumed and finished" if r.resumed else "finished"
    c.print(
        f"{r.operation} run {r.run_id} {verb}: {r.files_to_rewrite} file(s) of {len(r.stacks)} stack(s) "
        f"re-encrypted in {r.seconds:.1f}s",
        markup=False,
    )
    for s in r.stacks:
        c.print(
            f"{s.stack}: {s.old.label if s.old else 'no key'} -> {s.new.label if s.new else s.target} "
            f"({_kinds(s, ('rewritten',))})",
            markup=False,
        )
        if s.new is not None and not s.settings_file:
            for key, value in s.new.settings().items():
                c.print(f"  set in Pulumi.{s.stack.rpartition('/')[2]}.yaml: {key}: {value}", markup=False)
    for w in r.warnings:
        c.print(f"warning: {w}", markup=False)
