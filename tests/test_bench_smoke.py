"""The benchmark harness (bench/) runs every workload end to end at a tiny size, so it never rots.

No timing assertions: only that each workload produces a well-formed row and nothing errors.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from bench.generate import Servers
from bench.run import memory_scaling, parse_args, run, table, write
from bench.workloads import ROW_KEYS, WORKLOADS

EVERY_ROW = {"ls-cold", "ls-warm", "ls-warm-1pct", "lock-ls", "history-feed", "history", "history-all", "export",
             "ls-memory", "rotate", "startup --version", "startup --help"}


def _check_rows(rows: list[dict], expected: set[str]) -> None:
    assert expected <= {r["workload"] for r in rows}
    for r in rows:
        assert tuple(r) == ROW_KEYS, r
        assert not r["status"].startswith("error"), r
        if r["status"].startswith("skipped"):
            assert r["status"] == "skipped: not implemented yet", r
            continue
        assert r["diy_s"] is not None and r["diy_s"] > 0, r
        assert r["floor_s"] is not None and r["floor_s"] > 0, r
        assert r["runs"]["diy"], r


def test_smoke_every_workload_on_local_files(tmp_path: Path) -> None:
    args = parse_args(["--smoke", "--kinds", "file", "--data-dir", str(tmp_path / "data"),
                       "--output", str(tmp_path / "results.json")])
    report = run(args)
    assert set(WORKLOADS) == {w.split(" ")[0] for w in EVERY_ROW}
    _check_rows(report["rows"], EVERY_ROW)
    assert report["machine"]["cores"] >= 1
    pulumi = {r["workload"] for r in report["rows"] if r["pulumi_s"]}
    assert {"ls-cold", "history", "export", "lock-ls"} <= pulumi  # every baseline ran

    path = write(report, args.output)
    assert path is not None
    write(report, args.output)  # a second run the same day is appended, not overwritten
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert len(saved["runs"]) == 2 and saved["runs"][0]["rows"] == report["rows"]
    text = table(report)
    assert all(f"| {name} |" in text for name in EVERY_ROW)


def test_smoke_remote_storage(tmp_path: Path, moto_endpoint: str, pg_dsn: str) -> None:
    """The bare S3/PostgreSQL clients and the loaders work against the suite's own servers."""
    args = parse_args(["--smoke", "--kinds", "s3,postgres", "--workloads", "ls-cold,ls-warm-1pct,lock-ls,history",
                       "--data-dir", str(tmp_path / "data"), "--output", "-", "--no-memory"])
    report = run(args, Servers(moto_url=moto_endpoint, pg_dsn=pg_dsn))
    for kind in ("s3", "postgres"):
        _check_rows([r for r in report["rows"] if r["kind"] == kind], {"ls-cold", "ls-warm-1pct", "lock-ls", "history"})


def test_memory_scaling_row_is_judged() -> None:
    def ls(size: int, peak: float) -> dict:
        return {"workload": "ls-cold", "kind": "file", "size": size, "data_mb": size / 50, "diy_peak_mb": peak,
                "pulumi_peak_mb": 9.0}

    rows = memory_scaling([ls(100, 2.0), ls(1000, 6.0)])  # states +18 MB, peak +4 MB
    assert [r["status"] for r in rows] == ["pass"] and tuple(rows[0]) == ROW_KEYS
    assert memory_scaling([ls(100, 2.0), ls(1000, 20.0)])[0]["status"] == "miss"
    assert memory_scaling([ls(100, 2.0)]) == []


@pytest.mark.parametrize("bad", [["--kinds", "ftp"], ["--workloads", "nope"]])
def test_unknown_names_are_usage_errors(bad: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(bad)


def test_concurrent_synth_writes_the_same_backend_as_serial(tmp_path: Path) -> None:
    """SynthSpec(workers=N) (used by the bench generator) leaves what a serial run leaves; salt_per_stack
    gives every stack its own passphrase salt."""
    from pulumi_diy.backend.backend import open_backend
    from pulumi_diy.synth import SynthSpec, generate

    def make(name: str, workers: int = 1, salt_per_stack: bool = False) -> dict[str, int]:
        root = tmp_path / name
        root.mkdir()
        with open_backend(f"file://{root}", use_cache=False) as backend:
            generate(backend, SynthSpec(projects=["a", "b"], stacks=["dev", "prod"], history=3, backups=2,
                                        compression={"a/prod": "gzip"}, stale_locks={"b/dev"}, workers=workers,
                                        salt_per_stack=salt_per_stack))
        # AES-GCM nonces are random, so compare names and (uncompressed) sizes.
        return {str(p.relative_to(root)): len(gzip.decompress(p.read_bytes()) if p.name.endswith((".gz", ".gz.bak"))
                                              else p.read_bytes()) for p in root.rglob("*") if p.is_file()}

    serial, concurrent = make("serial"), make("concurrent", workers=8)
    assert serial == concurrent and len(serial) > 30
    salts = {json.loads((tmp_path / "salted" / k).read_text())["checkpoint"]["latest"]["secrets_providers"]["state"]
             ["salt"] for k in make("salted", salt_per_stack=True, workers=4) if k.endswith("dev.json")
             or k.endswith("prod.json")}
    assert len(salts) == 3  # a/dev, b/dev, b/prod are plain JSON (a/prod is gzip); each has its own salt
