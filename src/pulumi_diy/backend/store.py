"""One small storage interface over fsspec: read, atomic write, exclusive create, list, delete, copy.

Keys are always ``/``-separated and relative to the backend root (the directory that holds
``.pulumi/``). Every storage exception is translated into :mod:`pulumi_diy.errors` in one place,
:func:`storage_errors` (re-exported from :mod:`.filesystems`, where the SDKs live). A "not found"
is checked once per store against the bucket/container/directory itself, so a missing bucket is
reported as :class:`BackendMissing`, never as an empty backend.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import AccessDenied, BackendMissing, ObjectNotFound, PulumiDiyError
from .filesystems import storage_errors

__all__ = ["ObjectInfo", "Store", "map_concurrently", "storage_errors"]

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from .postgres import SizeMemo
    from .urls import BackendURL

MIB = 1024 * 1024
# Objects of at least this size go up in parts: S3 multipart (5 MiB parts from 10 MiB on), GCS
# resumable uploads (8 MiB chunks); Azure's client switches to blocks above 8 MiB by itself.
_S3_PART = 5 * MIB
_GCS_CHUNK = 8 * MIB
# Temporary files of local writes: `<name>.<time_ns hex>.tmp` (and `.<name>.<hex>.tmp` for creates).
# A process killed mid-write leaves one behind; Pulumi skips it (not a state extension), so do we.
_TEMP_NAME = re.compile(r"\.[0-9a-f]{12,20}\.tmp$")

@dataclass(frozen=True)
class ObjectInfo:
    """One listed object. ``etag`` is whatever identifies this exact content on the store."""

    key: str
    size: int
    mtime: datetime | None
    etag: str | None

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def fingerprint(self) -> str:
        """A cache key: changes whenever the object's bytes may have changed."""
        stamp = self.mtime.timestamp() if self.mtime else 0
        return f"{self.etag or ''}|{self.size}|{stamp:.6f}"


def _as_datetime(value: Any) -> datetime | None:
    """Aware UTC datetime from what the SDKs report (datetime, epoch seconds, RFC 3339 text)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        head, dot, rest = text.partition(".")
        if dot:  # Python 3.10 takes only 3 or 6 fraction digits
            digits = len(rest) - len(rest.lstrip("0123456789"))
            text = f"{head}.{rest[:digits][:6].ljust(6, '0')}{rest[digits:]}"
        try:
            return _as_datetime(datetime.fromisoformat(text))
        except ValueError:
            return None
    return None


def _etag(info: dict[str, Any]) -> str | None:
    for k in ("ETag", "etag", "generation", "md5Hash"):
        v = info.get(k)
        if v:
            return str(v).strip('"')
    if "ino" in info and "mtime" in info:  # local files: a write replaces the inode (temp + rename)
        return f"{info['ino']}-{info['mtime']}"
    return None


class Store:
    """Key/value access to one backend root."""

    def __init__(self, fs: AbstractFileSystem, url: BackendURL, parallelism: int = 64) -> None:
        self.fs = fs
        self.url = url
        root = url.root.rstrip("/")
        self.root = "/" if not root and url.kind == "file" else root  # file:/// is the filesystem root
        self.kind = url.kind
        self.parallelism = parallelism
        self._root_exists = False
        # Where a listing may take the sizes of unchanged objects from (PostgreSQL; set by the Backend).
        self.size_memo: SizeMemo | None = None

    # --- paths ---------------------------------------------------------------------------
    def path(self, key: str) -> str:
        """The fsspec path of ``key``."""
        return self._prefix + key

    def key(self, path: str) -> str:
        """The key of an fsspec path under the root (paths outside it come back unchanged)."""
        if self.kind != "file":
            path = path.lstrip("/")
        return path[len(self._prefix):] if self._prefix and path.startswith(self._prefix) else path

    @property
    def _prefix(self) -> str:
        return "" if not self.root else "/" if self.root == "/" else self.root + "/"

    def describe(self, key: str) -> str:
        """A human name for a key, used in messages: the redacted URL plus the key."""
        return f"{self.url.redacted.split('?', 1)[0].rstrip('/')}/{key}"

    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        try:
            with storage_errors(self.describe(key)):
                yield
        except ObjectNotFound:
            self.check_root()
            raise

    def check_root(self) -> None:
        """Raise BackendMissing if the directory, bucket or container of the URL does not exist.

        Asked once per store, after the first "not found" or empty listing. PostgreSQL needs no
        check: the table is created on connect and a missing database fails the connection.
        """
        if self._root_exists or self.kind == "postgres":
            return
        if self.kind == "file":
            missing = not os.path.isdir(self.root)
        else:
            try:
                with storage_errors(self.describe("")):
                    self.fs.info(self.url.bucket)
                missing = False
            except ObjectNotFound:
                missing = True
            except AccessDenied:
                missing = False  # object access without bucket metadata rights: cannot tell, assume present
        if missing:
            noun = {"file": "directory", "azure": "container"}.get(self.kind, "bucket")
            name = self.url.bucket or self.root
            raise BackendMissing(f"{self.url.redacted}: the {noun} {name} does not exist")
        self._root_exists = True

    # --- reads ---------------------------------------------------------------------------
    def read(self, key: str) -> bytes:
        with self._errors(key):
            data = self.fs.cat_file(self.path(key))
        return bytes(data)

    def read_many(self, keys: Sequence[str]) -> dict[str, bytes | PulumiDiyError]:
        """Read many keys concurrently; failures come back as error values, never raised.

        Async stores (S3, GCS, Azure) fetch them in one batched ``cat``; PostgreSQL in one query.
        """
        out: dict[str, bytes | PulumiDiyError] = {}
        if not keys:
            return out
        if self.kind == "postgres" or getattr(self.fs, "async_impl", False):
            paths = [self.path(k) for k in keys]
            try:
                with storage_errors(self.describe(".pulumi")):
                    got = self.fs.cat(paths, on_error="return", batch_size=self.parallelism)
            except PulumiDiyError as e:
                return {k: e for k in keys}
            by_path = got if isinstance(got, dict) else {paths[0]: got}
            for k, p in zip(keys, paths, strict=True):
                out[k] = self._value_or_error(k, by_path.get(p, by_path.get(p.lstrip("/"))))
        elif self.kind == "file":  # local reads gain nothing from threads (measured in bench/)
            out = {k: self._read_or_error(k) for k in keys}
        else:
            with ThreadPoolExecutor(max_workers=min(self.parallelism, len(keys))) as pool:
                out = dict(zip(keys, pool.map(self._read_or_error, keys), strict=True))
        if any(isinstance(v, ObjectNotFound) for v in out.values()):
            try:
                self.check_root()
            except PulumiDiyError as e:
                out = {k: e if isinstance(v, ObjectNotFound) else v for k, v in out.items()}
        return out

    def _read_or_error(self, key: str) -> bytes | PulumiDiyError:
        try:
            with storage_errors(self.describe(key)):
                return bytes(self.fs.cat_file(self.path(key)))
        except PulumiDiyError as e:
            return e

    def _value_or_error(self, key: str, v: Any) -> bytes | PulumiDiyError:
        if isinstance(v, (bytes, bytearray)):
            return bytes(v)
        try:
            with storage_errors(self.describe(key)):
                raise v if isinstance(v, BaseException) else FileNotFoundError(key)
        except PulumiDiyError as e:
            return e

    def info(self, key: str) -> ObjectInfo:
        with self._errors(key):
            raw = self.fs.info(self.path(key))
            if raw.get("type") == "directory":
                raise FileNotFoundError(key)
        return self._object_info(raw)

    def exists(self, key: str) -> bool:
        try:
            self.info(key)
            return True
        except ObjectNotFound:
            return False

    def list(self, prefix: str, *, recursive: bool = True, sizes: bool = True) -> list[ObjectInfo]:
        """Objects under the directory key ``prefix`` (no trailing slash; "" = everything).

        Recursive: every object below it; else only its direct children. ``a/b`` never lists
        ``a/bc/...``. A missing prefix is an empty list; a missing bucket is BackendMissing.
        ``sizes=False``: where sizes cost extra (PostgreSQL), unknown ones are -1; :meth:`measure`
        gives them for the objects that need them.
        """
        base = self.path(prefix).rstrip("/")
        if self.kind == "file":
            return self._list_local(prefix, base, recursive)
        try:
            with storage_errors(self.describe(prefix)):
                if hasattr(self.fs, "ls_stats"):  # PostgreSQL: sizes of unchanged rows from the local cache
                    entries = self.fs.ls_stats(f"{base}/" if base else "", sizes=self.size_memo, recursive=recursive,
                                               measure=sizes)
                elif recursive:
                    found = self.fs.find(base, detail=True)
                    entries = list(found.values()) if isinstance(found, dict) else []
                else:
                    entries = self.fs.ls(base, detail=True)
        except ObjectNotFound:
            entries = []
        if not entries:
            self.check_root()
        below = f"{prefix.rstrip('/')}/" if prefix.strip("/") else ""
        infos = [self._object_info(e) for e in entries if e.get("type", "file") == "file"]
        infos = [i for i in infos if i.key.startswith(below) and i.key != below
                 and not (self.kind == "file" and i.key.endswith(".attrs"))]
        infos.sort(key=lambda i: i.key)
        return infos

    def _list_local(self, prefix: str, base: str, recursive: bool) -> builtins.list[ObjectInfo]:
        """os.scandir walk: one stat per file, no fsspec dicts (5x faster than fs.find, see bench/)."""
        infos: builtins.list[ObjectInfo] = []
        pending = [base]
        with storage_errors(self.describe(prefix)):
            while pending:
                directory = pending.pop()
                try:
                    entries = os.scandir(directory)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                with entries:
                    for entry in entries:
                        if entry.is_dir():
                            if recursive:
                                pending.append(entry.path)
                        elif entry.is_file() and not _hidden_local(entry.name):
                            try:
                                st = entry.stat()
                            except FileNotFoundError:  # removed since the directory was read
                                continue
                            # Same values fsspec's LocalFileSystem.info gives (etag: inode + mtime).
                            infos.append(ObjectInfo(self.key(entry.path), st.st_size,
                                                    datetime.fromtimestamp(st.st_mtime, tz=timezone.utc),
                                                    f"{st.st_ino}-{st.st_mtime}"))
        if not infos:
            self.check_root()
        infos.sort(key=lambda i: i.key)
        return infos

    def list_dirs(self, prefix: str) -> builtins.list[str]:
        """Names of the immediate sub-directories of ``prefix``."""
        base = self.path(prefix).rstrip("/")
        try:
            with storage_errors(self.describe(prefix)):
                entries = self.fs.ls(base, detail=True)
        except ObjectNotFound:
            self.check_root()
            return []
        return sorted(self.key(str(e["name"])).rstrip("/").rsplit("/", 1)[-1]
                      for e in entries if e.get("type") == "directory")

    def _object_info(self, raw: dict[str, Any]) -> ObjectInfo:
        mtime = None
        for k in ("mtime", "LastModified", "last_modified", "updated", "modified"):
            if raw.get(k) is not None and (mtime := _as_datetime(raw[k])) is not None:
                break
        size = raw.get("size")
        known = int(size) if size is not None else (-1 if self.kind == "postgres" else 0)  # -1: not measured
        return ObjectInfo(self.key(str(raw["name"])), known, mtime, _etag(raw))

    def measure(self, infos: Sequence[ObjectInfo]) -> builtins.list[ObjectInfo]:
        """``infos`` with the sizes a ``list(..., sizes=False)`` left unknown (-1) filled in, in one query; an
        object gone since stays -1. Other kinds always know sizes: ``infos`` as they are."""
        unknown = [o for o in infos if o.size < 0]
        if not unknown or not hasattr(self.fs, "measure"):
            return builtins.list(infos)
        with storage_errors(self.describe(unknown[0].key)):
            fresh = self.fs.measure([self.path(o.key) for o in unknown], sizes=self.size_memo)
        return [o if o.size >= 0 or self.path(o.key) not in fresh else self._object_info(fresh[self.path(o.key)])
                for o in infos]

    # --- writes --------------------------------------------------------------------------
    def write(self, key: str, data: bytes) -> None:
        """Replace ``key`` atomically: readers see the old or the new bytes, never a mix."""
        with self._errors(key):
            if self.kind == "file":
                self._write_local(self.path(key), data)
            else:
                self._pipe(self.path(key), data, "overwrite")

    def create(self, key: str, data: bytes) -> None:
        """Create ``key`` only if it does not exist (raises ObjectExists otherwise, content untouched).

        S3 ``If-None-Match: *`` (also on CompleteMultipartUpload), GCS ``ifGenerationMatch=0``, Azure
        ``If-None-Match: *``, PostgreSQL ``ON CONFLICT DO NOTHING``, local files a hard link.
        """
        with self._errors(key):
            if self.kind == "file":
                self._create_local(self.path(key), data)
            else:
                self._pipe(self.path(key), data, "create")

    def _pipe(self, path: str, data: bytes, mode: str) -> None:
        if self.kind == "s3":
            self.fs.pipe_file(path, data, mode=mode, chunksize=_S3_PART)
        elif self.kind == "gcs":
            self.fs.pipe_file(path, data, mode=mode, chunksize=_GCS_CHUNK)
        else:
            self.fs.pipe_file(path, data, mode=mode)

    def delete(self, key: str, *, missing_ok: bool = False) -> None:
        """Delete ``key`` (ObjectNotFound if missing, unless ``missing_ok``); a file's `.attrs` goes too."""
        path = self.path(key)
        try:
            with self._errors(key):
                if self.kind == "s3":
                    self.fs.info(path)  # S3 deletes of missing keys succeed; gocloud asks first too
                self.fs.rm_file(path)
                if self.kind == "file" and os.path.exists(path + ".attrs"):
                    os.remove(path + ".attrs")
        except ObjectNotFound:
            if not missing_ok:
                raise

    def copy(self, src: str, dst: str) -> None:
        """Server-side copy of ``src`` to ``dst`` (replacing it); ObjectNotFound if ``src`` is missing."""
        with self._errors(src):
            if self.kind == "file":
                with open(self.path(src), "rb") as f:
                    data = f.read()
                self._write_local(self.path(dst), data)
                return
            self.fs.cp_file(self.path(src), self.path(dst))
            if self.kind == "azure":
                self._azure_wait_copy(self.path(dst))

    def _azure_wait_copy(self, path: str) -> None:
        # Azure copies may finish asynchronously; poll like gocloud's azureblob.Copy.
        from fsspec.asyn import sync

        container, blob, _ = self.fs.split_path(path)
        client = self.fs.service_client.get_blob_client(container, blob)
        for _ in range(600):
            props = sync(self.fs.loop, client.get_blob_properties)
            status = getattr(getattr(props, "copy", None), "status", None)
            if status != "pending":
                if status not in (None, "success"):
                    raise OSError(f"copy to {path} ended with status {status}")
                return
            time.sleep(0.5)
        raise TimeoutError(f"copy to {path} still pending after 300 s")

    def temp_leftovers(self, prefix: str) -> builtins.list[ObjectInfo]:
        """The temporary files killed local writes left anywhere under ``prefix`` (hidden from
        :meth:`list`); other kinds have none."""
        if self.kind != "file":
            return []
        found: builtins.list[ObjectInfo] = []
        for directory, _, names in os.walk(self.path(prefix)):
            for name in names:
                if _TEMP_NAME.search(name):
                    path = os.path.join(directory, name)
                    with contextlib.suppress(FileNotFoundError):
                        st = os.stat(path)
                        found.append(ObjectInfo(self.key(path), st.st_size,
                                                datetime.fromtimestamp(st.st_mtime, tz=timezone.utc), None))
        return sorted(found, key=lambda o: o.key)

    def remove_temp_leftovers(self, prefix: str, targets: Container[str] | None = None) -> int:
        """Delete the temporary files killed local writes left directly under ``prefix`` (only those of the
        file names in ``targets``, if given); the caller holds the lock of the stack they belong to.
        Other kinds write in one request and leave nothing behind: 0."""
        if self.kind != "file":
            return 0
        removed = 0
        try:
            entries = list(os.scandir(self.path(prefix)))
        except (FileNotFoundError, NotADirectoryError):
            return 0
        for entry in entries:
            match = _TEMP_NAME.search(entry.name)
            if match is None or (targets is not None and entry.name[: match.start()] not in targets):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.remove(entry.path)
                removed += 1
        return removed

    # --- local files: temp + rename like gocloud fileblob (no_tmp_dir) --------------------
    def _write_local(self, path: str, data: bytes) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._refresh_attrs(path, data)
        _atomic_local(path, data)

    def _create_local(self, path: str, data: bytes) -> None:
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        # The temporary file goes one level up: exclusive creates are lock files, and Pulumi counts
        # every file in a stack's lock directory as a lock, even for the instant before the link.
        tmp = os.path.join(os.path.dirname(directory), f".{os.path.basename(path)}.{time.time_ns():x}.tmp")
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # atomic and exclusive: EEXIST if present, never half-written
        finally:
            os.remove(tmp)

    def _refresh_attrs(self, path: str, data: bytes) -> None:
        """Keep an existing fileblob `.attrs` sidecar truthful (its md5 describes the content)."""
        attrs = path + ".attrs"
        if not os.path.exists(attrs):
            return
        try:
            with open(attrs, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError):
            doc = {}
        if not isinstance(doc, dict):
            doc = {}
        doc["md5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
        # Written before the data is renamed into place, as fileblob does; atomically, because
        # fileblob fails on a sidecar it cannot parse.
        _atomic_local(attrs, json.dumps(doc, separators=(",", ":")).encode())


def _hidden_local(name: str) -> bool:
    """fileblob's `.attrs` sidecars and our temporary files are not objects."""
    return name.endswith(".attrs") or _TEMP_NAME.search(name) is not None


def _atomic_local(path: str, data: bytes) -> None:
    tmp = f"{path}.{time.time_ns():x}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def map_concurrently(fn: Callable[[Any], Any], items: Iterable[Any], parallelism: int) -> list[Any]:
    """Run ``fn`` over ``items`` on a thread pool, preserving order."""
    items = list(items)
    if len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(parallelism, len(items))) as pool:
        return list(pool.map(fn, items))
