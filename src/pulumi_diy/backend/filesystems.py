"""The storage SDK edge: build the fsspec filesystem for a parsed backend URL (one tuned factory per
kind), and translate the SDKs' exceptions into pulumi_diy errors (:func:`storage_errors`, the one
place that knows botocore, azure-core and gcsfs error shapes).

Each SDK is imported only here and only when its kind is used (``MissingDependency`` names the
extra to install). The tuning is what Pulumi's drivers do and fsspec's defaults do not: a dead
endpoint fails within seconds (S3: the standard retryer's 3 attempts; GCS: one retry of a refused
connection instead of six over a minute; Azure: one connect retry instead of ~90 s of back-off),
large objects go up in parts, and Azure gets the credential gocloud would choose.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import (
    AccessDenied,
    BackendMissing,
    BackendUnreachable,
    CorruptInput,
    InvalidBackendURL,
    MissingDependency,
    ObjectExists,
    ObjectNotFound,
    PulumiDiyError,
    StorageError,
)
from .urls import redact_text

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from .urls import BackendURL


# --- errors ------------------------------------------------------------------------------------

_UNREACHABLE_NAMES = {
    "EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError", "ReadTimeoutError",
    "ClientConnectorError", "ClientConnectorDNSError", "ServerDisconnectedError", "ServerTimeoutError",
    "ServiceRequestError", "ServiceResponseError", "ConnectTimeout", "NewConnectionError", "gaierror",
    "TransportError",
}
_DENIED_NAMES = {"AccessDenied", "ClientAuthenticationError", "NoCredentialsError", "PartialCredentialsError",
                 "DefaultCredentialsError", "CredentialUnavailableError", "RefreshError"}
_DENIED_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                 "InvalidToken", "AuthenticationFailed", "AuthorizationFailure",
                 "AuthorizationPermissionMismatch", "InsufficientAccountPermissions", "AccountIsDisabled"}
_EXISTS_CODES = {"BlobAlreadyExists", "PreconditionFailed"}
_MISSING_CODES = {"NoSuchBucket", "ContainerNotFound", "ContainerBeingDeleted"}
_MISSING_HINTS = ("bucket does not exist", "container does not exist", "no such container")


def _codes(item: BaseException) -> tuple[str, int | None]:
    """The service's error code and HTTP status, from botocore, azure-core or gcsfs exceptions."""
    response = getattr(item, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        return (str(response.get("Error", {}).get("Code", "")),
                response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    status = getattr(item, "status_code", None)  # azure-core HttpResponseError
    if status is None and type(item).__name__ == "HttpError":  # gcsfs
        status = getattr(item, "code", None)
    code = getattr(item, "error_code", None)
    return (str(getattr(code, "value", code) or ""), status if isinstance(status, int) else None)


def _classify(exc: BaseException) -> type[PulumiDiyError] | None:
    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and len(chain) < 8:
        chain.append(e)
        e = e.__cause__ or e.__context__
    for item in chain:
        name = type(item).__name__
        code, status = _codes(item)
        text = str(item).lower()
        if code in _MISSING_CODES or any(h in text for h in _MISSING_HINTS):
            return BackendMissing
        if (isinstance(item, PermissionError) or name in _DENIED_NAMES or code in _DENIED_CODES
                or status in (401, 403) or (type(item) is OSError and text.startswith("forbidden"))):
            return AccessDenied
        if isinstance(item, FileExistsError) or status == 412 or code in _EXISTS_CODES:
            return ObjectExists
        if isinstance(item, FileNotFoundError) or status == 404:
            return ObjectNotFound
        if isinstance(item, (ConnectionError, TimeoutError)) or name in _UNREACHABLE_NAMES:
            return BackendUnreachable
        # A local backend whose shape is wrong: a directory where a file belongs, or the reverse, or a
        # symbolic link loop. Bad input, not a bug.
        if isinstance(item, (IsADirectoryError, NotADirectoryError)) or getattr(item, "errno", None) == errno.ELOOP:
            return CorruptInput
    return None


@contextlib.contextmanager
def storage_errors(what: str) -> Iterator[None]:
    """Translate storage exceptions into pulumi_diy errors naming ``what`` (credentials redacted)."""
    try:
        yield
    except PulumiDiyError:
        raise
    except Exception as exc:
        cls = _classify(exc)
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
        detail = redact_text(first or type(exc).__name__)
        if cls is ObjectNotFound:
            raise ObjectNotFound(f"{what}: not found") from exc
        if cls is ObjectExists:
            raise ObjectExists(f"{what}: already exists") from exc
        if cls is BackendMissing:
            raise BackendMissing(f"{what}: the bucket/container does not exist ({detail})") from exc
        if cls is AccessDenied:
            raise AccessDenied(f"{what}: access denied ({detail})") from exc
        if cls is BackendUnreachable:
            raise BackendUnreachable(f"{what}: backend unreachable ({detail})") from exc
        if cls is CorruptInput:
            raise CorruptInput(f"{what}: malformed backend ({detail})") from exc
        raise StorageError(f"{what}: {type(exc).__name__}: {detail}") from exc


# --- filesystems -------------------------------------------------------------------------------

MIB = 1024 * 1024
_FRESH = {"use_listings_cache": False, "skip_instance_cache": True}
_GCS_SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"


def build_filesystem(u: BackendURL) -> AbstractFileSystem:
    """A fresh filesystem for ``u`` (instances are never shared: listings must be live)."""
    return _FACTORIES[u.kind](u)


def _import(module: str, extra: str, package: str | None = None) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(package or module.split(".")[0], extra) from None


def _file_fs(u: BackendURL) -> AbstractFileSystem:
    from fsspec.implementations.local import LocalFileSystem

    if u.fs_options.get("create_dir"):
        os.makedirs(u.root, mode=u.fs_options.get("dir_mode", 0o777), exist_ok=True)
    return LocalFileSystem()


def _s3_fs(u: BackendURL) -> AbstractFileSystem:
    s3fs = _import("s3fs", "s3")
    options = dict(u.fs_options)
    role = options.pop("role", None)
    if role:  # like gocloud: base credentials (and profile) assume the role through STS once
        boto3 = _import("boto3", "s3")
        session = boto3.Session(profile_name=options.pop("profile", None),
                                region_name=options["client_kwargs"].get("region_name"))
        if not session.region_name:
            raise InvalidBackendURL(f"{u.redacted}: role= needs a region (region= or AWS_REGION)")
        creds = session.client("sts").assume_role(RoleArn=role, RoleSessionName="pulumi-diy")["Credentials"]
        options.update(key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"])
    # s3fs's default (10) sends a HEAD before every GET to decide on ranged reads: one whole-object GET
    # is what we want for checkpoints (measured in bench/: 2 requests per read instead of 1).
    options.setdefault("max_concurrency", 1)
    return s3fs.S3FileSystem(**options, **_FRESH)


_GCS_CLASS: Any = None


def _gcs_class() -> Any:
    """gcsfs's plain GCSFileSystem (never the gRPC "extended" one: it probes every bucket for 60 s on
    emulators) with a retry loop that gives up on a refused connection after one retry (gcsfs's own
    loop retries six times over a minute and logs tracebacks)."""
    global _GCS_CLASS
    if _GCS_CLASS is None:
        import asyncio
        import random

        import aiohttp

        core = _import("gcsfs.core", "gcs", "gcsfs")
        from gcsfs.retry import is_retriable

        raw = core.GCSFileSystem._request.__wrapped__

        class GCSFileSystem(core.GCSFileSystem):  # type: ignore[name-defined]
            async def _request(self, *args: Any, **kwargs: Any) -> Any:
                for attempt in range(6):
                    if attempt:
                        await asyncio.sleep(min(random.random() + 2 ** (attempt - 1), 32))
                    try:
                        return await raw(self, *args, **kwargs)
                    except aiohttp.ClientConnectorError:
                        if attempt:
                            raise
                    except Exception as e:
                        if attempt == 5 or not is_retriable(e):
                            raise
                raise AssertionError("unreachable")  # pragma: no cover

        _GCS_CLASS = GCSFileSystem
    return _GCS_CLASS


def _gcs_fs(u: BackendURL) -> AbstractFileSystem:
    cls = _gcs_class()
    options = dict(u.fs_options)
    kind, value = options.pop("credentials", (None, None))
    token: Any = "anon" if kind == "anon" else None
    if kind == "json":
        token = _google_credentials(value)
    elif kind == "access_token":
        from google.oauth2.credentials import Credentials

        token = Credentials(value)
    return cls(token=token, **options, **_FRESH)


def _google_credentials(info: dict[str, Any]) -> Any:
    """Credentials from GOOGLE_CREDENTIALS, any type Go's google.CredentialsFromJSON accepts."""
    if info.get("type") == "service_account":
        from google.oauth2 import service_account

        return service_account.Credentials.from_service_account_info(info, scopes=[_GCS_SCOPE])
    if info.get("type") == "authorized_user":
        from google.oauth2.credentials import Credentials

        return Credentials.from_authorized_user_info(info, scopes=[_GCS_SCOPE])
    import warnings

    import google.auth

    with warnings.catch_warnings():  # the user's own environment is the trusted source here
        warnings.simplefilter("ignore", DeprecationWarning)
        credentials, _ = google.auth.load_credentials_from_dict(info, scopes=[_GCS_SCOPE])
    return credentials


def _azure_fs(u: BackendURL) -> AbstractFileSystem:
    adlfs = _import("adlfs", "azure")
    options = u.fs_options

    class AzureBlobFileSystem(adlfs.AzureBlobFileSystem):  # type: ignore[name-defined]
        """adlfs with our own service client: the credential gocloud would pick, quick to give up
        on a dead endpoint, and block uploads above 8 MiB."""

        def do_connect(self) -> None:
            self.service_client = _azure_client(options)

    return AzureBlobFileSystem(account_name=options["account"], anon=True, **_FRESH)


def _azure_client(o: Mapping[str, Any]) -> Any:
    aio = _import("azure.storage.blob.aio", "azure", "azure-storage-blob")
    retry = aio.ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=4, retry_connect=1,
                                 random_jitter_range=1)
    kw = {"retry_policy": retry,
          "connection_timeout": 10, "max_single_put_size": 8 * MIB, "max_block_size": 4 * MIB}
    if o["auth"] == "connection_string":
        return aio.BlobServiceClient.from_connection_string(o["secret"], **kw)
    if o["auth"] == "shared_key":
        credential = {"account_name": o["key_account"], "account_key": o["secret"]}
        return aio.BlobServiceClient(o["service_url"], credential=credential, **kw)
    if o["auth"] == "sas":
        return aio.BlobServiceClient(f"{o['service_url']}?{o['secret']}", **kw)
    identity = _import("azure.identity.aio", "azure", "azure-identity")
    return aio.BlobServiceClient(o["service_url"], credential=identity.DefaultAzureCredential(), **kw)


def _postgres_fs(u: BackendURL) -> AbstractFileSystem:
    from .postgres import PostgresFileSystem

    return PostgresFileSystem(dsn=u.fs_options["dsn"], table=u.fs_options["table"])


_FACTORIES = {"file": _file_fs, "s3": _s3_fs, "gcs": _gcs_fs, "azure": _azure_fs, "postgres": _postgres_fs}
