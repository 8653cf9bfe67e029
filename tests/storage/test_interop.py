"""Interoperability with what the Pulumi CLI writes: fileblob `.attrs` sidecars and temp files, retained
checkpoint copies, rows inserted by Pulumi's PostgreSQL driver, and a backend copied byte for byte
from local files to every other kind listing identically.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from pulumi_diy.backend.layout import StackRef
from pulumi_diy.info import backend_info
from pulumi_diy.stacks import list_stacks
from pulumi_diy.synth import SynthSpec, generate
from tests.backends import BackendTarget, make_target

STACK = ".pulumi/stacks/proj/dev.json"


def checkpoint(stack: str = "organization/proj/dev", resources: int = 1) -> bytes:
    """A minimal valid current-style checkpoint (compact Go JSON)."""
    version = "v3.259.0"
    res = [{"urn": f"urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev-{i}", "custom": False,
            "type": "pulumi:pulumi:Stack"} for i in range(resources)]
    doc = {"version": 3, "checkpoint": {"stack": stack, "latest": {
        "manifest": {"time": "2026-08-21T12:00:00Z", "magic": hashlib.sha256(version.encode()).hexdigest(),
                     "version": version},
        "resources": res, "metadata": {}}}}
    return json.dumps(doc, separators=(",", ":")).encode()


def fileblob_attrs(data: bytes, content_type: str = "text/plain; charset=utf-8") -> bytes:
    """A sidecar exactly as gocloud's fileblob writes it (G blob/fileblob/attrs.go)."""
    doc = {"user.cache_control": "", "user.content_disposition": "", "user.content_encoding": "",
           "user.content_language": "", "user.content_type": content_type, "user.metadata": None,
           "md5": base64.b64encode(hashlib.md5(data).digest()).decode()}
    return json.dumps(doc, separators=(",", ":")).encode()


# --- local files ---------------------------------------------------------------------------------


@pytest.fixture
def pulumi_dir(tmp_path: Path) -> tuple[Path, BackendTarget]:
    """A file backend laid out the way the Pulumi CLI leaves it, sidecars and leftovers included."""
    root = tmp_path / "state"
    files = {".pulumi/meta.yaml": b"version: 1\n", STACK: checkpoint(), STACK + ".bak": checkpoint(resources=0),
             ".pulumi/stacks/proj/dev.json.18f2a3b4c5d6e7f8.tmp": b'{"half',  # a crash mid-write
             ".pulumi/stacks/proj/dev.json.1755777600000000000": checkpoint(),  # RETAIN_CHECKPOINTS
             ".pulumi/stacks/proj/dev.pulumi-tags": b'{"version":1,"tags":{"team":"a"}}'}
    for key, data in files.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if not key.endswith(".tmp"):
            (root / (key + ".attrs")).write_bytes(fileblob_attrs(data))
    return root, BackendTarget("file", f"file://{root}", {}, str(tmp_path))


def test_file_listings_hide_sidecars_and_stacks_ignore_leftovers(pulumi_dir: tuple[Path, BackendTarget]) -> None:
    _, target = pulumi_dir
    backend = target.open(use_cache=False)
    keys = [o.key for o in backend.store.list(".pulumi/stacks")]
    assert not [k for k in keys if k.endswith(".attrs")]
    assert STACK + ".bak" in keys and ".pulumi/stacks/proj/dev.json.1755777600000000000" in keys
    assert {str(r): o.key for r, o in backend.stacks().items()} == {"proj/dev": STACK}
    info = backend_info(backend)
    assert (info.stacks, info.other_files) == (1, {"bak": 1, "retained": 1, "tags": 1, "tmp": 1})


def test_rewrite_keeps_the_sidecar_truthful(pulumi_dir: tuple[Path, BackendTarget]) -> None:
    root, target = pulumi_dir
    store = target.store()
    new = checkpoint(resources=3)
    store.write(STACK, new)
    store.copy(STACK, STACK + ".bak")
    for key in (STACK, STACK + ".bak"):
        attrs = json.loads((root / (key + ".attrs")).read_bytes())
        assert attrs["md5"] == base64.b64encode(hashlib.md5(new).digest()).decode()
        assert attrs["user.content_type"] == "text/plain; charset=utf-8"  # the rest is kept
    store.write(".pulumi/stacks/proj/new.json", new)  # Pulumi never needs a sidecar: none is invented
    assert not (root / ".pulumi/stacks/proj/new.json.attrs").exists()
    store.delete(STACK + ".bak")  # fileblob's Delete removes the sidecar with the blob
    assert not (root / (STACK + ".bak.attrs")).exists()
    assert [p.name for p in root.rglob("*.tmp")] == ["dev.json.18f2a3b4c5d6e7f8.tmp"]  # only Pulumi's own
    assert store.read(STACK) == new


# --- PostgreSQL: rows as Pulumi's driver writes them ------------------------------------------------

# P pkg/backend/diy/postgres/schema.sql, with the table name interpolated as Pulumi does.
PULUMI_SCHEMA = """CREATE TABLE IF NOT EXISTS {t} (
    key TEXT PRIMARY KEY,
    data JSON NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS {t}_key_prefix_idx ON {t} (key text_pattern_ops);"""
PULUMI_INSERT = ("INSERT INTO {t} (key, data) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET data = %s, "
                 "updated_at = now()")


def test_postgres_rows_inserted_like_pulumi_are_read(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    import psycopg

    target = make_target("postgres", request, tmp_path)
    table = target.url.rsplit("table=", 1)[1]
    dsn = target.url.split("?", 1)[0]
    rows = {"postgres/.pulumi/meta.yaml": b"version: 1\n", "postgres/" + STACK: checkpoint(resources=2),
            "postgres/.pulumi/stacks/proj/prod.json": checkpoint("organization/proj/prod"),
            "postgres/.pulumi/stacks/proj_x/dev.json": checkpoint("organization/proj_x/dev"),  # LIKE's "_"
            "other-db/.pulumi/stacks/proj/dev.json": checkpoint()}  # another database's prefix
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(PULUMI_SCHEMA.format(t=table))
        for key, data in rows.items():
            # Go's json.Marshal of struct{Data string `json:"data"`}
            text = json.dumps({"data": base64.b64encode(data).decode()}, separators=(",", ":"))
            conn.execute(PULUMI_INSERT.format(t=table), (key, text, text))
    backend = target.open(use_cache=False)
    assert backend.store.read(STACK) == rows["postgres/" + STACK]
    assert [str(r) for r in backend.stacks()] == ["proj/dev", "proj/prod", "proj_x/dev"]
    assert [o.key for o in backend.store.list(".pulumi/stacks/proj")] == [STACK, ".pulumi/stacks/proj/prod.json"]
    assert backend.store.info(STACK).size == len(rows["postgres/" + STACK])
    assert [(r.name, r.resource_count) for r in list_stacks(backend)] == [
        ("proj/dev", 2), ("proj/prod", 1), ("proj_x/dev", 1)]


# --- one backend, byte for byte, on every kind -----------------------------------------------------

SPEC = dict(projects=["infra", "web.app"], stacks=["dev", "prod-eu"], resources=6, history=2, backups=2,
            passphrase="interop", compression={"web.app/dev": "gzip", "web.app/prod-eu": "zstd"},
            stale_locks={"infra/prod-eu"}, tags={"infra/dev": {"team": "platform"}}, pending={"infra/dev"})
EXTRA = {".pulumi/stacks/infra/dev.json.18f2a3b4c5d6e7f8.tmp": b'{"half',
         ".pulumi/stacks/infra/dev.json.1755777600000000000": b"{}",
         ".pulumi/stacks/web.app/notes.txt": b"not a stack"}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> BackendTarget:
    """A small multi-project backend (history, backups, locks, tags, three compressions) on local files."""
    root = tmp_path_factory.mktemp("source") / "state"
    root.mkdir()
    src = BackendTarget("file", f"file://{root}", {}, str(root.parent))
    backend = src.open(use_cache=False)
    generate(backend, SynthSpec(**SPEC))
    for key, data in EXTRA.items():
        backend.store.write(key, data)
    return src


def copy_backend(src: BackendTarget, dst: BackendTarget) -> list[str]:
    """Copy every object byte for byte (what `aws s3 sync`, `gsutil cp` or `azcopy` would do)."""
    a, b = src.store(), dst.store()
    keys = [o.key for o in a.list("")]
    # a sync copies the leftovers of killed local writes too (listings hide them on local files)
    for key, data in a.read_many(keys + [o.key for o in a.temp_leftovers("")]).items():
        assert isinstance(data, bytes), data
        b.write(key, data)
    return keys


def _rows(backend: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.to_dict().items() if k != "modified"} for row in list_stacks(backend)]


def _info(backend: Any) -> dict[str, Any]:
    return {k: v for k, v in backend_info(backend).to_dict().items() if k not in ("url", "kind", "root", "server")}


def test_copied_backend_lists_identically(source: BackendTarget, target: BackendTarget) -> None:
    keys = copy_backend(source, target)
    assert len(keys) > 30
    original, copy = source.open(use_cache=False), target.open(use_cache=False)
    leftovers = [] if target.kind == "file" else [o.key for o in source.store().temp_leftovers("")]
    assert leftovers or target.kind == "file"
    assert [o.key for o in copy.store.list("")] == sorted(keys + leftovers)
    assert [(str(r), o.key, o.size) for r, o in copy.stacks().items()] == \
        [(str(r), o.key, o.size) for r, o in original.stacks().items()]
    assert [str(r) for r in copy.stacks()] == ["infra/dev", "infra/prod-eu", "web.app/dev", "web.app/prod-eu"]
    assert _rows(copy) == _rows(original)
    assert _info(copy) == _info(original)
    assert copy.read_tags(StackRef("infra", "dev")) == {"team": "platform"}
    history = ".pulumi/history/web.app/prod-eu"
    assert [o.key for o in copy.store.list(history, recursive=False)] == \
        [o.key for o in original.store.list(history, recursive=False)]
