"""The one reader of the environment.

Everything pulumi-diy takes from ``os.environ`` or from Pulumi's credentials file is resolved here,
flag > environment > file > default, into a frozen :class:`Settings`; every value remembers where it
came from so ``pulumi-diy env`` can show it. Storage SDKs still read their own credentials
(AWS_*, GOOGLE_*, AZURE_*, PG*): those belong to them, and we pass the few we need for URL
resolution through ``Settings.env``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from .errors import NoBackendConfigured, UsageError

DEFAULT_PARALLELISM = 64

# Variables handed to the URL and KMS layers (read once, here).
_PASSTHROUGH_PREFIXES = ("AZURE_STORAGE", "AZURE_STORAGEBLOB", "VAULT_", "GOOGLE_", "AWS_", "PG")
_PASSTHROUGH_NAMES = ("HOME", "STORAGE_EMULATOR_HOST", "PULUMI_DIY_GCPKMS_ENDPOINT",
                      "PULUMI_DIY_AZUREKEYVAULT_ENDPOINT")


@dataclass(frozen=True)
class Setting:
    """A resolved value and where it came from (flag, an environment variable, a file, default)."""

    name: str
    value: str | None
    source: str
    secret: bool = False

    def shown(self) -> str | None:
        if self.value is None:
            return None
        return "<set>" if self.secret else self.value


def _truthy(value: str | None) -> bool:
    # Pulumi's rule (sdk/go/common/util/env): "1" or "true", case-insensitive.
    return value is not None and value.strip().lower() in ("1", "true")


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about its environment."""

    backend_url: Setting
    passphrase: Setting
    passphrase_file: Setting
    new_passphrase: Setting
    new_passphrase_file: Setting
    cache_dir: Setting
    parallelism: Setting
    compression: Setting
    retain_checkpoints: bool
    disable_backups: bool
    no_color: bool
    cwd: Path
    home: Path
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Another passphrase to try for files still under an older one (never prompted for).
    old_passphrase: Setting = field(default_factory=lambda: Setting("old_passphrase", None, "unset", secret=True))
    old_passphrase_file: Setting = field(default_factory=lambda: Setting("old_passphrase_file", None, "unset"))
    # Where retain_checkpoints, disable_backups and no_color came from (the variable found, else "default").
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def parallel(self) -> int:
        return int(self.parallelism.value or DEFAULT_PARALLELISM)

    def require_backend_url(self) -> str:
        if not self.backend_url.value:
            raise NoBackendConfigured(
                "no backend: pass --backend URL, set PULUMI_BACKEND_URL, or run `pulumi login <url>`"
            )
        return self.backend_url.value

    def all(self) -> list[Setting]:
        return [self.backend_url, self.passphrase, self.passphrase_file, self.new_passphrase,
                self.new_passphrase_file, self.old_passphrase, self.old_passphrase_file, self.cache_dir,
                self.parallelism, self.compression,
                Setting("retain_checkpoints", str(self.retain_checkpoints).lower(),
                        self.sources.get("retain_checkpoints", "default")),
                Setting("disable_backups", str(self.disable_backups).lower(),
                        self.sources.get("disable_backups", "default")),
                Setting("no_color", str(self.no_color).lower(), self.sources.get("no_color", "default"))]


def _env_alt(env: Mapping[str, str], primary: str, alternative: str) -> tuple[str | None, str]:
    """Pulumi's alternative names are consulted only when the primary is unset."""
    if primary in env:
        return env[primary], primary
    if alternative in env:
        return env[alternative], alternative
    return None, primary


def _passphrase_settings(env: Mapping[str, str], name: str, var: str, file_var: str, unset: str
                         ) -> tuple[Setting, Setting]:
    """A passphrase from ``var`` (set, even empty, counts) and the file named by ``file_var`` (empty: unset)."""
    value = Setting(name, env[var], var, secret=True) if var in env else Setting(name, None, unset, secret=True)
    path = env.get(file_var) or None
    return value, Setting(f"{name}_file", path, file_var if path else "unset")


def _credentials_backend(home: Path, pulumi_home: str | None) -> tuple[str | None, str]:
    base = Path(pulumi_home) if pulumi_home else home / ".pulumi"
    path = base / "credentials.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, str(path)
    current = doc.get("current") if isinstance(doc, dict) else None
    return (current if isinstance(current, str) and current else None), str(path)


def _default_cache_dir() -> str:
    from platformdirs import user_cache_dir

    return user_cache_dir("pulumi-diy", appauthor=False)


def resolve_settings(
    *,
    backend: str | None = None,
    parallelism: int | None = None,
    cache_dir: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve flag > environment > Pulumi credentials file > default."""
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home())
    cwd = Path.cwd()

    if backend:
        url = Setting("backend_url", backend, "--backend")
    elif env.get("PULUMI_BACKEND_URL"):
        url = Setting("backend_url", env["PULUMI_BACKEND_URL"], "PULUMI_BACKEND_URL")
    else:
        current, path = _credentials_backend(home, env.get("PULUMI_HOME"))
        url = Setting("backend_url", current, path if current else "unset")

    pw, pw_file = _passphrase_settings(env, "passphrase", "PULUMI_CONFIG_PASSPHRASE",
                                       "PULUMI_CONFIG_PASSPHRASE_FILE", "unset (prompt on a TTY)")
    new_pw, new_pw_file = _passphrase_settings(env, "new_passphrase", "PULUMI_DIY_NEW_PASSPHRASE",
                                               "PULUMI_DIY_NEW_PASSPHRASE_FILE", "unset (prompt on a TTY)")
    old_pw, old_pw_file = _passphrase_settings(env, "old_passphrase", "PULUMI_DIY_OLD_PASSPHRASE",
                                               "PULUMI_DIY_OLD_PASSPHRASE_FILE", "unset")

    if cache_dir:
        cache = Setting("cache_dir", cache_dir, "--cache-dir")
    elif env.get("PULUMI_DIY_CACHE_DIR"):
        cache = Setting("cache_dir", env["PULUMI_DIY_CACHE_DIR"], "PULUMI_DIY_CACHE_DIR")
    else:
        cache = Setting("cache_dir", _default_cache_dir(), "default")

    if parallelism is not None:
        par = Setting("parallelism", str(parallelism), "--parallel")
    elif env.get("PULUMI_DIY_PARALLEL"):
        par = Setting("parallelism", env["PULUMI_DIY_PARALLEL"], "PULUMI_DIY_PARALLEL")
    else:
        par = Setting("parallelism", str(DEFAULT_PARALLELISM), "default")
    try:
        if int(par.value or "0") < 1:
            raise ValueError
    except ValueError:
        raise UsageError(f"parallelism must be a positive integer, got {par.value!r} ({par.source})") from None

    gz, gz_src = _env_alt(env, "PULUMI_DIY_BACKEND_GZIP", "PULUMI_SELF_MANAGED_STATE_GZIP")
    zs, zs_src = _env_alt(env, "PULUMI_DIY_BACKEND_ZSTD", "PULUMI_SELF_MANAGED_STATE_ZSTD")
    if _truthy(gz) and _truthy(zs):
        raise UsageError(f"{gz_src} and {zs_src} cannot both be set (Pulumi refuses this too)")
    if _truthy(zs):
        comp = Setting("compression", "zstd", zs_src)
    elif _truthy(gz):
        comp = Setting("compression", "gzip", gz_src)
    else:
        comp = Setting("compression", None, "unset (keep each file's compression)")

    retain, retain_src = _env_alt(env, "PULUMI_DIY_BACKEND_RETAIN_CHECKPOINTS", "PULUMI_RETAIN_CHECKPOINTS")
    nobak, nobak_src = _env_alt(env, "PULUMI_DIY_BACKEND_DISABLE_CHECKPOINT_BACKUPS",
                                "PULUMI_DISABLE_CHECKPOINT_BACKUPS")
    sources = {"retain_checkpoints": retain_src if retain is not None else "default",
               "disable_backups": nobak_src if nobak is not None else "default",
               "no_color": "NO_COLOR" if "NO_COLOR" in env else "default"}

    passthrough = {
        k: v for k, v in env.items() if k.startswith(_PASSTHROUGH_PREFIXES) or k in _PASSTHROUGH_NAMES
    }
    return Settings(
        backend_url=url,
        passphrase=pw,
        passphrase_file=pw_file,
        new_passphrase=new_pw,
        new_passphrase_file=new_pw_file,
        cache_dir=cache,
        parallelism=par,
        compression=comp,
        retain_checkpoints=_truthy(retain),
        disable_backups=_truthy(nobak),
        no_color="NO_COLOR" in env and env["NO_COLOR"] != "",
        cwd=cwd,
        home=home,
        env=MappingProxyType(passthrough),
        old_passphrase=old_pw,
        old_passphrase_file=old_pw_file,
        sources=MappingProxyType(sources),
    )
