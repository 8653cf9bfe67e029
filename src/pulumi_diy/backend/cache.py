"""A local cache of small derived records, keyed by object fingerprint (etag + size + mtime).

`stack ls` stores each checkpoint's summary here, history stores parsed `.history.json` entries;
a second run re-reads only objects whose fingerprint changed. It holds no plaintext secrets
(summaries and history entries carry ciphertexts at most). The database is SQLite in the user
cache directory (``PULUMI_DIY_CACHE_DIR`` overrides; ``--no-cache`` disables); a broken or
unwritable cache is ignored, never fatal.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    backend TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (backend, kind, key)
)
"""
CACHE_FORMAT = "1"


def backend_cache_id(kind: str, root: str, bucket: str) -> str:
    """The id a backend's records are filed under (shared by Backend and shell completion)."""
    import hashlib  # OpenSSL-backed: loaded only when the cache is used, not on every start

    return hashlib.sha256(f"{kind}:{root}:{bucket}".encode()).hexdigest()[:32]


class Cache:
    """Per-backend records. ``Cache(None, ...)`` is a disabled cache that stores nothing."""

    def __init__(self, directory: str | None, backend_id: str) -> None:
        self.backend_id = backend_id
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if directory:
            try:
                os.makedirs(directory, mode=0o700, exist_ok=True)
                path = os.path.join(directory, f"cache-v{CACHE_FORMAT}.sqlite3")
                db = sqlite3.connect(path, timeout=5, check_same_thread=False, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(_SCHEMA)
                with contextlib.suppress(OSError):
                    os.chmod(path, 0o600)
                self._db = db
            except (OSError, sqlite3.Error):
                self._db = None

    @property
    def enabled(self) -> bool:
        return self._db is not None

    def get_many(self, kind: str, fingerprints: Mapping[str, str]) -> dict[str, Any]:
        """Records whose stored fingerprint equals the given one, by key."""
        if self._db is None or not fingerprints:
            return {}
        out: dict[str, Any] = {}
        try:
            with self._lock:
                rows = self._db.execute(
                    "SELECT key, fingerprint, value FROM records WHERE backend = ? AND kind = ?",
                    (self.backend_id, kind),
                ).fetchall()
        except sqlite3.Error:
            return {}
        for key, fp, value in rows:
            if fingerprints.get(key) == fp:
                with contextlib.suppress(ValueError):
                    out[key] = json.loads(value)
        return out

    def put_many(self, kind: str, records: Iterable[tuple[str, str, Any]]) -> None:
        """Store (key, fingerprint, value) records."""
        if self._db is None:
            return
        rows = [(self.backend_id, kind, k, fp, json.dumps(v, separators=(",", ":"))) for k, fp, v in records]
        if not rows:
            return
        try:
            with self._lock:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def prune(self, kind: str, keep: Iterable[str]) -> None:
        """Forget records of ``kind`` whose key is no longer in the backend."""
        if self._db is None:
            return
        keep_set = set(keep)
        try:
            with self._lock:
                keys = [r[0] for r in self._db.execute(
                    "SELECT key FROM records WHERE backend = ? AND kind = ?", (self.backend_id, kind))]
                gone = [(self.backend_id, kind, k) for k in keys if k not in keep_set]
                if gone:
                    self._db.executemany("DELETE FROM records WHERE backend = ? AND kind = ? AND key = ?", gone)
        except sqlite3.Error:
            pass

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None


class ObjectSizes:
    """Object sizes by etag, for storage whose listings pay to compute sizes (PostgreSQL)."""

    KIND = "size"

    def __init__(self, cache: Cache) -> None:
        self.cache = cache

    def get_sizes(self, etags: Mapping[str, str]) -> dict[str, int]:
        found = self.cache.get_many(self.KIND, etags)
        return {k: v for k, v in found.items() if isinstance(v, int) and not isinstance(v, bool)}

    def put_sizes(self, sizes: Mapping[str, tuple[str, int]]) -> None:
        self.cache.put_many(self.KIND, [(k, etag, size) for k, (etag, size) in sizes.items()])
