"""Floors: the least work that could produce each answer, written against bare clients (bench/raw.py).

No validation, no caching layer, no error handling beyond what the storage raises: one listing,
concurrent reads of exactly the objects needed, and the parse. pulumi-diy should stay within a
small factor of these.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .raw import Listed, RawClient, is_stack_file, load_json

STACKS = ".pulumi/stacks"
LOCKS = ".pulumi/locks"
WORKERS = 32


def stack_row(doc: Any) -> tuple[str | None, int]:
    """What `stack ls` needs from a checkpoint: manifest time and resource count."""
    latest = (doc.get("checkpoint") or {}).get("latest") or {}
    return (latest.get("manifest") or {}).get("time"), len(latest.get("resources") or ())


def ls_cold(raw: RawClient, workers: int = WORKERS) -> dict[str, tuple[str | None, int]]:
    """One listing, concurrent GETs of every current checkpoint, parse each as it arrives."""
    keys = [o.key for o in raw.walk(STACKS) if is_stack_file(o.key)]
    return {key: stack_row(load_json(data)) for key, data in raw.get_many(keys, workers)}


def ls_listing(raw: RawClient) -> list[Listed]:
    """Warm `stack ls` with nothing changed: the bare listing."""
    return raw.walk(STACKS)


def ls_changed(raw: RawClient, known: dict[str, str], workers: int = WORKERS) -> dict[str, tuple[str | None, int]]:
    """Warm `stack ls` with some stacks changed: the listing plus reads of the changed checkpoints only."""
    changed = [o.key for o in raw.walk(STACKS) if is_stack_file(o.key) and known.get(o.key) != o.stamp]
    return {key: stack_row(load_json(data)) for key, data in raw.get_many(changed, workers)}


def fingerprints(raw: RawClient) -> dict[str, str]:
    return {o.key: o.stamp for o in raw.walk(STACKS) if is_stack_file(o.key)}


def history(raw: RawClient, history_dir: str, limit: int | None, workers: int = WORKERS) -> list[Any]:
    """One listing of the stack's history directory, concurrent reads of the newest ``limit`` entries."""
    names = sorted((o.key for o in raw.list_level(history_dir + "/") if ".history.json" in o.key), reverse=True)
    shown = names[:limit] if limit else names
    docs = {key: load_json(data) for key, data in raw.get_many(shown, workers)}
    return [docs[k] for k in shown]


def history_feed(raw: RawClient, limit: int, workers: int = WORKERS) -> list[Any]:
    """`history ls --all`: one recursive listing of `.pulumi/history/`, the newest ``limit`` entries by the
    nanosecond timestamp in their names, read concurrently."""
    def nanos(key: str) -> int:
        return int(key.rsplit("-", 1)[-1].split(".", 1)[0])

    names = sorted((o.key for o in raw.walk(".pulumi/history") if ".history.json" in o.key), key=nanos, reverse=True)
    shown = names[:limit]
    docs = {key: load_json(data) for key, data in raw.get_many(shown, workers)}
    return [docs[k] for k in shown]


def export(raw: RawClient, key: str) -> bytes:
    """One GET, decompress, parse, serialise the export document with the stdlib encoder."""
    doc = load_json(raw.get(key))
    out = {"version": 3, "deployment": (doc.get("checkpoint") or {}).get("latest")}
    return json.dumps(out, separators=(",", ":")).encode()


def locks(raw: RawClient, workers: int = WORKERS) -> dict[str, Any]:
    """One recursive listing of `.pulumi/locks/`, concurrent reads of every lock file."""
    keys = [o.key for o in raw.walk(LOCKS) if o.key.endswith(".json")]
    return {key: json.loads(data) for key, data in raw.get_many(keys, workers)}


def _pbkdf2_functions() -> list[Any]:
    """Pulumi's passphrase KDF (PBKDF2-HMAC-SHA256, 1e6 iterations) from hashlib and from cryptography."""
    import hashlib

    def stdlib(i: int) -> bytes:
        return hashlib.pbkdf2_hmac("sha256", b"bench-passphrase", i.to_bytes(8, "big"), 1_000_000, 32)

    out: list[Any] = [stdlib]
    try:
        from cryptography.hazmat.primitives.hashes import SHA256
        from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
    except ImportError:
        return out

    def openssl(i: int) -> bytes:
        return PBKDF2HMAC(SHA256(), 32, i.to_bytes(8, "big"), 1_000_000).derive(b"bench-passphrase")

    return [*out, openssl]


def kdf_batch_seconds(cores: int | None = None) -> tuple[float, int]:
    """Wall time of one key derivation on every core at once, with the faster of the two implementations.

    (On machines whose cores are hyper-threads, a batch takes much longer than one derivation.)"""
    cores = cores or os.cpu_count() or 1
    best = float("inf")
    for fn in _pbkdf2_functions():
        with ThreadPoolExecutor(max_workers=cores) as pool:
            start = time.perf_counter()
            list(pool.map(fn, range(cores)))
            best = min(best, time.perf_counter() - start)
    return best, cores


def rotate_floor_seconds(stacks: int, batch_seconds: float, cores: int) -> float:
    """Two key derivations per stack (old key, new key), spread over every core; no I/O at all."""
    return math.ceil(2 * stacks / cores) * batch_seconds


def startup_argv() -> list[str]:
    """The interpreter doing nothing: what any Python CLI pays before its first import."""
    return [sys.executable, "-c", "pass"]


GNU_TIME = "/usr/bin/time"


def run_argv(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int | None]:
    """Wall time and peak RSS (bytes) of one child process.

    The RSS comes from GNU time when present: a child forked straight from this (large) process
    would report our own RSS as its peak, since Linux carries the high-water mark across exec.
    """
    import tempfile

    with tempfile.NamedTemporaryFile("r", suffix=".rss") as out:
        wrapped = [GNU_TIME, "-q", "-f", "%M", "-o", out.name, *argv] if os.path.exists(GNU_TIME) else argv
        start = time.perf_counter()
        code = subprocess.call(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        elapsed = time.perf_counter() - start
        if code != 0:
            raise RuntimeError(f"{' '.join(argv)} exited with {code}")
        text = out.read().strip()
    return elapsed, int(text.splitlines()[-1]) * 1024 if text else None
