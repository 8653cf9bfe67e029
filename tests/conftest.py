from __future__ import annotations

import os

# gcsfs asks a gRPC control API for every bucket unless this is off; must precede any gcsfs import.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
# Keep every SDK away from real credentials and metadata services.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("PULUMI_BACKEND_URL", None)
os.environ.pop("PULUMI_CONFIG_PASSPHRASE", None)
os.environ.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import servers

SHARED = servers.REPO.parent / "shared"
UPSTREAM = SHARED / "fixtures" / "upstream"


@pytest.fixture(scope="session")
def upstream() -> Path:
    """The upstream Pulumi fixtures in ../shared (skipped with a reason when absent, except in CI)."""
    if not UPSTREAM.is_dir():
        if servers.STRICT:
            pytest.fail(f"{UPSTREAM} is missing (CI=true)")
        pytest.skip(f"upstream fixtures not found at {UPSTREAM}")
    return UPSTREAM


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    proc, url = servers.start_moto()
    try:
        yield url
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    proc, url = servers.start_fake_gcs()
    try:
        yield url
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def azurite_conn_str() -> Iterator[str]:
    proc, conn = servers.start_azurite()
    try:
        yield conn
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def vault_addr() -> Iterator[tuple[str, str]]:
    proc, url = servers.start_openbao()
    try:
        yield url, "root"
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    pg = servers.Postgres()
    try:
        yield pg.dsn
    finally:
        pg.stop()


from tests.backends import target, target_factory  # noqa: E402,F401  (fixtures shared by every suite)
