"""`python -m bench`: run the workloads, print a table, write bench/results/<date>.json.

    python -m bench                                   # sizes 100,1000; kinds file,s3,postgres; every workload
    python -m bench --sizes 100 --kinds file --workloads ls-cold,ls-warm --repeat 5
    python -m bench --smoke                           # tiny sizes, one run each: the CI check that nothing rotted
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

from .generate import Servers, split_kind
from .workloads import (
    LISTING,
    SINGLE,
    SMOKE,
    WORKLOADS,
    Context,
    Params,
    run_listing,
    run_memory,
    run_rotate,
    run_single,
    run_startup,
    skipped,
)

RESULTS = Path(__file__).resolve().parent / "results"
KINDS = ("file", "s3", "postgres")


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,1000", help="stack counts for the listing workloads (default 100,1000)")
    ap.add_argument("--kinds", default=",".join(KINDS),
                    help="storage kinds: file, s3, postgres; s3+rtt20 / postgres+rtt20 add 20 ms per round trip")
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="any of: " + ", ".join(WORKLOADS))
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per implementation (median reported)")
    ap.add_argument("--rotate-repeat", type=int, default=1, help="timed runs of secrets rotate (each ~1 min)")
    ap.add_argument("--rotate-stacks", type=int, default=None, help="stacks in the rotate workload (default 100)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes and one run: checks the harness, not speed")
    ap.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    ap.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "pulumi-diy-bench-data"),
                    help="where generated datasets are cached between runs")
    ap.add_argument("--output", default=None, help="results file (default bench/results/<date>.json; '-' = none)")
    ap.add_argument("--show", metavar="FILE", default=None,
                    help="print the table of every run in a results file and exit (nothing is measured)")
    args = ap.parse_args(argv)
    unknown = set(_csv(args.workloads)) - set(WORKLOADS)
    for kind in _csv(args.kinds):
        try:
            split_kind(kind)
        except ValueError:
            unknown.add(kind)
    if unknown:
        ap.error(f"unknown workload or kind: {', '.join(sorted(unknown))}")
    return args


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    mem = None
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError, AttributeError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_mb": mem, "os": platform.platform(),
            "python": platform.python_version()}


def _guard(rows: list[dict[str, Any]], names: Sequence[str], kind: str, size: Any,
           fn: Callable[[], list[dict[str, Any]]]) -> None:
    """Run one group; a failure becomes rows with an error status, never a crash of the whole run."""
    try:
        rows.extend(fn())
    except BaseException as e:  # servers that cannot start raise pytest's Skipped (a BaseException)
        if isinstance(e, KeyboardInterrupt):
            raise
        detail = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        print(f"!! {','.join(names)} on {kind} {size or ''}: {detail}", file=sys.stderr)
        if os.environ.get("BENCH_DEBUG"):
            traceback.print_exc()
        for name in names:
            out = skipped(name, kind, size, "")
            out["status"] = f"error: {detail}"
            rows.append(out)


def memory_scaling(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Does the peak memory of cold `stack ls` follow the total size of the states? Per kind, from the
    smallest to the largest size: pass when the peak grows by at most a quarter of the state bytes added
    (holding the states would grow it by more than all of them; summaries and listings are O(N) but small)."""
    out = []
    for kind in sorted({r["kind"] for r in rows if r["workload"] == "ls-cold"}):
        sized = sorted((r for r in rows if r["workload"] == "ls-cold" and r["kind"] == kind and r["diy_peak_mb"]
                        and r["data_mb"]), key=lambda r: r["size"])
        if len(sized) < 2:
            continue
        small, big = sized[0], sized[-1]
        added = big["data_mb"] - small["data_mb"]
        grown = big["diy_peak_mb"] - small["diy_peak_mb"]
        row = skipped("ls-memory-scaling", kind, f"{small['size']}->{big['size']}", "")
        row.update(data_mb=big["data_mb"],
                   target="stack ls peak memory independent of state sizes: grows <= 25% of the state bytes added",
                   status="pass" if grown <= 0.25 * added else "miss",
                   note=f"states {small['data_mb']} -> {big['data_mb']} MB; diy peak {small['diy_peak_mb']} -> "
                        f"{big['diy_peak_mb']} MB; Pulumi-equivalent {small['pulumi_peak_mb']} -> "
                        f"{big['pulumi_peak_mb']} MB")
        out.append(row)
    return out


def preload() -> None:
    """Import what the workloads use, so no timed run pays a first import (start-up is measured apart)."""
    import importlib

    for name in ("pulumi_diy.stacks", "pulumi_diy.state", "pulumi_diy.locks", "pulumi_diy.history",
                 "pulumi_diy.secrets.rekey", "pulumi_diy.backend.postgres", "s3fs", "boto3", "psycopg",
                 "psycopg_pool", "zstandard", "yaml", "cryptography.hazmat.primitives.ciphers.aead"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def run(args: argparse.Namespace, servers: Servers | None = None) -> dict[str, Any]:
    """Run what ``args`` selects and return the report (``servers``: already running ones to use)."""
    selected = set(_csv(args.workloads))
    kinds = _csv(args.kinds)
    sizes = [int(s) for s in _csv(args.sizes)]
    params = SMOKE if args.smoke else Params()
    if args.rotate_stacks:
        params = Params(**{**params.__dict__, "rotate_stacks": args.rotate_stacks})
    if args.smoke:
        sizes = [min(sizes)] if args.sizes != "100,1000" else [6]
    repeat = 1 if args.smoke else args.repeat
    work_dir = Path(tempfile.mkdtemp(prefix="pulumi-diy-bench-"))
    own_servers = servers is None
    servers = servers or Servers()
    ctx = Context(Path(args.data_dir), work_dir, servers, repeat, params,
                  rotate_repeat=1 if args.smoke else args.rotate_repeat,
                  startup_repeat=1 if args.smoke else max(repeat, 5), memory=not args.no_memory)
    for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench"),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_EC2_METADATA_DISABLED", "true")):
        os.environ.setdefault(name, value)
    rows: list[dict[str, Any]] = []
    preload()
    load_before = os.getloadavg()
    started = time.monotonic()
    try:
        for kind in kinds:
            for size in sizes:
                names = [w for w in LISTING if w in selected]
                if names:
                    _progress(names, kind, size)
                    _guard(rows, names, kind, size, partial(run_listing, ctx, kind, size, set(names)))
            names = [w for w in SINGLE if w in selected]
            if names:
                _progress(names, kind, "")
                _guard(rows, names, kind, params.history_entries, partial(run_single, ctx, kind, set(names)))
            if "ls-memory" in selected:
                _progress(["ls-memory"], kind, "")
                _guard(rows, ["ls-memory"], kind, None, partial(run_memory, ctx, kind))
            if "rotate" in selected:
                _progress(["rotate"], kind, "")
                _guard(rows, ["rotate"], kind, None, partial(run_rotate, ctx, kind))
        if "startup" in selected:
            _progress(["startup"], "-", "")
            _guard(rows, ["startup --version", "startup --help"], "-", None, partial(run_startup, ctx))
    finally:
        if own_servers:
            servers.stop()
        shutil.rmtree(work_dir, ignore_errors=True)
    rows.extend(memory_scaling(rows))
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
            "args": {"sizes": sizes, "kinds": kinds, "workloads": sorted(selected), "repeat": repeat,
                     "smoke": args.smoke, "params": params.__dict__},
            "seconds": round(time.monotonic() - started, 1),
            "loadavg": {"before": [round(x, 2) for x in load_before],
                        "after": [round(x, 2) for x in os.getloadavg()]},
            "rows": rows}


def _progress(names: Sequence[str], kind: str, size: Any) -> None:
    print(f".. {','.join(names)} on {kind} {size}".rstrip(), file=sys.stderr, flush=True)


def _fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}{unit}" if unit == "s" else f"{v:g}{unit}"
    return str(v)


def table(report: dict[str, Any]) -> str:
    """The results as a Markdown table (what bench/README.md holds)."""
    head = ["workload", "kind", "size", "pulumi-diy", "floor", "Pulumi-equiv", "diy/floor", "Pulumi/diy",
            "peak MB diy / floor / Pulumi", "status"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in report["rows"]:
        peaks = " / ".join(_fmt(r[k]) for k in ("diy_peak_mb", "floor_peak_mb", "pulumi_peak_mb"))
        cells = [r["workload"], r["kind"], _fmt(r["size"]), _fmt(r["diy_s"], "s"), _fmt(r["floor_s"], "s"),
                 _fmt(r["pulumi_s"], "s"), _fmt(r["diy_over_floor"], "x"), _fmt(r["pulumi_over_diy"], "x"), peaks,
                 r["status"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write(report: dict[str, Any], output: str | None) -> Path | None:
    if output == "-":
        return None
    path = Path(output) if output else RESULTS / f"{report['date'][:10]}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    runs: list[Any] = []
    if path.exists():  # several runs on one day accumulate
        try:
            runs = json.loads(path.read_text(encoding="utf-8")).get("runs", [])
        except (OSError, ValueError, AttributeError):
            runs = []
    runs.append(report)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"runs": runs}, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


_KIND_ORDER = {"file": 0, "postgres": 1, "s3": 2}
_ROW_ORDER = ("ls-cold", "ls-warm", "ls-warm-1pct", "lock-ls", "ls-memory-scaling", "ls-memory", "history",
              "history-all", "export", "rotate", "startup --version", "startup --help")


def show(path: str) -> str:
    """Every run saved in a results file (machine, load), then one table with the latest row of each
    (workload, kind, size), then the targets with their verdicts and notes."""
    runs = json.loads(Path(path).read_text(encoding="utf-8"))["runs"]
    lines = []
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in runs:
        m, a, load = r["machine"], r["args"], r.get("loadavg", {})
        lines.append(f"- {r['date']}: kinds {','.join(a['kinds'])}, sizes {a['sizes']}, repeat {a['repeat']}, "
                     f"{r['seconds']} s; load average {load.get('before')} -> {load.get('after')}")
        for row in r["rows"]:
            latest[(row["workload"], row["kind"], str(row["size"]))] = row
    m = runs[-1]["machine"]
    lines.insert(0, f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_mb']} MB, {m['os']}, Python {m['python']}.")

    def order(row: dict[str, Any]) -> tuple[int, str, int, str]:
        kind = row["kind"]
        base = kind.split("+")[0]
        known = row["workload"] in _ROW_ORDER
        return (_KIND_ORDER.get(base, 9), kind, _ROW_ORDER.index(row["workload"]) if known else 99,
                str(row["size"]).zfill(12))

    rows = sorted(latest.values(), key=order)
    judged = [f"- {r['workload']} / {r['kind']} / {r['size']}: **{r['status']}** ({r['target']}). {r['note']}"
              for r in rows if r["status"] in ("pass", "miss")]
    return "\n".join(lines) + "\n\n" + table({"rows": rows}) + "\n\n" + "\n".join(judged)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.show:
        print(show(args.show))
        return 0
    report = run(args)
    print(table(report))
    m = report["machine"]
    print(f"\n{m['cores']} cores, {m['cpu']}, {m['memory_mb']} MB, Python {m['python']}; {report['seconds']} s")
    path = write(report, args.output)
    if path:
        print(f"results: {path}")
    return 0
