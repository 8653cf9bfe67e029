"""Pulumi backend URL -> an fsspec filesystem and the root path of the state inside it.

Follows how the Pulumi CLI reads DIY URLs (pulumi-diy-format.md section 1, Pulumi's
``massageBlobPath``/``translateLegacyS3Params`` and gocloud's URL openers): the path of every
non-file URL is a key prefix; ``file://`` paths expand ``~`` and are made absolute; query
parameters that Pulumi would reject are rejected here too, with gocloud's wording. Credentials
stay with the SDKs; the few environment variables that decide *which* store is meant (Azure
account and credential kind, the GCS emulator, Pulumi's GOOGLE_* variables) come in through
``env`` (config.py is the one reader of the environment). Filesystem packages are imported only
when a filesystem is built (:mod:`pulumi_diy.backend.filesystems`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from ..errors import InvalidBackendURL

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

# Pulumi registers `postgres` only; `postgresql` is accepted as the libpq spelling of the same thing.
KINDS = {"file": "file", "s3": "s3", "gs": "gcs", "azblob": "azure", "postgres": "postgres",
         "postgresql": "postgres"}

_S3_BOOL = ("hostname_immutable", "dualstack", "fips", "anonymous", "accelerate", "disable_https",
            "use_path_style", "s3ForcePathStyle")
_AWS_BOOL = ("hostname_immutable", "dualstack", "fips", "anonymous")
_S3_PARAMS = {*_S3_BOOL, "region", "endpoint", "profile", "role", "rate_limiter_capacity",
              "request_checksum_calculation", "response_checksum_validation", "awssdk", "ssetype", "kmskeyid"}
_GS_PARAMS = {"anonymous", "access_id", "private_key_path", "universe_domain"}
_AZ_PARAMS = {"storage_account", "domain", "protocol", "cdn", "localemu"}
_FILE_PARAMS = {"no_tmp_dir", "create_dir", "dir_file_mode", "metadata", "base_url", "secret_key_path"}
_CHECKSUM_MODES = ("when_supported", "when_required")
_CHECKSUM_KEYS = ("request_checksum_calculation", "response_checksum_validation")
_SSE_TYPES = ("AES256", "aws:kms", "aws:kms:dsse")

# Query parameters and connection-string fields whose values are secrets.
_SECRET_KEYS = {"password", "sslpassword", "sig", "sas_token", "account_key", "accountkey", "token",
                "access_token", "secret", "secret_key", "client_secret", "sharedaccesssignature"}
_SECRET_TEXT = re.compile(r"(?i)\b(password|sslpassword|sig|accountkey|sharedaccesssignature|"
                          r"client_secret|access_token)(\s*=\s*)('[^']*'|[^\s&;'\"]+)")
_Values = dict[str, list[str]]
_Parsed = tuple[dict[str, str], dict[str, Any]]
_USERINFO = re.compile(r"(://[^:/@\s]+:)[^@\s/]+@")


def go_bool(value: str, name: str) -> bool:
    """Go's ``strconv.ParseBool``, which Pulumi and gocloud use for boolean parameters."""
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise InvalidBackendURL(f"invalid value {value!r} for query parameter {name!r} (expected true or false)")


def redact_text(text: str) -> str:
    """Mask secrets inside free text (error messages): URL passwords, SAS signatures, account keys."""
    return _SECRET_TEXT.sub(r"\1\2****", _USERINFO.sub(r"\1****@", text))


def redact_url(url: str) -> str:
    """A backend URL safe to print: ``user:pass@`` becomes ``****:****@``, secret query values ``****``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:  # user names can be secrets too (access keys): hide the whole userinfo
        netloc = "****:****@" + netloc.rsplit("@", 1)[1]
    pieces = []
    for piece in parts.query.split("&") if parts.query else []:
        name, eq, value = piece.partition("=")
        if eq and unquote(name).lower() in _SECRET_KEYS:
            piece = f"{name}=****"
        elif eq and "@" in unquote(value) and "://" in unquote(value):  # a URL value (endpoint=) with userinfo
            piece = f"{name}={redact_url(unquote(value))}"
        pieces.append(piece)
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(pieces), parts.fragment))


@dataclass(frozen=True)
class BackendURL:
    """A parsed backend URL: which store, where the state root is, how to build the filesystem.

    ``root`` is the fsspec path of the directory holding ``.pulumi/`` ("" = the top of the store):
    an absolute directory for files, ``bucket[/prefix]`` for S3/GCS/Azure, and the key prefix (the
    database name) for PostgreSQL. ``fs_options`` may hold credentials, so it is kept out of repr.
    """

    original: str = field(repr=False)  # may hold credentials: print `redacted`
    kind: str = "file"  # file | s3 | gcs | azure | postgres
    root: str = ""
    params: Mapping[str, str] = field(default_factory=dict)
    fs_options: Mapping[str, Any] = field(default_factory=dict, repr=False)
    bucket: str = ""

    @property
    def redacted(self) -> str:
        return redact_url(self.original)

    @property
    def write_attrs(self) -> bool:
        """fileblob writes `.attrs` sidecars unless `metadata=skip`; we keep existing ones current."""
        return self.kind == "file" and self.params.get("metadata") != "skip"

    def filesystem(self) -> AbstractFileSystem:
        """A fresh fsspec filesystem for this URL (SDK imported now; MissingDependency if absent)."""
        from .filesystems import build_filesystem

        return build_filesystem(self)


def parse_backend_url(url: str, *, env: Mapping[str, str], cwd: Path, home: Path) -> BackendURL:
    """Parse a Pulumi DIY backend URL. ``env`` holds the variables config.py passed through."""
    if "://" not in url:
        raise InvalidBackendURL(f"not a DIY backend URL: {redact_url(url)!r} (expected file://, s3://, "
                                "gs://, azblob:// or postgres://)")
    scheme = url.split("://", 1)[0]
    if scheme not in KINDS:
        if scheme.lower() in ("http", "https"):
            raise InvalidBackendURL(f"{redact_url(url)} is a Pulumi Cloud/service URL; pulumi-diy works on "
                                    "DIY backends only")
        raise InvalidBackendURL(f"unsupported backend scheme {scheme!r} in {redact_url(url)}")
    if scheme == "file":
        return _parse_file(url, cwd=cwd, home=home)
    try:
        parts = urlsplit(url)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError as e:
        raise InvalidBackendURL(f"invalid backend URL {redact_url(url)}: {e}") from None
    kind = KINDS[scheme]
    if kind == "postgres":
        return _parse_postgres(url, parts, pairs, env)
    bucket = parts.netloc.rsplit("@", 1)[-1]
    if not bucket:
        raise InvalidBackendURL(f"backend URL {redact_url(url)} names no bucket/container")
    prefix = unquote(parts.path).lstrip("/").rstrip("/")
    root = f"{bucket}/{prefix}" if prefix else bucket
    values: dict[str, list[str]] = {}
    for k, v in pairs:
        values.setdefault(k, []).append(v)
    where = f"backend URL {redact_url(url)}"
    if kind == "s3":
        params, options = _s3(values, env, where)
    elif kind == "gcs":
        params, options = _gcs(values, env, where)
    else:
        params, options = _azure(values, env, where)
    return BackendURL(url, kind, root, params, options, bucket)


def _first(values: Mapping[str, list[str]]) -> dict[str, str]:
    # Go's url.Values.Get: the first value of a repeated parameter.
    return {k: v[0] for k, v in values.items()}


def _unknown(values: Mapping[str, list[str]], allowed: set[str], where: str, word: str = "unknown") -> None:
    extra = sorted(set(values) - allowed)
    if extra:
        raise InvalidBackendURL(f"{where}: {word} query parameter {extra[0]!r}")


# --- file:// -------------------------------------------------------------------------------------


def _parse_file(url: str, *, cwd: Path, home: Path) -> BackendURL:
    rest = url[len("file://"):]
    path_part, _, query = rest.partition("?")
    path_part = unquote(path_part.split("#", 1)[0])
    values: dict[str, list[str]] = {}
    for k, v in parse_qsl(query, keep_blank_values=True):
        values.setdefault(k, []).append(v)
    where = f"backend URL {redact_url(url)}"
    _unknown(values, _FILE_PARAMS, where, "invalid")
    params = _first(values)
    # massageBlobPath: no_tmp_dir=true is added unless set; an explicit "false" is removed.
    if params.get("no_tmp_dir", "") == "":
        params["no_tmp_dir"] = "true"
    elif params["no_tmp_dir"] == "false":
        del params["no_tmp_dir"]
    if values.get("metadata", [""])[0] not in ("", "skip"):
        raise InvalidBackendURL(f"{where}: unsupported value for query parameter 'metadata'")
    dir_mode = 0o777
    if params.get("dir_file_mode"):  # Go's ParseUint(s, 0, 32): 0777 and 0o777 are octal
        text = params["dir_file_mode"]
        try:
            dir_mode = int(text, 8) if re.fullmatch(r"0[0-7]+", text) else int(text, 0)
        except ValueError:
            raise InvalidBackendURL(f"{where}: invalid dir_file_mode {text!r}") from None
    if bool(params.get("base_url")) != bool(params.get("secret_key_path")):
        raise InvalidBackendURL(f"{where}: must supply both base_url and secret_key_path query parameters")
    # Pulumi: "~" is the home directory, "~<c>rest" is home/rest; then filepath.Abs.
    path = Path(path_part)
    if path_part.startswith("~"):
        path = home if path_part == "~" else home / path_part[2:]
    if not path.is_absolute():
        path = cwd / path
    root = os.path.normpath(str(path))  # like Go's filepath.Abs: clean "." and "..", keep symlinks
    options = {"create_dir": bool(params.get("create_dir")), "dir_mode": dir_mode}
    return BackendURL(url, "file", root, params, options, "")


# --- s3:// ---------------------------------------------------------------------------------------


def _s3(values: _Values, env: Mapping[str, str], where: str) -> _Parsed:
    # translateLegacyS3Params: disableSSL (its last value) becomes disable_https; a scheme-less
    # endpoint gets https:// (http:// if disableSSL); custom endpoints default to request checksums
    # "when_required". Then s3blob and gocloud's aws package read the first value of each parameter.
    values = {k: list(v) for k, v in values.items()}
    insecure = False
    if "disableSSL" in values:
        insecure = go_bool(values.pop("disableSSL")[-1], "disableSSL")
        values["disable_https"] = ["true" if insecure else "false"]
    endpoint = values.get("endpoint", [""])[0]
    if endpoint:
        if "://" not in endpoint:
            values["endpoint"] = [("http://" if insecure else "https://") + endpoint]
        explicit = values.get("request_checksum_calculation", [""])[0]
        if not explicit and not env.get("AWS_REQUEST_CHECKSUM_CALCULATION"):
            values["request_checksum_calculation"] = ["when_required"]
    _unknown(values, _S3_PARAMS, where)
    p = _first(values)
    # s3blob skips empty values; gocloud's aws package parses them (and fails).
    on = {k for k in _S3_BOOL if k in p and (p[k] or k in _AWS_BOOL) and go_bool(p[k], k)}
    for key in _CHECKSUM_KEYS:
        if key in p and p[key] not in _CHECKSUM_MODES:
            raise InvalidBackendURL(f"{where}: invalid value {p[key]!r} for {key!r} "
                                    "(when_supported or when_required)")
    if p.get("ssetype") and p["ssetype"] not in _SSE_TYPES:
        raise InvalidBackendURL(f"{where}: invalid ssetype {p['ssetype']!r} (AES256, aws:kms, aws:kms:dsse)")
    if "role" in p and not p["role"].startswith("arn:"):
        raise InvalidBackendURL(f"{where}: invalid value for role: must be an ARN (starts with 'arn:')")
    if "rate_limiter_capacity" in p and not re.fullmatch(r"[+-]?\d+", p["rate_limiter_capacity"]):
        raise InvalidBackendURL(f"{where}: invalid value for rate_limiter_capacity")
    client: dict[str, Any] = {k: v for k, v in (("region_name", p.get("region")),
                                                ("endpoint_url", p.get("endpoint"))) if v}
    if "disable_https" in on:
        client["use_ssl"] = False  # AWS's own endpoints only: a custom endpoint keeps its scheme
    config: dict[str, Any] = {k: p[k] for k in _CHECKSUM_KEYS if p.get(k)}
    config.update({"use_dualstack_endpoint": True} if "dualstack" in on else {})
    config.update({"use_fips_endpoint": True} if "fips" in on else {})
    if "AWS_MAX_ATTEMPTS" not in env and "AWS_RETRY_MODE" not in env:
        # gocloud's standard retryer (3 attempts): a dead endpoint fails in seconds, not minutes.
        config["retries"] = {"max_attempts": 3, "mode": "standard"}
    config["connect_timeout"] = 10
    # The later of use_path_style / s3ForcePathStyle wins, as in s3blob; hostname_immutable keeps
    # the endpoint's host as it is, which is path-style addressing.
    path_style = "s3ForcePathStyle" in on if p.get("s3ForcePathStyle") else "use_path_style" in on
    if path_style or ("hostname_immutable" in on and p.get("endpoint")):
        config.setdefault("s3", {})["addressing_style"] = "path"
    if "accelerate" in on:
        config.setdefault("s3", {})["use_accelerate_endpoint"] = True
    options: dict[str, Any] = {"client_kwargs": client, "config_kwargs": config}
    options.update({"anon": True} if "anonymous" in on else {})
    options.update({k: p[k] for k in ("profile", "role") if p.get(k)})  # role: assumed when the fs is built
    sse = (("ServerSideEncryption", p.get("ssetype")), ("SSEKMSKeyId", p.get("kmskeyid")))
    extra = {k: v for k, v in sse if v}
    options.update({"s3_additional_kwargs": extra} if extra else {})
    return p, options


# --- gs:// ---------------------------------------------------------------------------------------


def _gcs(values: _Values, env: Mapping[str, str], where: str) -> _Parsed:
    _unknown(values, _GS_PARAMS, where, "invalid")
    p = _first(values)
    options: dict[str, Any] = {}
    anonymous = bool(p.get("anonymous")) and go_bool(p["anonymous"], "anonymous")
    # Pulumi's credential order: GOOGLE_CREDENTIALS (JSON), GOOGLE_OAUTH_ACCESS_TOKEN, default credentials.
    if env.get("GOOGLE_CREDENTIALS"):
        try:
            info = json.loads(env["GOOGLE_CREDENTIALS"])
        except ValueError:
            raise InvalidBackendURL("cannot parse credentials from $GOOGLE_CREDENTIALS: not JSON") from None
        if not isinstance(info, dict):
            raise InvalidBackendURL("cannot parse credentials from $GOOGLE_CREDENTIALS: not an object")
        options["credentials"] = ("json", info)
    elif env.get("GOOGLE_OAUTH_ACCESS_TOKEN"):
        options["credentials"] = ("access_token", env["GOOGLE_OAUTH_ACCESS_TOKEN"])
    if anonymous or p.get("access_id") == "-":
        options["credentials"] = ("anon", None)
    if p.get("universe_domain"):
        options["endpoint_url"] = f"https://storage.{p['universe_domain']}"
    host = env.get("STORAGE_EMULATOR_HOST")
    if host:  # gocloud: unauthenticated, http://<host> (Go convention: host:port without a scheme)
        options["endpoint_url"] = host.rstrip("/") if "://" in host else f"http://{host.rstrip('/')}"
        options["credentials"] = ("anon", None)
    return p, options


# --- azblob:// -----------------------------------------------------------------------------------


def _azure(values: _Values, env: Mapping[str, str], where: str) -> _Parsed:
    # gocloud azureblob: NewDefaultServiceURLOptions (environment) + withOverrides (URL), then
    # NewServiceURL; the credential kind is chosen from the environment alone (newCredInfoFromEnv).
    conn = env.get("AZURE_STORAGE_CONNECTION_STRING") or env.get("AZURE_STORAGEBLOB_CONNECTIONSTRING") or ""
    account = env.get("AZURE_STORAGE_ACCOUNT", "")
    protocol = env.get("AZURE_STORAGE_PROTOCOL", "")
    for part in conn.split(";"):
        kv = part.split("=")
        if len(kv) == 2:
            if not account and kv[0] == "AccountName":
                account = kv[1]
            elif not protocol and kv[0] == "DefaultEndpointsProtocol":
                protocol = kv[1]
    domain = env.get("AZURE_STORAGE_DOMAIN", "")
    cdn = _env_go_bool(env, "AZURE_STORAGE_IS_CDN")
    local = _env_go_bool(env, "AZURE_STORAGE_IS_LOCAL_EMULATOR")
    for name, vals in values.items():
        if len(vals) > 1:
            raise InvalidBackendURL(f"{where}: multiple values of {name} not allowed")
    _unknown(values, _AZ_PARAMS, where)
    p = _first(values)
    domain = p.get("domain", domain) or "blob.core.windows.net"
    protocol = p.get("protocol", protocol) or "https"
    cdn = go_bool(p["cdn"], "cdn") if "cdn" in p else cdn
    local = go_bool(p["localemu"], "localemu") if "localemu" in p else local
    account = p.get("storage_account", account)
    if not account:
        raise InvalidBackendURL(f"{where}: no storage account: set storage_account= in the URL, "
                                "AZURE_STORAGE_ACCOUNT, or AZURE_STORAGE_CONNECTION_STRING")
    if protocol not in ("http", "https"):
        raise InvalidBackendURL(f"{where}: invalid protocol {protocol!r} (http or https)")
    if domain.startswith(("127.0.0.1", "localhost")) or local:
        service = f"{protocol}://{domain}/{account}"
    elif cdn:
        service = f"{protocol}://{domain}"
    else:
        service = f"{protocol}://{account}.{domain}"
    options: dict[str, Any] = {"account": account, "service_url": service}
    env_account, key, sas = env.get("AZURE_STORAGE_ACCOUNT", ""), env.get("AZURE_STORAGE_KEY", ""), \
        env.get("AZURE_STORAGE_SAS_TOKEN", "")
    if env_account and key:
        options.update(auth="shared_key", key_account=env_account, secret=key)
    elif sas:
        options.update(auth="sas", secret=sas.lstrip("?"))
    elif conn:  # the connection string's own endpoint is used; URL overrides do not apply
        options.update(auth="connection_string", secret=conn)
    else:
        options.update(auth="default")
    return p, options


def _env_go_bool(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "") in ("1", "t", "T", "TRUE", "true", "True")  # Go ignores the parse error


# --- postgres:// ---------------------------------------------------------------------------------


def _parse_postgres(url: str, parts: Any, pairs: list[tuple[str, str]], env: Mapping[str, str]) -> BackendURL:
    from .postgres_sql import parse_table

    # Pulumi: q.Get("table") (first value; empty = default), then every `table` is removed.
    table = next((v for k, v in pairs if k == "table"), "") or "pulumi_state"
    try:
        parse_table(table)
    except InvalidBackendURL:
        raise InvalidBackendURL(f"backend URL {redact_url(url)}: invalid table name {table!r} (letters, "
                                "digits and _, optionally schema.table)") from None
    rest = [(k, v) for k, v in pairs if k != "table"]
    if "connect_timeout" not in {k for k, _ in rest} and not env.get("PGCONNECT_TIMEOUT"):
        rest.append(("connect_timeout", "10"))  # libpq waits for the OS TCP timeout (minutes) otherwise
    dsn = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest, quote_via=quote), ""))
    # Every key is prefixed with the URL path, i.e. the database name (section 1.2).
    root = unquote(parts.path).lstrip("/").rstrip("/")
    params = {k: v for k, v in pairs if k not in ("password", "sslpassword")}
    return BackendURL(url, "postgres", root, params, {"dsn": dsn, "table": table}, root)
