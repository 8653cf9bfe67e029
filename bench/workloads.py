"""The workloads: each loads a dataset into a target, measures pulumi-diy, the floor and the
Pulumi-equivalent baseline, and returns result rows (see :func:`row` for the keys)."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import floor, pulumi_equiv
from .generate import NEW_PASSPHRASE, PASSPHRASE, Servers, big_states, listing, loaded, rotation, single
from .measure import Impl, Sample, compare
from .raw import RawClient, is_stack_file

REPO = Path(__file__).resolve().parent.parent
LISTING = ("ls-cold", "ls-warm", "ls-warm-1pct", "lock-ls", "history-feed")
SINGLE = ("history", "history-all", "export")
WORKLOADS = (*LISTING, *SINGLE, "ls-memory", "rotate", "startup")
ROW_KEYS = ("workload", "kind", "size", "data_mb", "diy_s", "floor_s", "pulumi_s", "diy_over_floor", "pulumi_over_diy",
            "diy_peak_mb", "floor_peak_mb", "pulumi_peak_mb", "target", "status", "note", "runs")


@dataclass(frozen=True)
class Params:
    """Sizes of the fixed-size workloads (the issue's numbers; `--smoke` shrinks them)."""

    history_entries: int = 2000
    history_limit: int = 50
    export_mb: float = 50
    rotate_stacks: int = 100
    rotate_history: int = 20
    big_stacks: int = 400
    big_state_kb: int = 250
    pulumi_rotate_sample: int = 3


SMOKE = Params(history_entries=12, history_limit=5, export_mb=0.2, rotate_stacks=2, rotate_history=2, big_stacks=4,
               big_state_kb=40, pulumi_rotate_sample=1)


@dataclass
class Context:
    data_dir: Path
    work_dir: Path
    servers: Servers
    repeat: int
    params: Params
    rotate_repeat: int = 1
    startup_repeat: int = 5
    memory: bool = True


@dataclass(frozen=True)
class Rule:
    """A pass/miss rule: diy/floor at most ``max_over_floor``, pulumi/diy at least ``min_speedup``."""

    text: str
    max_over_floor: float | None = None
    min_speedup: float | None = None
    size: int | None = None  # only judged at this size


def _mb(n: int | None) -> float | None:
    return None if n is None else round(n / 1e6, 2)


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(x, nd)


def row(workload: str, kind: str, size: int | str | None, samples: dict[str, Sample], *,
        rule: Rule | None = None, note: str = "", data_bytes: int | None = None) -> dict[str, Any]:
    """One result row; every row has exactly :data:`ROW_KEYS` (the smoke test pins them)."""
    diy, flo, pul = (samples[k].median if k in samples else None for k in ("diy", "floor", "pulumi"))
    over = diy / flo if diy and flo else None
    speed = pul / diy if diy and pul else None
    status = "info"
    if rule is not None and (rule.size is None or rule.size == size):
        ok = True
        if rule.max_over_floor is not None:
            ok = ok and over is not None and over <= rule.max_over_floor
        if rule.min_speedup is not None:
            ok = ok and speed is not None and speed >= rule.min_speedup
        status = "pass" if ok else "miss"
    return {
        "workload": workload, "kind": kind, "size": size, "data_mb": _mb(data_bytes),
        "diy_s": _r(diy), "floor_s": _r(flo), "pulumi_s": _r(pul),
        "diy_over_floor": _r(over, 2), "pulumi_over_diy": _r(speed, 2),
        "diy_peak_mb": _mb(samples["diy"].peak_bytes) if "diy" in samples else None,
        "floor_peak_mb": _mb(samples["floor"].peak_bytes) if "floor" in samples else None,
        "pulumi_peak_mb": _mb(samples["pulumi"].peak_bytes) if "pulumi" in samples else None,
        "target": rule.text if rule else None, "status": status, "note": note,
        "runs": {k: [round(t, 4) for t in s.seconds] for k, s in samples.items()},
    }


def skipped(workload: str, kind: str, size: int | str | None, reason: str) -> dict[str, Any]:
    out = dict.fromkeys(ROW_KEYS)
    out.update(workload=workload, kind=kind, size=size, status=f"skipped: {reason}", note="", runs={})
    return out


# --- pulumi-diy side ----------------------------------------------------------------------------


def _optional(module: str, name: str) -> Callable[..., Any] | None:
    """A public function of a module that may not exist yet (then its workload is skipped)."""
    import importlib

    try:
        fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return fn


def _warm_up(backend: Any) -> Any:
    """Open connections/sessions outside the timed region (the floors get ready-made clients too)."""
    backend.store.exists(".pulumi/bench-warm-up")
    return backend


def diy_impl(target: Any, fn: Callable[[Any], Any], *, cache: str | None = "fresh",
             before: Callable[[], None] = lambda: None) -> Impl:
    """``fn(backend)`` on a freshly opened backend; ``cache``: "fresh" (empty per run), a directory, or None."""

    def setup() -> tuple[Any, str | None]:
        before()
        directory = tempfile.mkdtemp(prefix="bench-cache-") if cache == "fresh" else cache
        return _warm_up(target.open(directory)), directory

    def teardown(arg: tuple[Any, str | None]) -> None:
        arg[0].close()
        if cache == "fresh" and arg[1]:
            shutil.rmtree(arg[1], ignore_errors=True)

    return Impl(run=lambda arg: fn(arg[0]), setup=setup, teardown=teardown)


# --- listing: stack ls cold / warm / 1% changed, lock ls --------------------------------------------


def _swapper(raw: RawClient, keys: list[str]) -> Callable[[], None]:
    """Simulate updates: swap the current checkpoint with its `.bak` for ``keys``."""

    def swap() -> None:
        for key in keys:
            current, previous = raw.get(key), raw.get(key + ".bak")
            raw.put(key, previous)
            raw.put(key + ".bak", current)

    return swap


def run_listing(ctx: Context, kind: str, size: int, selected: set[str]) -> list[dict[str, Any]]:
    from pulumi_diy.history import history_feed
    from pulumi_diy.locks import list_locks
    from pulumi_diy.stacks import list_stacks

    rows: list[dict[str, Any]] = []
    with loaded(listing(size), kind, ctx.data_dir, ctx.work_dir, ctx.servers) as target:
        raw = target.raw
        states = sum(n for k, n in target.source_sizes(".pulumi/stacks").items() if is_stack_file(k))
        pulumi = Impl(run=lambda _: pulumi_equiv.ls(raw))
        cold_note = ("no cache; diy reads 64 at a time, Pulumi 10; floor: 32 threads (S3), one query per 256 keys "
                     "(PostgreSQL), serial (files)")
        samples: dict[str, Sample] = {}
        if selected & {"ls-cold", "ls-warm", "ls-warm-1pct"}:
            impls = {"diy": diy_impl(target, list_stacks), "floor": Impl(run=lambda _: floor.ls_cold(raw)),
                     "pulumi": pulumi}
            if "ls-cold" not in selected:
                impls = {"pulumi": pulumi}
            samples = compare(impls, ctx.repeat, memory=ctx.memory)
        if "ls-cold" in selected:
            rule = Rule("<= 1.5x floor and >= 5x faster than Pulumi (1,000 stacks)", 1.5, 5.0, 1000)
            rows.append(row("ls-cold", kind, size, samples, rule=rule, note=cold_note, data_bytes=states))
        warm_cache = tempfile.mkdtemp(prefix="bench-warm-")
        try:
            if selected & {"ls-warm", "ls-warm-1pct"}:
                with target.open(warm_cache) as b:
                    list_stacks(b)  # prime the cache
            if "ls-warm" in selected:
                got = compare({"diy": diy_impl(target, list_stacks, cache=warm_cache),
                               "floor": Impl(run=lambda _: floor.ls_listing(raw))}, ctx.repeat, memory=ctx.memory)
                got["pulumi"] = samples["pulumi"]
                rows.append(row("ls-warm", kind, size, got, note="floor = the bare listing; Pulumi has no cache",
                                rule=Rule("<= 1.3x the bare listing (1,000 stacks)", 1.3, None, 1000)))
            if "ls-warm-1pct" in selected:
                keys = sorted(o.key for o in raw.walk(".pulumi/stacks") if is_stack_file(o.key))
                swap = _swapper(raw, keys[:: 100][: max(1, len(keys) // 100)])

                def floor_setup() -> dict[str, str]:
                    known = floor.fingerprints(raw)
                    swap()
                    return known

                got = compare({"diy": diy_impl(target, list_stacks, cache=warm_cache, before=swap),
                               "floor": Impl(run=lambda known: floor.ls_changed(raw, known), setup=floor_setup)},
                              ctx.repeat, memory=ctx.memory)
                got["pulumi"] = samples["pulumi"]
                rows.append(row("ls-warm-1pct", kind, size, got,
                                note="1% of checkpoints rewritten before each run; floor = listing + those reads"))
        finally:
            shutil.rmtree(warm_cache, ignore_errors=True)
        if "lock-ls" in selected:
            got = compare({"diy": diy_impl(target, list_locks, cache=None),
                           "floor": Impl(run=lambda _: floor.locks(raw)),
                           "pulumi": Impl(run=lambda _: pulumi_equiv.locks(raw))}, ctx.repeat, memory=ctx.memory)
            rows.append(row("lock-ls", kind, size, got,
                            note="10% of stacks locked; Pulumi has no lock ls: baseline = its per-stack lock check"))
        if "history-feed" in selected:
            limit = ctx.params.history_limit
            got = compare({"diy": diy_impl(target, lambda b: history_feed(b, limit=limit)),
                           "floor": Impl(run=lambda _: floor.history_feed(raw, limit)),
                           "pulumi": Impl(run=lambda _: pulumi_equiv.history_feed(raw, limit))},
                          ctx.repeat, memory=ctx.memory)
            rows.append(row("history-feed", kind, size, got,
                            note=f"history ls --all, newest {limit} of 2 updates per stack; Pulumi has no feed: "
                                 "baseline = stack history of every stack, 10 at a time"))
    return rows


def run_memory(ctx: Context, kind: str) -> list[dict[str, Any]]:
    """`stack ls` cold over big states: does peak memory follow the total size of all states?"""
    from pulumi_diy.stacks import list_stacks

    p = ctx.params
    with loaded(big_states(p.big_stacks, p.big_state_kb), kind, ctx.data_dir, ctx.work_dir, ctx.servers) as target:
        raw = target.raw
        total = sum(n for k, n in target.source_sizes(".pulumi/stacks").items() if is_stack_file(k))
        got = compare({"diy": diy_impl(target, list_stacks), "floor": Impl(run=lambda _: floor.ls_cold(raw)),
                       "pulumi": Impl(run=lambda _: pulumi_equiv.ls(raw))}, ctx.repeat, memory=True)
    peak = got["diy"].peak_bytes or 0
    rule_ok = peak <= total / 2
    out = row("ls-memory", kind, f"{p.big_stacks}x{p.big_state_kb}KB", got, data_bytes=total,
              note=f"cold stack ls; diy peak = {peak / max(total, 1):.0%} of the states' total size")
    out["target"] = "peak memory of stack ls well below the total state size (<= 50%)"
    out["status"] = "pass" if rule_ok else "miss"
    return [out]


# --- one stack: history and export -------------------------------------------------------------------


def _history_impls(target: Any, list_history: Callable[..., Any], hdir: str, limit: int | None) -> dict[str, Impl]:
    from pulumi_diy.backend.layout import StackRef

    ref = StackRef("busy", "app")
    raw = target.raw

    def diy(backend: Any) -> Any:
        return list_history(backend, ref, limit=limit)

    return {"diy": diy_impl(target, diy),
            "floor": Impl(run=lambda _: floor.history(raw, hdir, limit)),
            "pulumi": Impl(run=lambda _: pulumi_equiv.history(raw, hdir, limit))}


def run_single(ctx: Context, kind: str, selected: set[str]) -> list[dict[str, Any]]:
    from pulumi_diy.backend.layout import StackRef
    from pulumi_diy.stacks import export_stack

    p = ctx.params
    rows: list[dict[str, Any]] = []
    with loaded(single(p.history_entries, p.export_mb), kind, ctx.data_dir, ctx.work_dir, ctx.servers) as target:
        raw = target.raw
        hdir = ".pulumi/history/busy/app"
        list_history = _optional("pulumi_diy.history", "list_history")
        for name, limit in (("history", p.history_limit), ("history-all", None)):
            if name not in selected:
                continue
            if list_history is None:
                rows.append(skipped(name, kind, p.history_entries, "not implemented yet"))
                continue
            got = compare(_history_impls(target, list_history, hdir, limit), ctx.repeat, memory=ctx.memory)
            shown = f"newest {limit}" if limit else "all"
            rule = Rule(f"<= 1.5x floor (2000 entries, newest {limit})", 1.5, size=2000) if limit else None
            rows.append(row(name, kind, p.history_entries, got, rule=rule,
                            note=f"{shown} of {p.history_entries} entries, empty cache; Pulumi reads one at a time"))
        if "export" in selected:
            ref = StackRef("big", "state")
            size = target.source_sizes(".pulumi/stacks")[".pulumi/stacks/big/state.json"]
            got = compare({
                "diy": diy_impl(target, lambda b: export_stack(b, ref), cache=None),
                "floor": Impl(run=lambda _: floor.export(raw, ".pulumi/stacks/big/state.json")),
                "pulumi": Impl(run=lambda _: pulumi_equiv.export(raw, ".pulumi/stacks/big/state")),
            }, ctx.repeat, memory=ctx.memory)
            rows.append(row("export", kind, f"{size / 1e6:.0f}MB", got,
                            note="floor serialises with json.dumps; diy writes Pulumi's exact bytes"))
    return rows


# --- secrets rotate ------------------------------------------------------------------------------------


def run_rotate(ctx: Context, kind: str) -> list[dict[str, Any]]:
    p = ctx.params
    size = f"{p.rotate_stacks}x{p.rotate_history}"
    try:
        from pulumi_diy.secrets import passphrase as passphrase_module
        from pulumi_diy.secrets.rekey import rekey, select_stacks
    except ImportError:
        return [skipped("rotate", kind, size, "not implemented yet")]
    with loaded(rotation(p.rotate_stacks, p.rotate_history), kind, ctx.data_dir, ctx.work_dir,
                ctx.servers) as target:
        current = [PASSPHRASE]
        batches: list[float] = []  # KDF speed drifts with machine load: sample it around every run

        def setup() -> Any:
            batches.append(floor.kdf_batch_seconds()[0])
            passphrase_module._keys.clear()  # each run derives its keys, as a new CLI process would
            return _warm_up(target.open(None))

        def run(backend: Any) -> Any:
            old, new = current[0], NEW_PASSPHRASE if current[0] == PASSPHRASE else PASSPHRASE
            result = rekey(backend, select_stacks(backend, all_stacks=True), passphrase=lambda: old,
                           new_passphrase=lambda: new)
            current[0] = new
            return result

        def teardown(backend: Any) -> None:
            backend.close()
            batches.append(floor.kdf_batch_seconds()[0])

        got = compare({"diy": Impl(run=run, setup=setup, teardown=teardown)}, ctx.rotate_repeat, memory=False)
        cores = os.cpu_count() or 1
        batch = statistics.median(batches)
        got["floor"] = Sample([floor.rotate_floor_seconds(p.rotate_stacks, batch, cores)])
        bases = pulumi_equiv.stack_bases(target.raw)[: p.pulumi_rotate_sample]
        got["pulumi"] = Sample([pulumi_equiv.rotate_seconds(target.raw, bases, p.rotate_stacks, current[0],
                                                            "bench-other")])
    return [row("rotate", kind, size, got,
                note=f"floor = 2 PBKDF2 per stack on {cores} cores ({batch:.2f}s per batch); Pulumi = "
                     f"change-secrets-provider per stack, serial, current file only, scaled from {len(bases)}")]


# --- start-up ----------------------------------------------------------------------------------------------


def run_startup(ctx: Context) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    rows = []
    repeat = ctx.startup_repeat
    for flag in ("--version", "--help"):
        samples: dict[str, Sample] = {"diy": Sample(), "floor": Sample()}
        peaks: dict[str, int] = {"diy": 0, "floor": 0}
        argv = {"diy": [sys.executable, "-m", "pulumi_diy", flag], "floor": floor.startup_argv()}
        floor.run_argv(argv["diy"], env)  # warm the OS page cache and __pycache__
        for _ in range(repeat):
            for name in ("diy", "floor"):
                seconds, rss = floor.run_argv(argv[name], env)
                samples[name].seconds.append(seconds)
                peaks[name] = max(peaks[name], rss or 0)
        for name in samples:
            samples[name].peak_bytes = peaks[name] or None
        rows.append(row(f"startup {flag}", "-", None, samples,
                        note="subprocess wall time; peak = max RSS; floor = python -c pass; no Pulumi CLI here"))
    return rows
