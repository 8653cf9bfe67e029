from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pulumi_diy.config import resolve_settings
from pulumi_diy.errors import NoBackendConfigured, UsageError


def test_backend_precedence(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".pulumi").mkdir(parents=True)
    (home / ".pulumi" / "credentials.json").write_text(json.dumps({"current": "s3://from-login"}))
    env = {"HOME": str(home), "PULUMI_DIY_CACHE_DIR": str(tmp_path / "c")}
    s = resolve_settings(environ=env)
    creds = str(home / ".pulumi" / "credentials.json")
    assert (s.backend_url.value, s.backend_url.source) == ("s3://from-login", creds)
    s = resolve_settings(environ={**env, "PULUMI_BACKEND_URL": "gs://from-env"})
    assert (s.backend_url.value, s.backend_url.source) == ("gs://from-env", "PULUMI_BACKEND_URL")
    s = resolve_settings(backend="file://flag", environ={**env, "PULUMI_BACKEND_URL": "gs://from-env"})
    assert (s.backend_url.value, s.backend_url.source) == ("file://flag", "--backend")


def test_pulumi_home_and_missing_backend(tmp_path: Path) -> None:
    ph = tmp_path / "ph"
    ph.mkdir()
    (ph / "credentials.json").write_text(json.dumps({"current": "azblob://c"}))
    s = resolve_settings(environ={"HOME": str(tmp_path), "PULUMI_HOME": str(ph), "PULUMI_DIY_CACHE_DIR": "x"})
    assert s.backend_url.value == "azblob://c"
    s = resolve_settings(environ={"HOME": str(tmp_path / "nobody"), "PULUMI_DIY_CACHE_DIR": "x"})
    with pytest.raises(NoBackendConfigured):
        s.require_backend_url()


def test_passphrase_is_secret_and_empty_counts(tmp_path: Path) -> None:
    s = resolve_settings(environ={"HOME": str(tmp_path), "PULUMI_CONFIG_PASSPHRASE": "", "PULUMI_DIY_CACHE_DIR": "x"})
    assert s.passphrase.value == ""  # set-but-empty is a passphrase, as in Pulumi
    s = resolve_settings(environ={"HOME": str(tmp_path), "PULUMI_CONFIG_PASSPHRASE": "hunter2",
                                  "PULUMI_DIY_CACHE_DIR": "x"})
    assert s.passphrase.shown() == "<set>"
    assert all("hunter2" not in str(x.shown()) for x in s.all())


def test_compression_alternatives_and_conflict(tmp_path: Path) -> None:
    base = {"HOME": str(tmp_path), "PULUMI_DIY_CACHE_DIR": "x"}
    assert resolve_settings(environ={**base, "PULUMI_SELF_MANAGED_STATE_GZIP": "true"}).compression.value == "gzip"
    assert resolve_settings(environ={**base, "PULUMI_DIY_BACKEND_ZSTD": "1"}).compression.value == "zstd"
    # The primary name wins even when false: the alternative is consulted only if the primary is unset.
    s = resolve_settings(environ={**base, "PULUMI_DIY_BACKEND_GZIP": "false", "PULUMI_SELF_MANAGED_STATE_GZIP": "1"})
    assert s.compression.value is None
    with pytest.raises(UsageError):
        resolve_settings(environ={**base, "PULUMI_DIY_BACKEND_GZIP": "1", "PULUMI_DIY_BACKEND_ZSTD": "TRUE"})


def test_parallelism_and_cache(tmp_path: Path) -> None:
    base = {"HOME": str(tmp_path)}
    assert resolve_settings(environ={**base, "PULUMI_DIY_PARALLEL": "8", "PULUMI_DIY_CACHE_DIR": "c"}).parallel == 8
    assert resolve_settings(parallelism=3, environ={**base, "PULUMI_DIY_CACHE_DIR": "c"}).parallel == 3
    with pytest.raises(UsageError):
        resolve_settings(environ={**base, "PULUMI_DIY_PARALLEL": "zero", "PULUMI_DIY_CACHE_DIR": "c"})
    flag = resolve_settings(cache_dir="/x", environ={**base, "PULUMI_DIY_CACHE_DIR": "c"})
    assert flag.cache_dir.source == "--cache-dir"


def test_env_passthrough_is_limited(tmp_path: Path) -> None:
    s = resolve_settings(environ={"HOME": str(tmp_path), "PULUMI_DIY_CACHE_DIR": "c", "AZURE_STORAGE_KEY": "k",
                                  "UNRELATED": "x", "PGHOST": "h"})
    assert dict(s.env) == {"HOME": str(tmp_path), "AZURE_STORAGE_KEY": "k", "PGHOST": "h"}


def test_sources_name_the_variable_found(tmp_path: Path) -> None:
    def source(s: Any, name: str) -> str:
        return next(x.source for x in s.all() if x.name == name)

    s = resolve_settings(environ={"HOME": str(tmp_path)})
    assert [source(s, n) for n in ("retain_checkpoints", "disable_backups", "no_color")] == ["default"] * 3
    s = resolve_settings(environ={"HOME": str(tmp_path), "PULUMI_RETAIN_CHECKPOINTS": "1", "NO_COLOR": "1",
                                  "PULUMI_DIY_BACKEND_DISABLE_CHECKPOINT_BACKUPS": "true"})
    assert s.retain_checkpoints and source(s, "retain_checkpoints") == "PULUMI_RETAIN_CHECKPOINTS"
    assert source(s, "disable_backups") == "PULUMI_DIY_BACKEND_DISABLE_CHECKPOINT_BACKUPS"
    assert source(s, "no_color") == "NO_COLOR"
    s = resolve_settings(environ={"HOME": str(tmp_path), "PULUMI_DIY_OLD_PASSPHRASE": "x"})
    assert source(s, "old_passphrase") == "PULUMI_DIY_OLD_PASSPHRASE"
    assert next(x for x in s.all() if x.name == "old_passphrase").shown() == "<set>"
