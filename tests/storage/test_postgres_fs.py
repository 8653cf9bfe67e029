"""PostgresFileSystem against a real PostgreSQL: Pulumi row compatibility, listing, errors, fsspec suites."""

from __future__ import annotations

import base64
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timezone
from typing import Any

import fsspec
import pytest

from pulumi_diy.backend.postgres import PostgresFileSystem
from pulumi_diy.errors import BackendMissing, CorruptInput, InvalidBackendURL, MissingDependency
from tests import servers

psycopg = pytest.importorskip("psycopg")
try:  # fsspec's own conformance suites ship inside fsspec (fsspec/tests/abstract)
    from fsspec.tests import abstract
except ImportError:  # pragma: no cover - an fsspec build without its tests
    abstract = None

# Pulumi's embedded schema.sql (P pkg/backend/diy/postgres/schema.sql) and write statement, verbatim.
PULUMI_SCHEMA = """CREATE TABLE IF NOT EXISTS %s (
    key TEXT PRIMARY KEY,
    data JSON NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS %s_key_prefix_idx ON %s (key text_pattern_ops);
"""
PULUMI_WRITE = ("INSERT INTO %s (key, data) VALUES ($1, $2) "
                "ON CONFLICT (key) DO UPDATE SET data = $2, updated_at = now()")


def go_row(data: bytes) -> str:
    """What Go's json.Marshal(blobData{Data: base64.StdEncoding.EncodeToString(data)}) produces."""
    return '{"data":"' + base64.b64encode(data).decode() + '"}'


def unique(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def sql(dsn: str, query: str, params: Any = None, raw: bool = False) -> list[tuple[Any, ...]]:
    factory = psycopg.RawCursor if raw else psycopg.Cursor
    with psycopg.connect(dsn, autocommit=True) as conn, factory(conn) as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else []


@pytest.fixture
def table() -> str:
    return unique()


@pytest.fixture
def fs(pg_dsn: str, table: str) -> Iterator[PostgresFileSystem]:
    f = PostgresFileSystem(pg_dsn, table=table, skip_instance_cache=True)
    yield f
    f.close()
    sql(pg_dsn, f"DROP TABLE IF EXISTS {table}")


@pytest.fixture
def fresh_db(pg_dsn: str) -> Iterator[str]:
    """A new, empty database (for tests of the default table name); yields its DSN."""
    name = unique("db")
    sql(pg_dsn, f"CREATE DATABASE {name}")
    yield pg_dsn.rsplit("/", 1)[0] + "/" + name
    sql(pg_dsn, f"DROP DATABASE {name} WITH (FORCE)")


# --- row compatibility with the Pulumi CLI ------------------------------------------------------


def test_reads_rows_written_by_pulumi_and_writes_identical_rows(fresh_db: str) -> None:
    sql(fresh_db, PULUMI_SCHEMA % (("pulumi_state",) * 3))
    blob = b"hello\x00\xff" + bytes(range(256))
    sql(fresh_db, PULUMI_WRITE % "pulumi_state", ["mydb/.pulumi/stacks/p/s.json", go_row(blob)], raw=True)

    fs = PostgresFileSystem(fresh_db, skip_instance_cache=True)
    try:
        assert fs.cat_file("mydb/.pulumi/stacks/p/s.json") == blob
        assert fs.info("mydb/.pulumi/stacks/p/s.json")["size"] == len(blob)

        fs.pipe_file("mydb/.pulumi/meta.yaml", b"hello\x00\xff")
        (text,) = sql(fresh_db, "SELECT data::text FROM pulumi_state WHERE key = 'mydb/.pulumi/meta.yaml'")[0]
        assert text == '{"data":"aGVsbG8A/w=="}' == go_row(b"hello\x00\xff")
    finally:
        fs.close()


def test_reads_whitespace_and_escaped_json_variants(fs: PostgresFileSystem, pg_dsn: str, table: str) -> None:
    blob = b"\xfb\xff\xbf-any bytes"
    b64 = base64.b64encode(blob).decode()
    fs.pipe_file("seed", b"")  # creates the table
    variants = {
        "spaces": '{ "data" : "B64" }',
        "newlines": '{\n  "data": "B64"\n}',
        "escaped-slash": '{"data":"B64"}'.replace("B64", b64.replace("/", "\\/")),
        "extra-fields": '{"other":"x","data":"B64","more":{"data":1}}',
        "duplicate-key": '{"data":"AAAA","data":"B64"}',
        "folded-name": '{"DATA":"B64"}',
    }
    for key, text in variants.items():
        sql(pg_dsn, PULUMI_WRITE % table, [key, text.replace("B64", b64)], raw=True)
    for key in variants:
        assert fs.cat_file(key) == blob, key
        if key != "folded-name":  # sizes come from data->>'data' in SQL, which is case-sensitive
            assert fs.info(key)["size"] == len(blob), key
    # Go's base64 decoder skips CR/LF (the size from SQL is then approximate) and reads a missing
    # or null field as empty.
    wrapped = '{"data":"B64"}'.replace("B64", b64[:8] + "\\r\\n" + b64[8:])
    sql(pg_dsn, PULUMI_WRITE % table, ["wrapped", wrapped], raw=True)
    sql(pg_dsn, PULUMI_WRITE % table, ["absent", '{"other":"QUJD"}'], raw=True)
    sql(pg_dsn, PULUMI_WRITE % table, ["null", '{"data":null}'], raw=True)
    assert fs.cat(["wrapped", "absent", "null"]) == {"wrapped": blob, "absent": b"", "null": b""}
    assert fs.size("absent") == 0


def test_updated_at_moves_on_overwrite_and_copy(fs: PostgresFileSystem, pg_dsn: str, table: str) -> None:
    fs.pipe_file("k", b"one")
    first = fs.modified("k")
    time.sleep(0.01)
    fs.pipe_file("k", b"two")
    second = fs.modified("k")
    assert second > first
    assert second.tzinfo is not None and second.utcoffset().total_seconds() == 0
    (db_time,) = sql(pg_dsn, f"SELECT updated_at FROM {table} WHERE key = 'k'")[0]
    assert db_time == second
    time.sleep(0.01)
    fs.cp_file("k", "k")
    assert fs.modified("k") > second


def test_corrupt_rows_raise_corrupt_input(fs: PostgresFileSystem, pg_dsn: str, table: str) -> None:
    fs.pipe_file("seed", b"")
    sql(pg_dsn, PULUMI_WRITE % table, ["not-b64", '{"data":"***"}'], raw=True)
    sql(pg_dsn, PULUMI_WRITE % table, ["number", '{"data":12}'], raw=True)
    sql(pg_dsn, PULUMI_WRITE % table, ["array", "[1, 2]"], raw=True)
    sql(pg_dsn, PULUMI_WRITE % table, ["unpadded", '{"data":"QUJDRA"}'], raw=True)
    for key in ("not-b64", "number", "array", "unpadded"):
        with pytest.raises(CorruptInput, match=key):
            fs.cat_file(key)
    out = fs.cat(["seed", "array"], on_error="return")
    assert out["seed"] == b"" and isinstance(out["array"], CorruptInput)


# --- schema ---------------------------------------------------------------------------------------


def describe(dsn: str, table: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    columns = sql(dsn, "SELECT column_name, data_type, is_nullable, column_default FROM"
                       " information_schema.columns WHERE table_name = %s ORDER BY ordinal_position", [table])
    indexes = sql(dsn, "SELECT replace(indexname, %s, 'T'), replace(indexdef, %s, 'T') FROM pg_indexes"
                       " WHERE tablename = %s ORDER BY indexname", [table, table, table])
    return columns, indexes


def test_schema_is_created_exactly_as_pulumi_does(fs: PostgresFileSystem, pg_dsn: str, table: str) -> None:
    fs.ls("")
    reference = unique("ref")
    sql(pg_dsn, PULUMI_SCHEMA % (reference, reference, reference))
    try:
        ours, pulumis = describe(pg_dsn, table), describe(pg_dsn, reference)
    finally:
        sql(pg_dsn, f"DROP TABLE {reference}")
    assert ours == pulumis
    columns, indexes = ours
    assert columns == [
        ("key", "text", "NO", None),
        ("data", "json", "NO", None),
        ("updated_at", "timestamp with time zone", "NO", "now()"),
    ]
    assert indexes == [
        ("T_key_prefix_idx", "CREATE INDEX T_key_prefix_idx ON public.T USING btree (key text_pattern_ops)"),
        ("T_pkey", "CREATE UNIQUE INDEX T_pkey ON public.T USING btree (key)"),
    ]


def test_existing_table_is_left_alone_and_needs_no_create_privilege(pg_dsn: str, table: str) -> None:
    sql(pg_dsn, PULUMI_SCHEMA % (table, table, table))
    sql(pg_dsn, PULUMI_WRITE % table, ["old", go_row(b"kept")], raw=True)
    (oid,) = sql(pg_dsn, "SELECT %s::regclass::oid", [table])[0]
    role = unique("role")
    sql(pg_dsn, f"CREATE ROLE {role} LOGIN")
    sql(pg_dsn, f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {role}")
    # PostgreSQL >= 15 grants no CREATE on schema public: Pulumi's CREATE ... IF NOT EXISTS would fail here.
    dsn = pg_dsn.replace("postgres@", f"{role}@", 1)
    fs = PostgresFileSystem(dsn, table=table, skip_instance_cache=True)
    other = unique("role")
    sql(pg_dsn, f"CREATE ROLE {other} LOGIN")
    denied = PostgresFileSystem(pg_dsn.replace("postgres@", f"{other}@", 1), table=table, skip_instance_cache=True)
    try:
        assert fs.cat_file("old") == b"kept"
        fs.pipe_file("new", b"x")
        assert sql(pg_dsn, "SELECT %s::regclass::oid", [table]) == [(oid,)]
        with pytest.raises(PermissionError, match=f"permission denied for table {table}"):
            denied.ls("")
    finally:
        fs.close()
        denied.close()
        sql(pg_dsn, f"DROP TABLE {table}; DROP ROLE {role}; DROP ROLE {other}")


def test_create_schema_false_and_missing_table(pg_dsn: str, table: str) -> None:
    fs = PostgresFileSystem(pg_dsn, table=table, create_schema=False, skip_instance_cache=True)
    try:
        with pytest.raises(BackendMissing, match=table):
            fs.ls("")
    finally:
        fs.close()
    assert sql(pg_dsn, "SELECT to_regclass(%s)", [table]) == [(None,)]


def test_table_name_folds_to_lower_case_like_pulumis_unquoted_name(pg_dsn: str) -> None:
    name = unique("MyState")
    fs = PostgresFileSystem(pg_dsn, table=name, skip_instance_cache=True)
    try:
        fs.pipe_file("a", b"1")
        assert sql(pg_dsn, "SELECT to_regclass(%s)::text", [f'"{name.lower()}"']) == [(name.lower(),)]
        # Pulumi's raw interpolation addresses the same table.
        assert sql(pg_dsn, f"SELECT key, data::text FROM {name}") == [("a", go_row(b"1"))]
    finally:
        fs.close()
        sql(pg_dsn, f"DROP TABLE {name}")


def test_schema_qualified_table(pg_dsn: str) -> None:
    schema = unique("s")
    sql(pg_dsn, f"CREATE SCHEMA {schema}")
    fs = PostgresFileSystem(pg_dsn, table=f"{schema.upper()}.State", skip_instance_cache=True)
    try:
        fs.pipe_file("a/b", b"x")
        assert sql(pg_dsn, f"SELECT key FROM {schema}.state") == [("a/b",)]
        assert sql(pg_dsn, "SELECT indexname FROM pg_indexes WHERE schemaname = %s ORDER BY 1", [schema]) == [
            ("state_key_prefix_idx",), ("state_pkey",)]
    finally:
        fs.close()
        sql(pg_dsn, f"DROP SCHEMA {schema} CASCADE")


@pytest.mark.parametrize("name", ["x; DROP TABLE y", "a-b", "1abc", "", "a.b.c", '"q"', "a b", "t--", "é"])
def test_unsafe_table_names_are_refused(pg_dsn: str, name: str) -> None:
    with pytest.raises(InvalidBackendURL, match="table name"):
        PostgresFileSystem(pg_dsn, table=name, skip_instance_cache=True)


# --- listing ----------------------------------------------------------------------------------------


def test_like_wildcards_in_prefixes_are_literal(fs: PostgresFileSystem) -> None:
    for key in ("a_b/x", "aXb/y", "a%b/z", "aZZb/w", "a\\b/v", "ab/u"):
        fs.pipe_file(key, key.encode())
    assert fs.ls("a_b", detail=False) == ["a_b/x"]
    assert fs.ls("a%b", detail=False) == ["a%b/z"]
    assert fs.ls("a\\b", detail=False) == ["a\\b/v"]
    assert fs.find("a_b") == ["a_b/x"]
    assert [e["name"] for e in fs.ls_stats("a_b/")] == ["a_b/x"]
    assert [e["name"] for e in fs.ls_stats("a%")] == ["a%b/z"]
    assert fs.info("a_b")["type"] == "directory"
    assert not fs.exists("a_c") and not fs.exists("a%")
    with pytest.raises(FileNotFoundError):
        fs.info("a_")


def test_directory_synthesis(fs: PostgresFileSystem) -> None:
    for key in ("p/a", "p/b/c", "p/b/d/e", "p/b.txt", "q"):
        fs.pipe_file(key, b"12345")
    listing = fs.ls("p")
    assert [(e["name"], e["type"], e["size"]) for e in listing] == [
        ("p/a", "file", 5), ("p/b", "directory", 0), ("p/b.txt", "file", 5)]
    assert fs.ls("p/", detail=False) == ["p/a", "p/b", "p/b.txt"]
    assert fs.ls("", detail=False) == ["p", "q"]
    assert fs.ls("p/a", detail=False) == ["p/a"]
    with pytest.raises(FileNotFoundError):
        fs.ls("p/zz")
    assert fs.find("p") == ["p/a", "p/b.txt", "p/b/c", "p/b/d/e"]
    assert fs.find("p", maxdepth=1) == ["p/a", "p/b.txt"]
    assert fs.find("p", withdirs=True) == ["p", "p/a", "p/b", "p/b.txt", "p/b/c", "p/b/d", "p/b/d/e"]
    assert fs.find("p", withdirs=True, maxdepth=2) == ["p", "p/a", "p/b", "p/b.txt", "p/b/c", "p/b/d"]
    assert fs.find("p/a") == ["p/a"] and fs.find("nope") == []
    assert set(fs.find("", detail=True)) == {"p/a", "p/b/c", "p/b/d/e", "p/b.txt", "q"}
    assert fs.isdir("p/b") and not fs.isfile("p/b") and fs.isfile("p/b/c") and not fs.isdir("p/b/c")
    assert fs.info("") == {"name": "", "size": 0, "type": "directory"}
    with pytest.raises(IsADirectoryError):
        fs.modified("p/b")
    assert sorted(fs.glob("p/*")) == ["p/a", "p/b", "p/b.txt"]
    assert [e["name"] for e in fs.ls_stats("p/b")] == ["p/b.txt", "p/b/c", "p/b/d/e"]
    # A key can also be a directory's name: both are listed, and the key wins for info/ls.
    fs.pipe_file("p/b", b"xy")
    assert [(e["name"], e["type"]) for e in fs.ls("p")] == [
        ("p/a", "file"), ("p/b", "file"), ("p/b", "directory"), ("p/b.txt", "file")]
    assert fs.info("p/b")["size"] == 2 and fs.ls("p/b", detail=False) == ["p/b"]
    assert fs.find("p/b") == ["p/b/c", "p/b/d/e"]


@pytest.mark.parametrize("length", [0, 1, 2, 3, 4, 5, 5 * 1024 * 1024])
def test_sizes_are_exact(fs: PostgresFileSystem, length: int) -> None:
    blob = bytes((i * 7 + 3) % 256 for i in range(length)) if length < 100 else b"\x8f" * length
    fs.pipe_file("d/obj", blob)
    assert fs.info("d/obj")["size"] == length
    assert fs.size("d/obj") == length
    assert fs.ls("d")[0]["size"] == length
    assert fs.ls_stats("d/")[0]["size"] == length
    assert fs.cat_file("d/obj") == blob


def test_info_fields_mtime_and_etag(fs: PostgresFileSystem, pg_dsn: str, table: str) -> None:
    fs.pipe_file("k", b"v1")
    info = fs.info("k")
    assert set(info) == {"name", "size", "type", "mtime", "etag"}
    assert info["mtime"].tzinfo == timezone.utc
    (stored, updated) = sql(pg_dsn, f"SELECT pg_column_size(data), updated_at FROM {table} WHERE key = 'k'")[0]
    assert info["etag"] == f"{updated.timestamp():.6f}-{stored}" == fs.ukey("k")
    assert info["mtime"] == updated == fs.modified("k")
    assert fs.ls_stats("")[0] == info
    fs.pipe_file("k", b"v2")
    assert fs.info("k")["etag"] != info["etag"]


class Memo:
    """A size memo like the local cache's (see PostgresFileSystem.ls_stats), recording what it is told."""

    def __init__(self) -> None:
        self.sizes: dict[str, tuple[str, int]] = {}
        self.told: list[str] = []
        self.hook: Any = None

    def get_sizes(self, etags: dict[str, str]) -> dict[str, int]:
        if self.hook:
            self.hook()
        return {k: size for k, (etag, size) in self.sizes.items() if etags.get(k) == etag}

    def put_sizes(self, sizes: dict[str, tuple[str, int]]) -> None:
        self.told.extend(sorted(sizes))
        self.sizes.update(sizes)


def test_listing_takes_sizes_of_unchanged_rows_from_a_memo(fs: PostgresFileSystem) -> None:
    for i, n in enumerate([0, 1, 5, 1000]):
        fs.pipe_file(f"m/{i}", b"x" * n)
    exact = fs.ls_stats("m/")
    memo = Memo()
    assert fs.ls_stats("m/", sizes=memo) == exact
    assert memo.told == ["m/0", "m/1", "m/2", "m/3"]
    # Unchanged rows are not measured again: a remembered size shows as it is.
    memo.told.clear()
    memo.sizes["m/3"] = (memo.sizes["m/3"][0], 999)
    assert [e["size"] for e in fs.ls_stats("m/", sizes=memo)] == [0, 1, 5, 999]
    assert memo.told == []
    fs.pipe_file("m/3", b"y" * 7)  # a write changes the etag: measured again
    assert fs.ls_stats("m/", sizes=memo) == fs.ls_stats("m/") and memo.told == ["m/3"]
    # Rows to measure that change or vanish between the two queries: taken whole from the second one.
    memo.told.clear()
    fs.pipe_file("m/0", b"new")
    fs.pipe_file("m/2", b"q" * 9)

    def race() -> None:
        memo.hook = None
        fs.rm_file("m/0")
        fs.pipe_file("m/2", b"r" * 11)

    memo.hook = race
    listed = fs.ls_stats("m/", sizes=memo)
    assert [e["name"] for e in listed] == ["m/1", "m/2", "m/3"]
    assert listed[1] == fs.info("m/2") and listed[1]["size"] == 11
    assert memo.told == ["m/2"]
    # Direct children only: deeper rows are neither listed nor measured.
    fs.pipe_file("m/deeper/x", b"z" * 5)
    memo.told.clear()
    assert fs.ls_stats("m/", sizes=memo, recursive=False) == fs.ls_stats("m/")[:3]
    assert fs.ls_stats("m/", recursive=False) == fs.ls_stats("m/")[:3] and memo.told == []
    assert [e["name"] for e in fs.ls_stats("m/", sizes=memo)] == ["m/1", "m/2", "m/3", "m/deeper/x"]
    assert memo.told == ["m/deeper/x"]


def test_byte_order_and_unicode_keys(fs: PostgresFileSystem) -> None:
    keys = ["u/é", "u/B", "u/a", "u/Z", "u/✓/x.json", "u/ünï cødé 🚀.json", "u/_"]
    for key in keys:
        fs.pipe_file(key, key.encode())
    by_bytes = sorted(keys, key=lambda k: k.encode())
    assert [e["name"] for e in fs.ls_stats("u/")] == by_bytes
    assert fs.find("u") == by_bytes
    assert fs.ls("u/✓", detail=False) == ["u/✓/x.json"]
    assert fs.cat_file("u/ünï cødé 🚀.json") == "u/ünï cødé 🚀.json".encode()
    assert "u/✓" in fs.ls("u", detail=False)


# --- reading and writing -----------------------------------------------------------------------------


def test_cat_ranges_and_many_paths_at_once(fs: PostgresFileSystem, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(20):
        fs.pipe_file(f"m/{i:02d}", f"value {i}".encode())
    assert fs.cat_file("m/07", start=2, end=5) == b"lue"
    assert fs.cat_file("m/07", start=-2) == b" 7"

    def no_single_reads(*args: Any, **kwargs: Any) -> bytes:
        raise AssertionError("cat() of many paths must not read key by key")

    monkeypatch.setattr(fs, "cat_file", no_single_reads)
    paths = [f"m/{i:02d}" for i in range(20)]
    assert fs.cat(paths) == {p: f"value {int(p[2:])}".encode() for p in paths}
    assert fs.cat("m", recursive=True) == fs.cat(paths)
    with pytest.raises(FileNotFoundError, match="m/99"):
        fs.cat(["m/01", "m/99"])
    assert fs.cat(["m/01", "m/99"], on_error="omit") == {"m/01": b"value 1"}
    assert isinstance(fs.cat(["m/01", "m/99"], on_error="return")["m/99"], FileNotFoundError)


def test_missing_keys(fs: PostgresFileSystem) -> None:
    for call in (fs.cat_file, fs.info, fs.rm_file, fs.modified, fs.ls):
        with pytest.raises(FileNotFoundError):
            call("nothing/here")
    with pytest.raises(FileNotFoundError):
        fs.open("nothing", "rb")
    with pytest.raises(FileNotFoundError):
        fs.cp_file("nothing", "dst")
    assert not fs.exists("dst")


def test_exclusive_create_does_not_modify(fs: PostgresFileSystem) -> None:
    fs.pipe_file("lock", b"mine", mode="create")
    before = fs.info("lock")
    with pytest.raises(FileExistsError):
        fs.pipe_file("lock", b"theirs", mode="create")
    with pytest.raises(FileExistsError):
        fs.open("lock", "xb")
    assert fs.cat_file("lock") == b"mine" and fs.info("lock") == before
    # The check at close() is atomic: someone else created the key while the file was open.
    f = fs.open("late", "xb")
    f.write(b"mine")
    fs.pipe_file("late", b"theirs")
    with pytest.raises(FileExistsError):
        f.close()
    assert fs.cat_file("late") == b"theirs"


def test_open_write_text_and_abort(fs: PostgresFileSystem) -> None:
    with fs.open("w/a.txt", "w") as f:
        f.write("héllo\n")
    assert fs.cat_file("w/a.txt") == "héllo\n".encode()
    with fs.open("w/a.txt", "r") as f:
        assert f.read() == "héllo\n"
    with fs.open("w/a.txt", "wb") as f:
        f.write(b"over")
        f.write(b"written")
    assert fs.cat_file("w/a.txt") == b"overwritten"
    with pytest.raises(RuntimeError), fs.open("w/a.txt", "wb") as f:
        f.write(b"partial")
        raise RuntimeError("abort")
    assert fs.cat_file("w/a.txt") == b"overwritten"
    with fs.open("w/a.txt", "rb") as f:
        assert f.size == 11 and not f.writable()
    with pytest.raises(ValueError, match="unsupported file mode"):
        fs.open("w/a.txt", "ab")


def test_transaction_defers_writes(fs: PostgresFileSystem) -> None:
    with fs.transaction:
        with fs.open("tx/a", "wb") as f:
            f.write(b"1")
        assert not fs.exists("tx/a")
    assert fs.cat_file("tx/a") == b"1"


def test_delete(fs: PostgresFileSystem) -> None:
    for key in ("r/a", "r/b/c", "r/b/d", "keep"):
        fs.pipe_file(key, b"x")
    fs.rm_file("r/a")
    assert not fs.exists("r/a")
    with pytest.raises(FileNotFoundError):
        fs.rm_file("r/a")
    with pytest.raises(IsADirectoryError):
        fs.rm("r/b")
    fs.rm("r", recursive=True)
    assert fs.find("") == ["keep"]
    with pytest.raises(FileNotFoundError):
        fs.rm("r", recursive=True)
    fs.rm(["keep"])
    assert fs.find("") == []


def test_copy_is_server_side_and_verbatim(fs: PostgresFileSystem, pg_dsn: str, table: str) -> None:
    fs.pipe_file("seed", b"")
    odd = '{ "data" : "B64" }'.replace("B64", base64.b64encode(b"payload").decode())
    sql(pg_dsn, PULUMI_WRITE % table, ["src", odd], raw=True)
    fs.pipe_file("dst", b"old")
    fs.cp_file("src", "dst")
    fs.cp_file("src", "new/dst")
    rows = dict(sql(pg_dsn, f"SELECT key, data::text FROM {table} WHERE key LIKE '%%dst'"))
    assert rows == {"dst": odd, "new/dst": odd}
    assert fs.cat_file("new/dst") == b"payload"
    fs.copy("new", "copied", recursive=True)
    assert fs.find("copied") == ["copied/dst"]


# --- errors, URLs, threads -----------------------------------------------------------------------------


@pytest.mark.parametrize("template", [
    "postgresql://alice:s3cret-pw@127.0.0.1:{port}/db",
    "host=127.0.0.1 port={port} user=alice password=s3cret-pw dbname=db",
])
def test_connection_refused_names_host_not_password(template: str) -> None:
    port = servers.free_port()
    fs = PostgresFileSystem(template.format(port=port), skip_instance_cache=True)
    with pytest.raises(ConnectionError) as info:
        fs.exists("anything")
    message = str(info.value)
    assert "127.0.0.1" in message and str(port) in message
    assert "s3cret" not in message and "\n" not in message


def test_login_and_database_errors(pg_dsn: str) -> None:
    nobody = PostgresFileSystem(pg_dsn.replace("postgres@", "nobody_here:pw@", 1), skip_instance_cache=True)
    with pytest.raises(PermissionError, match="nobody_here"):
        nobody.ls("")
    nodb = PostgresFileSystem(pg_dsn.rsplit("/", 1)[0] + "/no_such_db", skip_instance_cache=True)
    with pytest.raises(BackendMissing, match="no_such_db"):
        nodb.ls("")
    with pytest.raises(InvalidBackendURL, match="connection string"):
        PostgresFileSystem("host=x password=s3cret port", skip_instance_cache=True)


def test_missing_psycopg_is_a_missing_dependency(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(MissingDependency, match=r"pulumi-diy\[postgres\]"):
        PostgresFileSystem(pg_dsn, skip_instance_cache=True)


def test_urls_and_fsspec_registration(pg_dsn: str, table: str) -> None:
    strip, kwargs = PostgresFileSystem._strip_protocol, PostgresFileSystem._get_kwargs_from_urls
    assert strip("postgres://u:p@h:1/mydb/.pulumi/x.json?table=t") == "mydb/.pulumi/x.json"
    assert strip("mydb/.pulumi/stacks/") == "mydb/.pulumi/stacks"
    assert kwargs("postgresql://u:p@h:1/mydb/k?sslmode=disable&table=T&table=U") == {
        "dsn": "postgresql://u:p@h:1/mydb?sslmode=disable", "table": "T"}
    fsspec.register_implementation("postgres", PostgresFileSystem, clobber=True)
    fsspec.register_implementation("postgresql", PostgresFileSystem, clobber=True)
    url = f"{pg_dsn}/.pulumi/meta.yaml?table={table}"
    fs, path = fsspec.core.url_to_fs(url)
    try:
        assert isinstance(fs, PostgresFileSystem) and str(fs.table) == table
        assert path == "postgres/.pulumi/meta.yaml"  # the database name is the key prefix, as in Pulumi
        fs.pipe_file(path, b"version: 1\n")
        with fsspec.open(url, "rb") as f:
            assert f.read() == b"version: 1\n"
        assert fs.unstrip_protocol(path) == "postgres:///postgres/.pulumi/meta.yaml"
        assert fs._strip_protocol(fs.unstrip_protocol(path)) == path
    finally:
        fs.close()
        sql(pg_dsn, f"DROP TABLE IF EXISTS {table}")


def test_instances_are_cached_per_dsn_and_table(pg_dsn: str) -> None:
    a = PostgresFileSystem(pg_dsn, table="cache_a")
    assert PostgresFileSystem(pg_dsn, table="cache_a") is a
    assert PostgresFileSystem(pg_dsn, table="cache_b") is not a
    assert PostgresFileSystem(pg_dsn + "?application_name=x", table="cache_a") is not a


def test_concurrent_use_from_eight_threads(pg_dsn: str, table: str) -> None:
    fs = PostgresFileSystem(pg_dsn, table=table, pool_size=4, skip_instance_cache=True)
    barrier = threading.Barrier(8)

    def work(n: int) -> list[bytes]:
        barrier.wait()
        got = []
        for i in range(25):
            key = f"c/{n}/{i}"
            fs.pipe_file(key, f"{n}:{i}".encode() * (i + 1))
            got.append(fs.cat_file(key))
            fs.info(key)
        return got

    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(work, range(8)))
        for n, got in enumerate(results):
            assert got == [f"{n}:{i}".encode() * (i + 1) for i in range(25)]
        assert len(fs.find("c")) == 200
        assert len(fs.cat(fs.find("c"))) == 200
    finally:
        fs.close()
        sql(pg_dsn, f"DROP TABLE IF EXISTS {table}")


# --- fsspec's own abstract test suites -------------------------------------------------------------------


if abstract is not None:

    class PostgresFixtures(abstract.AbstractFixtures):
        @pytest.fixture
        def fs(self, pg_dsn: str) -> Iterator[PostgresFileSystem]:
            table = unique()
            f = PostgresFileSystem(pg_dsn, table=table, skip_instance_cache=True)
            yield f
            f.close()
            sql(pg_dsn, f"DROP TABLE IF EXISTS {table}")

        @pytest.fixture
        def fs_join(self) -> Any:
            return lambda *parts: "/".join(parts)

        @pytest.fixture
        def fs_path(self) -> str:
            return "mydb/root"

        @pytest.fixture
        def supports_empty_directories(self) -> bool:
            return False

    class TestPostgresCopy(abstract.AbstractCopyTests, PostgresFixtures):
        pass

    class TestPostgresGet(abstract.AbstractGetTests, PostgresFixtures):
        pass

    class TestPostgresPut(abstract.AbstractPutTests, PostgresFixtures):
        pass

    class TestPostgresOpen(abstract.AbstractOpenTests, PostgresFixtures):
        pass

    class TestPostgresPipe(abstract.AbstractPipeTests, PostgresFixtures):
        pass


def test_backend_listings_remember_sizes_across_processes(request: pytest.FixtureRequest, tmp_path: Any) -> None:
    from tests.backends import make_target, put

    target = make_target("postgres", request, tmp_path)
    backend = target.open()
    assert backend.store.size_memo is not None
    put(backend, {".pulumi/stacks/a.json": b"{}", ".pulumi/stacks/b.json": b"x" * 300})
    first = {o.key: o.size for o in backend.store.list(".pulumi/stacks")}
    assert first == {".pulumi/stacks/a.json": 2, ".pulumi/stacks/b.json": 300}
    # A later process finds the sizes in the local cache (a planted value shows it is used) ...
    etag = {o.key: o.etag for o in backend.store.list(".pulumi/stacks")}[".pulumi/stacks/b.json"]
    backend.store.size_memo.put_sizes({backend.store.path(".pulumi/stacks/b.json"): (str(etag), 7)})
    later = target.open()
    assert {o.key: o.size for o in later.store.list(".pulumi/stacks")}[".pulumi/stacks/b.json"] == 7
    # ... and measures what changed; without a cache every size is measured.
    put(later, {".pulumi/stacks/b.json": b"y" * 301})
    assert {o.key: o.size for o in target.open().store.list(".pulumi/stacks")}[".pulumi/stacks/b.json"] == 301
    nocache = target.open(use_cache=False)
    assert nocache.store.size_memo is None
    assert {o.key: o.size for o in nocache.store.list(".pulumi/stacks")} == {
        ".pulumi/stacks/a.json": 2, ".pulumi/stacks/b.json": 301}


def test_listings_without_sizes_measure_only_what_is_asked(request: pytest.FixtureRequest, tmp_path: Any) -> None:
    from tests.backends import make_target, put

    target = make_target("postgres", request, tmp_path)
    backend = target.open(use_cache=False)
    put(backend, {f".pulumi/history/p/s/s-{i}.history.json": b"x" * (10 + i) for i in range(5)})
    listed = backend.store.list(".pulumi/history/p/s", recursive=False, sizes=False)
    assert [o.size for o in listed] == [-1] * 5
    measured = backend.store.measure([listed[1], listed[3]])
    assert [o.size for o in measured] == [11, 13] and measured[0].etag == listed[1].etag
    backend.store.delete(listed[4].key)
    assert [o.size for o in backend.store.measure(listed[3:])] == [13, -1]  # gone since: still unknown
    cached = target.open()  # with the local cache: what was measured once is known to the next listing
    cached.store.list(".pulumi/history/p/s", recursive=False)
    again = target.open().store.list(".pulumi/history/p/s", recursive=False, sizes=False)
    assert [o.size for o in again] == [10, 11, 12, 13]
