"""Fresh, empty backends of every storage kind for tests: one bucket/container/table/dir per call.

``target`` (parametrised over :data:`KINDS`) is what every cross-kind suite uses. The helpers at the
bottom build the failure cases the same way: a backend whose server is down, or whose bucket,
container, directory or database does not exist.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

KINDS = ("file", "s3", "gcs", "azure", "postgres")


@dataclass
class BackendTarget:
    """A backend URL plus the environment the CLI/library needs to reach it."""

    kind: str
    url: str
    env: dict[str, str] = field(default_factory=dict)
    _tmp: str = "/tmp"

    def settings(self, **kw: Any) -> Any:
        from pulumi_diy.config import resolve_settings

        environ = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
        environ.update(self.env)
        environ.setdefault("PULUMI_DIY_CACHE_DIR", kw.pop("cache_dir", "") or str(Path(self._tmp) / "cache"))
        return resolve_settings(backend=self.url, environ=environ, **kw)

    def open(self, **kw: Any) -> Any:
        from pulumi_diy.backend.backend import open_backend

        use_cache = kw.pop("use_cache", True)
        return open_backend(settings=self.settings(**kw), use_cache=use_cache)

    def store(self) -> Any:
        """The bare Store of this backend (no meta.yaml read, nothing cached)."""
        return self.open(use_cache=False).store


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def gcs_host(endpoint: str) -> str:
    """STORAGE_EMULATOR_HOST the way Pulumi (gocloud) reads it: host:port, no scheme."""
    return endpoint.split("://", 1)[-1]


def make_target(kind: str, request: pytest.FixtureRequest, tmp_path: Path, *, create: bool = True) -> BackendTarget:
    """A backend of ``kind`` with a fresh bucket/container/table/dir (``create=False``: left missing)."""
    if kind == "file":
        root = tmp_path / "state"
        if create:
            root.mkdir()
        t = BackendTarget(kind, f"file://{root}")
    elif kind == "s3":
        endpoint = request.getfixturevalue("moto_endpoint")
        bucket = _name("state")
        if create:
            import boto3

            boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
        t = BackendTarget(kind, f"s3://{bucket}/team?endpoint={endpoint}&s3ForcePathStyle=true&region=us-east-1")
    elif kind == "gcs":
        endpoint = request.getfixturevalue("gcs_endpoint")
        bucket = _name("state")
        if create:
            from gcsfs.core import GCSFileSystem

            GCSFileSystem(endpoint_url=endpoint, token="anon", project="test", skip_instance_cache=True).mkdir(bucket)
        t = BackendTarget(kind, f"gs://{bucket}/team", {"STORAGE_EMULATOR_HOST": gcs_host(endpoint)})
    elif kind == "azure":
        conn = request.getfixturevalue("azurite_conn_str")
        container = _name("state")
        if create:
            from azure.storage.blob import BlobServiceClient

            BlobServiceClient.from_connection_string(conn).create_container(container)
        t = BackendTarget(kind, f"azblob://{container}/team", {"AZURE_STORAGE_CONNECTION_STRING": conn})
    elif kind == "postgres":
        dsn = request.getfixturevalue("pg_dsn")
        table = "state_" + uuid.uuid4().hex[:12]
        if not create:  # the table is created on connect, so "missing" means a missing database
            dsn = dsn.rsplit("/", 1)[0] + "/" + _name("nodb").replace("-", "_")
        t = BackendTarget(kind, f"{dsn}?table={table}")
    else:  # pragma: no cover
        raise ValueError(kind)
    t._tmp = str(tmp_path)
    return t


def unreachable_target(kind: str, tmp_path: Path) -> BackendTarget:
    """A backend of ``kind`` whose server is down (a closed loopback port)."""
    from tests.servers import AZURITE_KEY, free_port

    port = free_port()
    if kind == "s3":
        t = BackendTarget(kind, f"s3://state-dead/team?endpoint=http://127.0.0.1:{port}&s3ForcePathStyle=true"
                                "&region=us-east-1")
    elif kind == "gcs":
        t = BackendTarget(kind, "gs://state-dead/team", {"STORAGE_EMULATOR_HOST": f"127.0.0.1:{port}"})
    elif kind == "azure":
        conn = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
                f"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;")
        t = BackendTarget(kind, "azblob://state-dead/team", {"AZURE_STORAGE_CONNECTION_STRING": conn})
    elif kind == "postgres":
        t = BackendTarget(kind, f"postgresql://postgres@127.0.0.1:{port}/postgres")
    else:
        raise ValueError(f"{kind} has no server")
    t._tmp = str(tmp_path)
    return t


@pytest.fixture(params=KINDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> BackendTarget:
    """A fresh empty backend, once per storage kind."""
    return make_target(request.param, request, tmp_path)


@pytest.fixture
def target_factory(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                   ) -> Callable[[str], BackendTarget]:
    def make(kind: str) -> BackendTarget:
        return make_target(kind, request, tmp_path_factory.mktemp(kind))

    return make


def put(backend: Any, files: Mapping[str, bytes | str]) -> None:
    """Write raw files into a backend (as Pulumi would have), keys relative to the root."""
    for key, data in files.items():
        backend.store.write(key, data.encode() if isinstance(data, str) else data)


def iter_kinds() -> Iterator[str]:
    yield from KINDS
