"""Realistic synthetic backends for the benchmarks, and the storage targets they are loaded into.

A dataset is generated once with :mod:`pulumi_diy.synth` into a local directory (cached under the
data directory, keyed by its spec) and then copied into each target through the library's own
store (``Store.write``), so S3 and PostgreSQL hold exactly the bytes the file backend holds.

Sizes: ``N`` stacks spread over ``N // 20`` projects of 20 stacks, ``R`` resources per stack (with
secrets), ``H`` history entries and backups, a gzip/zstd share, stack tags and stale locks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from pulumi_diy.synth import SynthSpec, generate

from .raw import RawClient, RawFile, RawPostgres, RawS3

PASSPHRASE = "bench-passphrase"
NEW_PASSPHRASE = "bench-passphrase-2"
STACKS_PER_PROJECT = 20


@dataclass(frozen=True)
class Dataset:
    """A named list of synth specs written into one backend."""

    name: str
    specs: tuple[SynthSpec, ...]

    def digest(self) -> str:
        def plain(value: Any) -> Any:
            return sorted(value) if isinstance(value, (set, frozenset)) else str(value)

        text = json.dumps([dataclasses.asdict(s) for s in self.specs], sort_keys=True, default=plain)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def listing(stacks: int, resources: int = 40, history: int = 2) -> Dataset:
    """``stacks`` stacks for `stack ls` and `lock ls`: 20% gzip, 10% zstd, 10% tagged, 10% locked."""
    per = min(STACKS_PER_PROJECT, stacks)
    projects = [f"proj-{i:04d}" for i in range(max(1, stacks // per))]
    names = [f"stack-{j:02d}" for j in range(per)]
    labels = [f"{p}/{s}" for p in projects for s in names]
    compression = {label: "gzip" for label in labels[::5]}
    compression.update({label: "zstd" for label in labels[1::10]})
    spec = SynthSpec(
        projects=projects, stacks=names, resources=resources, history=history, backups=1, passphrase=PASSPHRASE,
        compression=compression, tags={label: {"team": "bench"} for label in labels[2::10]},
        stale_locks=set(labels[3::10]), workers=16,
    )
    return Dataset(f"listing-{stacks}", (spec,))


def big_states(stacks: int, state_kb: int) -> Dataset:
    """``stacks`` stacks of about ``state_kb`` KB each (plain JSON): for peak-memory comparisons."""
    projects = [f"big-{i:03d}" for i in range(max(1, stacks // STACKS_PER_PROJECT))]
    names = [f"s{j:02d}" for j in range(min(stacks, STACKS_PER_PROJECT))]
    spec = SynthSpec(projects=projects, stacks=names, resources=100, history=0, backups=0, passphrase=PASSPHRASE,
                     payload_bytes=max(0, state_kb * 1024 // 100 - 600), workers=16)
    return Dataset(f"bigstates-{stacks}x{state_kb}k", (spec,))


def single(history_entries: int, export_mb: float) -> Dataset:
    """`busy/app` with ``history_entries`` updates and `big/state` of about ``export_mb`` MB (plain JSON)."""
    busy = SynthSpec(projects=["busy"], stacks=["app"], resources=12, history=history_entries, backups=0,
                     passphrase=PASSPHRASE, workers=16)
    resources = 500
    payload = max(0, int(export_mb * 1024 * 1024) // resources - 700)
    big = SynthSpec(projects=["big"], stacks=["state"], resources=resources, history=1, backups=0,
                    passphrase=PASSPHRASE, payload_bytes=payload, workers=4)
    return Dataset(f"single-h{history_entries}-e{export_mb:g}", (busy, big))


def rotation(stacks: int, history: int) -> Dataset:
    """``stacks`` stacks with their own passphrase salt each and ``history`` entries (plain JSON)."""
    per = min(STACKS_PER_PROJECT, stacks)
    projects = [f"rot-{i:03d}" for i in range(max(1, stacks // per))]
    names = [f"s{j:02d}" for j in range(per)]
    spec = SynthSpec(projects=projects, stacks=names, resources=20, history=history, backups=1,
                     passphrase=PASSPHRASE, salt_per_stack=True, workers=16)
    return Dataset(f"rotation-{stacks}x{history}", (spec,))


def materialize(dataset: Dataset, data_dir: Path) -> Path:
    """The dataset as a local backend directory, generated on first use and reused afterwards."""
    from pulumi_diy.backend.backend import open_backend
    from pulumi_diy.config import resolve_settings

    path = data_dir / f"{dataset.name}-{dataset.digest()}"
    if (path / ".bench-complete").exists():
        return path
    # Generate beside it and rename: a concurrent or interrupted run never sees half a dataset.
    staging = data_dir / f".{path.name}.{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        settings = resolve_settings(backend=f"file://{staging}", environ={"HOME": str(Path.home())})
        with open_backend(settings=settings, use_cache=False) as backend:
            for spec in dataset.specs:
                generate(backend, spec)
        (staging / ".bench-complete").write_text(dataset.name)
        shutil.rmtree(path, ignore_errors=True)
        try:
            staging.rename(path)
        except OSError:  # someone else finished first
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def source_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != ".bench-complete")


# --- targets ------------------------------------------------------------------------------------


@dataclass
class Target:
    """One loaded copy of a dataset on one storage kind: its backend URL and a bare client for it."""

    kind: str
    url: str
    raw: RawClient
    env: dict[str, str]
    cleanup: Any = None
    source: Path | None = None  # the generated local copy (its file sizes are the objects' real sizes)

    def source_sizes(self, prefix: str) -> dict[str, int]:
        """Object sizes under ``prefix`` as generated (listings of PostgreSQL report stored, compressed sizes)."""
        return {o.key: o.size for o in RawFile(str(self.source)).walk(prefix)} if self.source else {}

    def settings(self, cache_dir: str | None) -> Any:
        from pulumi_diy.config import resolve_settings

        environ = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
        environ.update(self.env)
        if cache_dir:
            environ["PULUMI_DIY_CACHE_DIR"] = cache_dir
        return resolve_settings(backend=self.url, environ=environ)

    def open(self, cache_dir: str | None = None) -> Any:
        """A pulumi-diy Backend on this target (cache in ``cache_dir``, or none)."""
        from pulumi_diy.backend.backend import open_backend

        return open_backend(settings=self.settings(cache_dir), use_cache=cache_dir is not None)

    def drop(self) -> None:
        self.raw.close()
        if self.cleanup:
            self.cleanup()


class Servers:
    """The loopback servers a run needs, started lazily (moto for S3, a throwaway PostgreSQL cluster)."""

    def __init__(self, moto_url: str | None = None, pg_dsn: str | None = None) -> None:
        self._moto: Any = None
        self.moto_url = moto_url  # given: a server someone else runs (e.g. the test suite's)
        self._pg: Any = None
        self.pg_dsn = pg_dsn
        self._proxies: dict[tuple[str, float], tuple[Any, int]] = {}

    def moto(self) -> str:
        if self.moto_url is None:
            from tests import servers

            self._moto, self.moto_url = servers.start_moto()
        return self.moto_url

    def postgres(self) -> str:
        if self.pg_dsn is None:
            from tests import servers

            self._pg = servers.Postgres()
            self.pg_dsn = str(self._pg.dsn)
        return self.pg_dsn

    def proxy(self, upstream: str, rtt_ms: float) -> int:
        """A latency proxy (bench/latency.py) in front of ``host:port``; returns its port."""
        import subprocess
        import sys

        key = (upstream, rtt_ms)
        if key not in self._proxies:
            repo = Path(__file__).resolve().parent.parent
            proc = subprocess.Popen([sys.executable, "-m", "bench.latency", "--upstream", upstream, "--rtt-ms",
                                     str(rtt_ms)], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    stdin=subprocess.DEVNULL, text=True)
            line = proc.stdout.readline() if proc.stdout else ""
            if not line.startswith("PORT "):
                proc.kill()
                raise RuntimeError(f"latency proxy for {upstream} did not start")
            self._proxies[key] = (proc, int(line.split()[1]))
        return self._proxies[key][1]

    def stop(self) -> None:
        for proc, _ in self._proxies.values():
            proc.terminate()
            proc.wait(10)
        self._proxies = {}
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self._pg is not None:
            self._pg.stop()
            self._pg = None


def _copy_through_store(source: Path, target: Target, workers: int) -> None:
    """Write every file of ``source`` into the target through pulumi-diy's Store, concurrently."""
    files = source_files(source)
    with target.open() as backend:
        store = backend.store

        def put(rel: str) -> None:
            store.write(rel, (source / rel).read_bytes())

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(put, files))
        close = getattr(store.fs, "close", None)
        if store.kind == "postgres" and close:
            close()


def split_kind(kind: str) -> tuple[str, float]:
    """``s3+rtt20`` -> ("s3", 20.0): a storage kind behind a latency proxy adding 20 ms per round trip."""
    base, _, extra = kind.partition("+rtt")
    if base not in ("file", "s3", "postgres") or (extra and base == "file"):
        raise ValueError(f"unknown storage kind {kind!r}")
    try:
        return base, float(extra) if extra else 0.0
    except ValueError:
        raise ValueError(f"unknown storage kind {kind!r}") from None


def _host_port(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"


def _via(url: str, port: int) -> str:
    """``url`` with its host:port replaced by the proxy's."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


def load(dataset: Dataset, kind: str, data_dir: Path, work_dir: Path, servers: Servers) -> Target:
    """A fresh target of ``kind`` holding the dataset (a copied directory, a new bucket or a new table).

    Data is loaded straight into the server; with ``+rttN`` the benchmark then goes through the proxy."""
    base, rtt = split_kind(kind)
    source = materialize(dataset, data_dir)
    suffix = uuid.uuid4().hex[:8]
    if base == "file":
        dest = work_dir / f"{dataset.name}-{suffix}"
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".bench-complete"))
        return Target(kind, f"file://{dest}", RawFile(str(dest)), {},
                      lambda: shutil.rmtree(dest, ignore_errors=True), source)
    if base == "s3":
        endpoint = servers.moto()
        bucket = f"bench-{suffix}"
        raw = RawS3(endpoint, bucket)
        raw.client.create_bucket(Bucket=bucket)

        def url(endpoint: str) -> str:
            return f"s3://{bucket}?endpoint={endpoint}&s3ForcePathStyle=true&region=us-east-1"

        _copy_through_store(source, Target(kind, url(endpoint), raw, {}), 16)
        if rtt:
            raw.close()
            endpoint = _via(endpoint, servers.proxy(_host_port(endpoint), rtt))
            raw = RawS3(endpoint, bucket)
        return Target(kind, url(endpoint), raw, {}, partial(_drop_bucket, servers.moto(), bucket), source)
    dsn = servers.postgres()
    table = f"bench_{suffix}"
    _copy_through_store(source, Target(kind, f"{dsn}?table={table}", _NoRaw(), {}), 8)  # creates the table
    if rtt:
        dsn = _via(dsn, servers.proxy(_host_port(dsn), rtt))
    raw_pg = RawPostgres(dsn, table, dsn.rsplit("/", 1)[-1])
    return Target(kind, f"{dsn}?table={table}", raw_pg, {}, partial(_drop_table, servers.postgres(), table), source)


class _NoRaw(RawClient):
    pass


def _drop_bucket(endpoint: str, bucket: str) -> None:
    import boto3

    b = boto3.resource("s3", endpoint_url=endpoint, region_name="us-east-1").Bucket(bucket)
    b.objects.all().delete()
    b.delete()


def _drop_table(dsn: str, table: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


@contextmanager
def loaded(dataset: Dataset, kind: str, data_dir: Path, work_dir: Path, servers: Servers) -> Iterator[Target]:
    target = load(dataset, kind, data_dir, work_dir, servers)
    try:
        yield target
    finally:
        target.drop()
