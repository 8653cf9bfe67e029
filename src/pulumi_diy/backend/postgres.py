"""An fsspec filesystem over Pulumi's ``pulumi_state`` table (the CLI's ``postgres://`` DIY backend).

Paths are the table's keys exactly as stored, e.g. ``mydb/.pulumi/stacks/proj/dev.json``. Pulumi
prefixes every key with the URL path (the database name); callers pass that prefix as part of the
path, so the filesystem itself is prefix-agnostic. Directories are implicit: ``a/b`` is a directory
while some key starts with ``a/b/``, as in fsspec's memory filesystem. A full URL given as a path,
``postgres://user@host:5432/mydb/.pulumi/meta.yaml``, is reduced to the key Pulumi would use for it
(``mydb/.pulumi/meta.yaml``); its connection part is used only by ``fsspec.url_to_fs``.

Rows are byte-compatible with the Pulumi CLI (see ``postgres_sql.py``); psycopg is imported lazily.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fsspec import AbstractFileSystem
from fsspec.utils import stringify_path

from pulumi_diy.backend.postgres_sql import (
    Statements,
    decode_row,
    encode_row,
    escape_like,
    import_psycopg,
    parse_table,
    parse_target,
    translate_error,
)

if TYPE_CHECKING:
    from psycopg import Connection, Cursor
    from psycopg_pool import ConnectionPool

_SCHEMES = ("postgresql://", "postgres://")


class SizeMemo(Protocol):
    """Object sizes remembered by etag across listings (the local cache; see ``ls_stats``)."""

    def get_sizes(self, etags: Mapping[str, str]) -> dict[str, int]:
        """The remembered size of each key whose etag is the given one."""

    def put_sizes(self, sizes: Mapping[str, tuple[str, int]]) -> None:
        """Remember key -> (etag, size)."""


class PostgresFileSystem(AbstractFileSystem):
    """Objects stored as rows of Pulumi's PostgreSQL state table, one row per key.

    ``dsn`` is a libpq URL or ``key=value`` conninfo without Pulumi's ``table`` parameter; libpq
    parameters and ``PG*`` environment variables apply as usual. ``table`` may be ``name`` or
    ``schema.name`` and is folded to lower case like Pulumi's unquoted name. Connections come from a
    pool of at most ``pool_size``, opened on first use, when the table and its index are also created
    as Pulumi creates them (unless ``create_schema`` is false). Safe to share between threads.

    Info dicts: ``name``, ``size`` (computed in SQL, exact for Go-written rows), ``type``, ``mtime`` (UTC
    ``updated_at``) and ``etag`` (md5 of the stored JSON text) for files.
    """

    protocol = ("postgres", "postgresql")
    root_marker = ""

    def __init__(
        self,
        dsn: str,
        table: str = "pulumi_state",
        pool_size: int = 8,
        create_schema: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, got {pool_size}")
        self.table = parse_table(table)
        self.target = parse_target(dsn, self.table)  # also raises MissingDependency without psycopg
        self._dsn = dsn
        self._pool_size = pool_size
        self._create_schema = create_schema
        self._sql = Statements(self.table)
        self._pool: ConnectionPool[Any] | None = None
        self._lock = threading.Lock()

    # --- paths -------------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = stringify_path(path)
        for scheme in _SCHEMES:
            if path.startswith(scheme):
                # Drop user/host/port and the query: the key is the URL path, database name included.
                path = path[len(scheme):].split("?", 1)[0].partition("/")[2]
                break
        return path.rstrip("/")

    def unstrip_protocol(self, name: str) -> str:
        return name if name.startswith(_SCHEMES) else f"postgres:///{name}"

    @staticmethod
    def _get_kwargs_from_urls(path: str) -> dict[str, Any]:
        """``postgres://u@h/db/key?table=t&sslmode=x`` -> dsn ``postgres://u@h/db?sslmode=x``, table ``t``."""
        parts = urlsplit(path)
        query = parse_qsl(parts.query, keep_blank_values=True)
        database = parts.path.lstrip("/").split("/", 1)[0]
        rest = urlencode([(k, v) for k, v in query if k != "table"])
        out: dict[str, Any] = {"dsn": urlunsplit((parts.scheme, parts.netloc, f"/{database}", rest, ""))}
        table = next((v for k, v in query if k == "table"), "")  # Go's Values.Get: first value
        if table:
            out["table"] = table
        return out

    # --- connections ---------------------------------------------------------------------------

    @contextmanager
    def _cursor(self) -> Iterator[Cursor[Any]]:
        psycopg = import_psycopg()
        try:
            pool = self._pool or self._open_pool()
            with pool.connection() as conn, conn.cursor() as cur:
                yield cur
        except psycopg.Error as e:
            raise translate_error(e, self.target) from e

    def _open_pool(self) -> ConnectionPool[Any]:
        with self._lock:
            if self._pool is None:
                psycopg = import_psycopg()
                from psycopg_pool import ConnectionPool

                # No prepared statements (poolers such as pgbouncer), every statement its own transaction.
                kwargs = {"autocommit": True, "prepare_threshold": None,
                          "fallback_application_name": "pulumi-diy"}
                # One direct connection first: it fails at once with libpq's reason, where the pool
                # would retry in the background until its timeout.
                with psycopg.connect(self._dsn, **kwargs) as conn:
                    if self._create_schema:
                        self._ensure_schema(conn)
                pool: ConnectionPool[Any] = ConnectionPool(
                    self._dsn, kwargs=kwargs, min_size=1, max_size=self._pool_size, open=False,
                    name=f"pulumi-diy:{self.table}",
                )
                pool.open(wait=False)
                self._pool = pool
            return self._pool

    def _ensure_schema(self, conn: Connection[Any]) -> None:
        """Pulumi's schema.sql, run only when the table or its index is missing.

        Checking first means a role without CREATE privilege can still use an existing table.
        """
        errors = import_psycopg().errors
        with conn.cursor() as cur:
            names = [str(self.table), self.table.qualified_index]
            row = cur.execute(self._sql.schema_exists, names).fetchone()
            if row and row[0]:
                return
            try:
                cur.execute(self._sql.create_schema)
            except (errors.UniqueViolation, errors.DuplicateObject, errors.DuplicateTable):
                pass  # created at the same moment by another client

    def server_info(self) -> dict[str, Any]:
        """For `backend info`: where the table is and what serves it (no data is read)."""
        with self._cursor() as cur:
            cur.execute("SELECT current_setting('server_version'), "
                        "(SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)), "
                        "pg_total_relation_size(to_regclass(%s))", [str(self.table), str(self.table)])
            version, rows, size = cur.fetchone() or (None, None, None)
        return {"host": self.target.host, "port": self.target.port, "database": self.target.dbname,
                "table": str(self.table), "postgresVersion": version,
                "rowsEstimate": rows if rows is None or rows >= 0 else None, "tableBytes": size}

    def close(self) -> None:
        """Close the connection pool (it reopens on next use)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    # --- metadata ------------------------------------------------------------------------------

    @staticmethod
    def _file(key: str, size: int | None, mtime: datetime, etag: str) -> dict[str, Any]:
        mtime = mtime.astimezone(timezone.utc)
        return {"name": key, "size": size, "type": "file", "mtime": mtime, "etag": etag}

    @staticmethod
    def _dir(name: str) -> dict[str, Any]:
        return {"name": name, "size": 0, "type": "directory"}

    def ls_stats(self, prefix: str, sizes: SizeMemo | None = None, recursive: bool = True,
                 measure: bool = True) -> list[dict[str, Any]]:
        """Info dicts of every key starting with ``prefix`` (raw, not a path; ``recursive=False``: only
        those without a further ``/``), in byte order.

        An object's size needs its row detoasted and parsed on the server (about 1 s per 200 MB). With a
        ``sizes`` memo, or when only direct children are wanted, a first query reads keys and etags only;
        the sizes of unchanged rows come from the memo and a second query measures the others alone (a
        row changed in between is taken whole from that second answer: size and etag belong together).
        ``measure=False`` skips that second query: sizes not in the memo are None (see :meth:`measure`)."""
        if sizes is None and recursive:
            with self._cursor() as cur:
                cur.execute(self._sql.stat_prefix, [escape_like(prefix)])
                return [self._file(*row) for row in cur]
        with self._cursor() as cur:
            cur.execute(self._sql.stat_prefix_cheap, [escape_like(prefix)])
            entries = [self._file(*row) for row in cur]
        if not recursive:
            entries = [e for e in entries if "/" not in e["name"][len(prefix):]]
        known = sizes.get_sizes({e["name"]: e["etag"] for e in entries}) if sizes is not None else {}
        if not measure:
            for e in entries:
                e["size"] = known.get(e["name"])
            return entries
        fresh = self.measure([e["name"] for e in entries if e["name"] not in known], sizes)
        out = []
        for e in entries:
            if e["name"] in known:
                e["size"] = known[e["name"]]
                out.append(e)
            elif e["name"] in fresh:  # else deleted since the first query
                out.append(fresh[e["name"]])
        return out

    def measure(self, keys: list[str], sizes: SizeMemo | None = None) -> dict[str, dict[str, Any]]:
        """Info dicts (with sizes) of ``keys`` in one query; keys that no longer exist are left out."""
        if not keys:
            return {}
        with self._cursor() as cur:
            cur.execute(self._sql.stat_keys, [list(keys)])
            fresh = {row[0]: self._file(*row) for row in cur}
        if sizes is not None:
            sizes.put_sizes({k: (e["etag"], e["size"]) for k, e in fresh.items()})
        return fresh

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        prefix = f"{path}/" if path else ""
        with self._cursor() as cur:
            cur.execute(self._sql.list_level, {"key": path, "pattern": escape_like(prefix), "prefix": prefix})
            # str order is code point order, i.e. UTF-8 byte order; a file sorts before a same-named dir.
            rows = sorted(cur.fetchall(), key=lambda r: (r[0], r[4]))
        own = [r for r in rows if r[0] == path and not r[4]]
        if own and path:  # a key with exactly this name: list the file, as memory fs does
            rows = own
        elif not rows and path:
            raise FileNotFoundError(path)
        entries = [self._dir(r[0]) if r[4] else self._file(*r[:4]) for r in rows]
        return entries if detail else [e["name"] for e in entries]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """A file's info if the key exists, else a directory's if keys exist below it."""
        path = self._strip_protocol(path)
        if not path:
            return self._dir("")
        with self._cursor() as cur:
            cur.execute(self._sql.stat, {"key": path, "pattern": escape_like(f"{path}/")})
            rows = cur.fetchall()
        for row in rows:
            if not row[4]:
                return self._file(*row[:4])
        if rows:
            return self._dir(path)
        raise FileNotFoundError(path)

    # Unlike the base class, a connection or permission error is raised, never taken as "missing".
    def exists(self, path: str, **kwargs: Any) -> bool:
        try:
            self.info(path)
        except FileNotFoundError:
            return False
        return True

    def isfile(self, path: str) -> bool:
        try:
            return bool(self.info(path)["type"] == "file")
        except FileNotFoundError:
            return False

    def isdir(self, path: str) -> bool:
        try:
            return bool(self.info(path)["type"] == "directory")
        except FileNotFoundError:
            return False

    def find(self, path: str, maxdepth: int | None = None, withdirs: bool = False, detail: bool = False,
             **kwargs: Any) -> Any:
        """All keys below ``path`` (one query), with the implied directories if ``withdirs``."""
        if maxdepth is not None and maxdepth < 1:
            raise ValueError("maxdepth must be at least 1")
        path = self._strip_protocol(path)
        prefix = f"{path}/" if path else ""
        out: dict[str, dict[str, Any]] = {}
        for entry in self.ls_stats(prefix):
            parts = entry["name"][len(prefix):].split("/")
            if withdirs:
                for depth in range(1, min(len(parts), (maxdepth or len(parts)) + 1)):
                    name = prefix + "/".join(parts[:depth])
                    out.setdefault(name, self._dir(name))
            if maxdepth is None or len(parts) <= maxdepth:
                out[entry["name"]] = entry
        if out and withdirs and path:
            out[path] = self._dir(path)
        if not out and path:
            try:
                info = self.info(path)
            except FileNotFoundError:
                info = None
            if info and info["type"] == "file":
                out[path] = info
        names = sorted(out)
        return {n: out[n] for n in names} if detail else names

    def modified(self, path: str) -> datetime:
        info = self.info(path)
        if info["type"] != "file":
            raise IsADirectoryError(info["name"])
        mtime: datetime = info["mtime"]
        return mtime

    def ukey(self, path: str) -> str:
        return str(self.info(path).get("etag") or "")

    def checksum(self, path: str) -> int:
        return int(self.ukey(path) or "0", 16)

    # --- reading -------------------------------------------------------------------------------

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        path = self._strip_protocol(path)
        with self._cursor() as cur:
            row = cur.execute(self._sql.read, [path]).fetchone()
        if row is None:
            raise FileNotFoundError(path)
        data = decode_row(path, self.table, row[0])
        return data if start is None and end is None else data[start:end]

    def cat(self, path: Any, recursive: bool = False, on_error: str = "raise", **kwargs: Any) -> Any:
        """Contents of one or many keys; many are fetched in a single query."""
        paths = self.expand_path(path, recursive=recursive)
        if len(paths) == 1 and not isinstance(path, list) and paths[0] == self._strip_protocol(path):
            return self.cat_file(paths[0], **kwargs)
        with self._cursor() as cur:
            rows = dict(cur.execute(self._sql.read_many, [paths]).fetchall())
        out: dict[str, Any] = {}
        for p in paths:
            if p not in rows and recursive:
                continue  # a directory that find() reported
            try:
                if p not in rows:
                    raise FileNotFoundError(p)
                out[p] = decode_row(p, self.table, rows[p])[kwargs.get("start"):kwargs.get("end")]
            except Exception as e:
                if on_error == "raise":
                    raise
                if on_error == "return":
                    out[p] = e
        return out

    # --- writing -------------------------------------------------------------------------------

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        """Store ``value`` at ``path`` in one atomic statement; ``mode="create"`` fails if it exists."""
        path = self._strip_protocol(path)
        if not path:
            raise IsADirectoryError("cannot write to the root of the table")
        if mode not in ("overwrite", "create"):
            raise ValueError(f"unsupported pipe mode {mode!r}")
        statement = self._sql.upsert if mode == "overwrite" else self._sql.insert_new
        with self._cursor() as cur:
            cur.execute(statement, [path, encode_row(bytes(value))])
            if cur.rowcount == 0:
                raise FileExistsError(path)

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PostgresFile:
        path = self._strip_protocol(path)
        if mode == "rb":
            return PostgresFile(self, path, mode, self.cat_file(path))
        if mode in ("wb", "xb"):
            if mode == "xb" and self.exists(path):
                raise FileExistsError(path)
            return PostgresFile(self, path, mode, autocommit=autocommit)
        raise ValueError(f"unsupported file mode for {type(self).__name__}: {mode!r}")

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Server-side copy (the JSON text is copied verbatim); copying a directory is a no-op."""
        src, dst = self._strip_protocol(path1), self._strip_protocol(path2)
        with self._cursor() as cur:
            cur.execute(self._sql.copy, [dst, src])
            copied = cur.rowcount
        if copied == 0 and not self.isdir(src):
            raise FileNotFoundError(src)

    def rm_file(self, path: str) -> None:
        path = self._strip_protocol(path)
        with self._cursor() as cur:
            cur.execute(self._sql.delete, [path])
            if cur.rowcount == 0:
                raise FileNotFoundError(path)

    _rm = rm_file

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        """Delete keys in one statement; directories vanish with their last key."""
        paths = self.expand_path(path, recursive=recursive, maxdepth=maxdepth)
        with self._cursor() as cur:
            deleted = {row[0] for row in cur.execute(self._sql.delete_many, [paths])}
        if recursive:
            return  # every other path expanded from existing keys was an implied directory
        for p in paths:
            if p not in deleted:
                raise IsADirectoryError(p) if self.isdir(p) else FileNotFoundError(p)

    # mkdir, makedirs and rmdir stay the base class's no-ops: directories are implicit.


class PostgresFile(io.BytesIO):
    """A whole object in memory.

    Mode "rb" holds the fetched bytes. Modes "wb" and "xb" store the buffer with one atomic statement
    on ``close()`` (or on ``commit()`` inside an fsspec transaction); "xb" raises ``FileExistsError``
    then if the key appeared meanwhile. Leaving a ``with`` block by an exception stores nothing.
    """

    def __init__(
        self, fs: PostgresFileSystem, path: str, mode: str, data: bytes = b"", autocommit: bool = True
    ) -> None:
        super().__init__(data)
        self.fs = fs
        self.path = path
        self._mode = mode
        self.autocommit = autocommit
        self._pending: bytes | None = None

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def size(self) -> int:
        return self.getbuffer().nbytes

    def writable(self) -> bool:
        return self._mode != "rb" and super().writable()

    def write(self, b: Any) -> int:
        if self._mode == "rb":
            raise io.UnsupportedOperation(f"{self.path} is open for reading")
        return super().write(b)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None and self._mode != "rb":
            self.discard()
            super().close()
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        data = self.getvalue() if self._mode != "rb" else None
        super().close()
        if data is not None:
            self._pending = data
            if self.autocommit:
                self.commit()

    def commit(self) -> None:
        """Store the written bytes (called by close(), or by the fsspec transaction)."""
        data, self._pending = self._pending, None
        if data is not None:
            self.fs.pipe_file(self.path, data, mode="create" if self._mode == "xb" else "overwrite")

    def discard(self) -> None:
        self._pending = None
