"""What `postgres.py` needs to know about Pulumi's ``pulumi_state`` table, and nothing else.

- :func:`parse_table` validates the ``table`` name and folds it the way PostgreSQL folds the raw,
  unquoted name Pulumi interpolates into its SQL (``MyState`` -> ``mystate``).
- :class:`Statements` holds every SQL statement, composed once with quoted identifiers.
- :func:`encode_row` / :func:`decode_row` convert object bytes to and from the ``data`` column
  (the JSON text ``{"data":"<std base64>"}``, exactly as Go's ``json.Marshal`` writes it).
- :func:`translate_error` is the one place where psycopg errors become built-in exceptions
  (``ConnectionError``, ``PermissionError``, ``OSError``) or pulumi-diy storage errors.

psycopg is imported only inside functions: this module is safe to import without it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pulumi_diy.errors import BackendMissing, CorruptInput, InvalidBackendURL, MissingDependency

if TYPE_CHECKING:
    from psycopg import sql

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_TABLE_RE = re.compile(rf"(?:({_NAME})\.)?({_NAME})")

# Size of the object without fetching it: the base64 length without padding * 3 / 4, rounded down, is
# exact for standard base64 as Go writes it (a row with base64 wrapped in CR/LF would be over-counted).
# A JSON object without a "data" string reads as empty in Go, hence the coalesce. This detoasts and
# parses each row on the server (about 1 s per 200 MB listed; bench/README.md): exactness was kept
# over speed, since Pulumi's own cheaper figure is up to 2 bytes off.
# The etag must change on every write but must not cost another pass over the data: every write
# sets updated_at = now(), and pg_column_size reads the stored size from the TOAST header.
_STAT_COLUMNS = (
    "key, coalesce(octet_length(rtrim(data->>'data', '='))::bigint * 3 / 4, 0), updated_at, "
    "(extract(epoch from updated_at)::numeric(20,6))::text || '-' || pg_column_size(data)::text"
)
# The same without the size: no row is detoasted, so a listing costs little more than the keys. Sizes
# then come from a memo keyed by etag (see PostgresFileSystem.ls_stats), the rest from a second query.
_CHEAP_COLUMNS = (
    "key, NULL::bigint, updated_at, "
    "(extract(epoch from updated_at)::numeric(20,6))::text || '-' || pg_column_size(data)::text"
)
# Start of the part of a key after %(prefix)s, counted in characters as substr() counts them.
_SKIP_PREFIX = "char_length(%(prefix)s::text) + 1"


def import_psycopg() -> Any:
    """Import psycopg and psycopg_pool, or raise :class:`MissingDependency`."""
    try:
        import psycopg
        import psycopg_pool  # noqa: F401  (checked here so a half-installed extra fails early)
    except ImportError as e:
        raise MissingDependency("psycopg", "postgres") from e
    return psycopg


@dataclass(frozen=True)
class Table:
    """A validated, case-folded table name, optionally schema-qualified."""

    schema: str | None
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    @property
    def index(self) -> str:
        """The prefix index Pulumi creates: ``<table>_key_prefix_idx`` (same schema as the table)."""
        return f"{self.name}_key_prefix_idx"

    @property
    def qualified_index(self) -> str:
        return f"{self.schema}.{self.index}" if self.schema else self.index


def parse_table(name: str) -> Table:
    """Validate ``name`` (``table`` or ``schema.table``) and fold it to lower case.

    Pulumi puts the name into its SQL unquoted, so PostgreSQL folds it to lower case; we quote
    identifiers ourselves and must fold first to address the same table. Anything else than
    plain identifiers is refused: Pulumi would interpolate it raw (SQL injection).
    """
    m = _TABLE_RE.fullmatch(name)
    if m is None:
        raise InvalidBackendURL(
            f"invalid PostgreSQL table name {name!r}: use letters, digits and _ (optionally schema.table)"
        )
    schema, table = m.group(1), m.group(2)
    return Table(schema.lower() if schema else None, table.lower())


def escape_like(prefix: str) -> str:
    """A ``LIKE ... ESCAPE '\\'`` pattern matching every key that starts with ``prefix``."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_ROW_HEAD, _ROW_TAIL = '{"data":"', '"}'


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs in document order, duplicates kept."""


def encode_row(data: bytes) -> str:
    """The ``data`` column text for ``data``: byte-identical to Go's ``json.Marshal``."""
    # Standard base64 never contains characters Go's encoder would escape (<, >, &).
    return _ROW_HEAD + base64.b64encode(data).decode("ascii") + _ROW_TAIL


def decode_row(key: str, table: Table, text: str) -> bytes:
    """Object bytes from the ``data`` column text, read the way Go's ``json.Unmarshal`` reads it."""
    where = f"PostgreSQL row {key!r} in table {table}"
    b64 = text[len(_ROW_HEAD):-len(_ROW_TAIL)]
    # Fast path for the shape Go writes; anything else (whitespace, escapes, more fields) is parsed.
    if not (text.startswith(_ROW_HEAD) and text.endswith(_ROW_TAIL) and '"' not in b64 and "\\" not in b64):
        try:
            doc = json.loads(text, object_pairs_hook=_Pairs)
        except ValueError as e:
            raise CorruptInput(f"{where}: data is not JSON ({e})") from None
        if doc is not None and not isinstance(doc, _Pairs):
            raise CorruptInput(f"{where}: data is not a JSON object")
        # Go: the last key matching the field name case-insensitively wins; null or absent is "".
        values = [v for k, v in doc or () if k.casefold() == "data"]
        value = values[-1] if values else None
        if value is not None and not isinstance(value, str):
            raise CorruptInput(f"{where}: 'data' is not a string")
        # Go's base64 decoder skips CR and LF; everything else must be strict standard base64.
        b64 = (value or "").replace("\r", "").replace("\n", "")
    try:
        return base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as e:
        raise CorruptInput(f"{where}: 'data' is not base64 ({e})") from None


class Statements:
    """Every statement the filesystem runs, composed once for one table."""

    def __init__(self, table: Table) -> None:
        from psycopg import sql

        ident = sql.Identifier(table.schema, table.name) if table.schema else sql.Identifier(table.name)

        def q(text: str) -> sql.Composed:
            idx, cols, skip = sql.Identifier(table.index), sql.SQL(_STAT_COLUMNS), sql.SQL(_SKIP_PREFIX)
            return sql.SQL(text).format(t=ident, idx=idx, cols=cols, skip=skip, cheap=sql.SQL(_CHEAP_COLUMNS))

        # Pulumi's schema.sql, with the identifiers quoted (after folding, so the names are the same).
        self.create_schema = q(
            "CREATE TABLE IF NOT EXISTS {t} (\n"
            "    key TEXT PRIMARY KEY,\n"
            "    data JSON NOT NULL,\n"
            "    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now()\n"
            ");\n"
            "CREATE INDEX IF NOT EXISTS {idx} ON {t} (key text_pattern_ops);\n"
        )
        self.schema_exists = sql.SQL("SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL")
        # The JSON text is parsed here, not with ->> on the server: several times faster for big objects.
        self.read = q("SELECT data::text FROM {t} WHERE key = %s")
        self.read_many = q("SELECT key, data::text FROM {t} WHERE key = ANY(%s)")
        # One row for the key itself (if it exists) and one marker row if it is a "directory".
        self.stat = q(
            "SELECT {cols}, false FROM {t} WHERE key = %(key)s\n"
            "UNION ALL\n"
            "(SELECT key, NULL, NULL, NULL, true FROM {t} WHERE key LIKE %(pattern)s ESCAPE '\\' LIMIT 1)"
        )
        # An escaped, left-anchored LIKE becomes a range scan on the text_pattern_ops index.
        self.stat_prefix = q(
            "SELECT {cols} FROM {t} WHERE key LIKE %s ESCAPE '\\' ORDER BY key COLLATE \"C\""
        )
        self.stat_prefix_cheap = q(
            "SELECT {cheap} FROM {t} WHERE key LIKE %s ESCAPE '\\' ORDER BY key COLLATE \"C\""
        )
        self.stat_keys = q("SELECT {cols} FROM {t} WHERE key = ANY(%s)")
        # One directory level: the key itself, direct children with stats, child "directories" by name
        # (unordered: the caller sorts).
        self.list_level = q(
            "SELECT {cols}, false FROM {t} WHERE key = %(key)s\n"
            "UNION ALL\n"
            "SELECT {cols}, false FROM {t}\n"
            "  WHERE key LIKE %(pattern)s ESCAPE '\\' AND strpos(substr(key, {skip}), '/') = 0\n"
            "UNION ALL\n"
            "SELECT DISTINCT %(prefix)s::text || split_part(substr(key, {skip}), '/', 1),\n"
            "       NULL::bigint, NULL::timestamptz, NULL::text, true FROM {t}\n"
            "  WHERE key LIKE %(pattern)s ESCAPE '\\' AND strpos(substr(key, {skip}), '/') > 0"
        )
        self.upsert = q(
            "INSERT INTO {t} (key, data) VALUES (%s, %s)\n"
            "ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, updated_at = now()"
        )
        self.insert_new = q("INSERT INTO {t} (key, data) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING")
        # Server-side copy keeps the source's JSON text verbatim, as Pulumi's Copy does.
        self.copy = q(
            "INSERT INTO {t} (key, data) SELECT %s, data FROM {t} WHERE key = %s\n"
            "ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, updated_at = now()"
        )
        self.delete = q("DELETE FROM {t} WHERE key = %s")
        self.delete_many = q("DELETE FROM {t} WHERE key = ANY(%s) RETURNING key")


# --- connection target and error mapping -----------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where we connect, for messages; ``secrets`` are strings to redact from any message."""

    host: str
    port: str
    dbname: str
    table: Table
    secrets: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.dbname}"

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        text = re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)
        return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", text, flags=re.IGNORECASE)


def parse_target(dsn: str, table: Table) -> Target:
    """Host, port and database named by ``dsn`` (libpq defaults, incl. PG* variables, fill gaps)."""
    psycopg = import_psycopg()
    secrets = _url_password(dsn)
    try:
        params = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error as e:
        redacted = Target("", "", "", table, secrets).redact(_first_line(str(e)))
        raise InvalidBackendURL(f"invalid PostgreSQL connection string: {redacted}") from None
    if params.get("password"):
        secrets = (*secrets, str(params["password"]))
    defaults = {o.keyword.decode(): (o.val or b"").decode() for o in psycopg.pq.Conninfo.get_defaults()}

    def get(name: str, fallback: str) -> str:
        return str(params.get(name) or defaults.get(name) or fallback)

    host = str(params.get("host") or params.get("hostaddr") or defaults.get("host") or "local socket")
    return Target(host, get("port", "5432"), get("dbname", get("user", "?")), table, secrets)


def _url_password(dsn: str) -> tuple[str, ...]:
    try:
        password = urlsplit(dsn).password if "://" in dsn else None
    except ValueError:
        return ()
    return (password,) if password else ()


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), text.strip())


# Connection failures carry no SQLSTATE (libpq reports them as text), so these are matched on the
# server's English message; anything unmatched stays a ConnectionError.
_DENIED_AT_CONNECT = ("password authentication failed", "no pg_hba.conf entry", "permission denied",
                      "authentication failed", "does not exist")


def translate_error(exc: Exception, target: Target) -> Exception:
    """The exception to raise for a psycopg/psycopg_pool error (the one mapping in this package).

    - cannot connect (refused, DNS, timeout, pool exhausted, connection lost) -> ``ConnectionError``
    - authentication or privilege refused (SQLSTATE class 28, 42501) -> ``PermissionError``
    - the database or the table does not exist -> :class:`pulumi_diy.errors.BackendMissing`
    - anything else -> ``OSError``
    Every message is one line, names host:port/database or the table, and never the password.
    """
    psycopg = import_psycopg()
    from psycopg_pool import PoolTimeout

    sqlstate = getattr(exc, "sqlstate", None) or ""
    detail = target.redact(_first_line(str(exc)))
    if isinstance(exc, PoolTimeout):
        return ConnectionError(f"PostgreSQL at {target}: no connection available ({detail})")
    if sqlstate == "3D000" or (not sqlstate and "database" in detail and "does not exist" in detail):
        return BackendMissing(f"PostgreSQL at {target}: {_after_failed(detail)}")
    if sqlstate == "42P01":
        return BackendMissing(f"PostgreSQL at {target}: table {target.table} does not exist")
    if sqlstate.startswith("28") or sqlstate == "42501":
        return PermissionError(f"PostgreSQL at {target}, table {target.table}: {_after_failed(detail)}")
    if (isinstance(exc, psycopg.OperationalError) and not sqlstate) or sqlstate.startswith(("08", "57P")):
        reason = _after_failed(detail)
        if any(marker in reason for marker in _DENIED_AT_CONNECT):
            return PermissionError(f"PostgreSQL at {target}: {reason}")
        return ConnectionError(f"cannot connect to PostgreSQL at {target}: {reason}")
    return OSError(f"PostgreSQL at {target}, table {target.table}: {detail}")


def _after_failed(detail: str) -> str:
    """libpq's ``connection to server at "h", port p failed: FATAL:  reason`` -> ``reason``."""
    reason = detail.rsplit(" failed: ", 1)[-1]
    return re.sub(r"^(?:FATAL|ERROR):\s+", "", reason).strip() or detail
