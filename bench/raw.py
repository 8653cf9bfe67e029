"""Bare storage clients for the floors and the Pulumi-equivalent baselines.

They talk to storage directly (``os`` for local files, boto3 for S3, psycopg for PostgreSQL) and
share nothing with pulumi_diy except the key layout, so a floor measures the storage and the
parsing, not our library. Every client speaks in keys relative to the backend root.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from itertools import islice
from typing import Any

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
STATE_SUFFIXES = (".json", ".json.gz", ".json.zst")


@dataclass(frozen=True)
class Listed:
    key: str
    size: int
    stamp: str  # whatever changes with the content (etag / mtime)


def decompress(data: bytes) -> bytes:
    """Decompress by magic bytes, as Pulumi does."""
    if data[:2] == GZIP_MAGIC:
        return gzip.decompress(data)
    if data[:4] == ZSTD_MAGIC:
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def load_json(data: bytes) -> Any:
    return json.loads(decompress(data))


def is_stack_file(key: str, stacks_dir: str = ".pulumi/stacks/") -> bool:
    """Project layout: `.pulumi/stacks/<project>/<stack>.json[.gz|.zst]`."""
    if not key.startswith(stacks_dir):
        return False
    rest = key[len(stacks_dir):]
    return rest.count("/") == 1 and rest.endswith(STATE_SUFFIXES)


class RawClient:
    """What every bare client offers."""

    kind = "?"

    def walk(self, prefix: str) -> list[Listed]:
        """Every key under ``prefix/`` (recursive, flat, paginated like a bucket listing)."""
        raise NotImplementedError

    def list_level(self, prefix: str) -> list[Listed]:
        """Keys starting with ``prefix`` up to the next ``/`` (a delimiter listing)."""
        raise NotImplementedError

    def get(self, key: str) -> bytes:
        raise NotImplementedError

    def put(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def get_many(self, keys: Sequence[str], workers: int) -> Iterator[tuple[str, bytes]]:
        """Concurrent GETs yielded as they complete, so the caller parses while others download; at most
        ``2 * workers`` results wait in memory."""
        if not keys:
            return
        pending = iter(keys)
        with ThreadPoolExecutor(max_workers=min(workers, len(keys))) as pool:
            running = {pool.submit(self.get, k): k for k in islice(pending, 2 * workers)}
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for f in done:
                    key = running.pop(f)
                    for k in islice(pending, 1):
                        running[pool.submit(self.get, k)] = k
                    yield key, f.result()

    def close(self) -> None:
        pass


class RawFile(RawClient):
    kind = "file"

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")

    def walk(self, prefix: str) -> list[Listed]:
        out: list[Listed] = []
        base = os.path.join(self.root, prefix)
        cut = len(self.root) + 1
        stack = [base]
        while stack:
            try:
                it = os.scandir(stack.pop())
            except FileNotFoundError:
                continue
            with it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
                    else:
                        st = e.stat(follow_symlinks=False)
                        out.append(Listed(e.path[cut:], st.st_size, f"{st.st_ino}-{st.st_mtime_ns}"))
        return out

    def list_level(self, prefix: str) -> list[Listed]:
        directory, _, start = prefix.rpartition("/")
        out: list[Listed] = []
        try:
            it = os.scandir(os.path.join(self.root, directory))
        except FileNotFoundError:
            return out
        with it:
            for e in it:
                if e.name.startswith(start) and not e.is_dir(follow_symlinks=False):
                    st = e.stat(follow_symlinks=False)
                    out.append(Listed(f"{directory}/{e.name}", st.st_size, f"{st.st_ino}-{st.st_mtime_ns}"))
        return out

    def get(self, key: str) -> bytes:
        with open(os.path.join(self.root, key), "rb") as f:
            return f.read()

    def get_many(self, keys: Sequence[str], workers: int) -> Iterator[tuple[str, bytes]]:
        # Reads from the page cache take microseconds: threads only add hand-offs and GIL contention.
        return ((k, self.get(k)) for k in keys)

    def put(self, key: str, data: bytes) -> None:
        path = os.path.join(self.root, key)
        tmp = f"{path}.bench.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)


class RawS3(RawClient):
    kind = "s3"

    def __init__(self, endpoint: str, bucket: str, pool: int = 64) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.client = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            config=Config(max_pool_connections=pool, s3={"addressing_style": "path"}, retries={"max_attempts": 2}))

    def _pages(self, **kw: Any) -> Iterable[dict[str, Any]]:
        pages: Iterable[dict[str, Any]] = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, **kw)
        return pages

    def walk(self, prefix: str) -> list[Listed]:
        return [Listed(o["Key"], o["Size"], o["ETag"]) for page in self._pages(Prefix=prefix + "/")
                for o in page.get("Contents", ())]

    def list_level(self, prefix: str) -> list[Listed]:
        return [Listed(o["Key"], o["Size"], o["ETag"]) for page in self._pages(Prefix=prefix, Delimiter="/")
                for o in page.get("Contents", ())]

    def get(self, key: str) -> bytes:
        data: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return data

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def close(self) -> None:
        self.client.close()


class RawPostgres(RawClient):
    """Pulumi's `pulumi_state` table: base64 of the object inside a JSON column, keys prefixed by the db name."""

    kind = "postgres"

    def __init__(self, dsn: str, table: str, key_prefix: str, pool: int = 10) -> None:
        from psycopg_pool import ConnectionPool

        self.dsn = dsn
        self.table = table
        self.prefix = key_prefix.rstrip("/") + "/" if key_prefix else ""
        self.pool: Any = ConnectionPool(dsn, min_size=1, max_size=pool, kwargs={"autocommit": True}, open=True)

    def _like(self, prefix: str) -> str:
        return (self.prefix + prefix).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

    def _rows(self, query: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self.pool.connection() as conn:
            return list(conn.execute(query, args).fetchall())

    def _listed(self, rows: list[tuple[Any, ...]]) -> list[Listed]:
        cut = len(self.prefix)
        return [Listed(k[cut:], int(size), str(stamp)) for k, size, stamp in rows]

    def walk(self, prefix: str) -> list[Listed]:
        rows = self._rows(f"SELECT key, pg_column_size(data), updated_at FROM {self.table} "
                          "WHERE key LIKE %s ESCAPE '\\' ORDER BY key", [self._like(prefix + "/")])
        return self._listed(rows)

    def list_level(self, prefix: str) -> list[Listed]:
        skip = len(self.prefix + prefix) + 1
        rows = self._rows(f"SELECT key, pg_column_size(data), updated_at FROM {self.table} "
                          f"WHERE key LIKE %s ESCAPE '\\' AND strpos(substr(key, {skip}), '/') = 0 ORDER BY key",
                          [self._like(prefix)])
        return self._listed(rows)

    def get(self, key: str) -> bytes:
        rows = self._rows(f"SELECT data->>'data' FROM {self.table} WHERE key = %s",
                          [self.prefix + key])
        if not rows:
            raise FileNotFoundError(key)
        return base64.b64decode(rows[0][0])

    def get_many(self, keys: Sequence[str], workers: int) -> Iterator[tuple[str, bytes]]:
        """The least work on PostgreSQL: one query for every key (in chunks, to bound memory)."""
        cut = len(self.prefix)
        for i in range(0, len(keys), 256):
            chunk = [self.prefix + k for k in keys[i:i + 256]]
            for key, b64 in self._rows(f"SELECT key, data->>'data' FROM {self.table} "
                                       "WHERE key = ANY(%s)", [chunk]):
                yield key[cut:], base64.b64decode(b64)

    def put(self, key: str, data: bytes) -> None:
        row = '{"data":"' + base64.b64encode(data).decode() + '"}'
        with self.pool.connection() as conn:
            conn.execute(f"INSERT INTO {self.table} (key, data) VALUES (%s, %s) "
                         "ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, updated_at = now()",
                         [self.prefix + key, row])

    def close(self) -> None:
        self.pool.close()
