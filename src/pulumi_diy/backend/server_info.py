"""Kind-specific facts about the server behind a backend, for `backend info`.

Bucket versioning matters to people who rely on it for undo (S3, GCS) and is reported when the
credentials may read it; PostgreSQL details come from the filesystem's own ``server_info()``.
Everything here is informational: a fact that cannot be read is reported as ``None`` with the
reason, never raised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .filesystems import storage_errors

if TYPE_CHECKING:
    from .store import Store


def server_details(store: Store) -> dict[str, Any]:
    """A small JSON-ready dict describing the store's server (never raises)."""
    describe: Callable[[Store], dict[str, Any]] = {
        "file": _file, "s3": _s3, "gcs": _gcs, "azure": _azure, "postgres": _postgres,
    }[store.kind]
    try:
        return describe(store)
    except Exception as e:
        return {"error": _reason(e)}


def _reason(e: BaseException) -> str:
    text = str(e)
    return next((line.strip() for line in text.splitlines() if line.strip()), type(e).__name__)


def _read(out: dict[str, Any], name: str, store: Store, fetch: Callable[[], Any]) -> None:
    """Set ``out[name]`` from ``fetch()``; on failure ``None`` and ``out[name + "Error"]``."""
    try:
        with storage_errors(store.describe("")):
            out[name] = fetch()
    except Exception as e:
        out[name] = None
        out[name + "Error"] = _reason(e)


def _file(store: Store) -> dict[str, Any]:
    return {"path": store.root, "attrsSidecars": "kept current" if store.url.write_attrs else "skipped"}


def _s3(store: Store) -> dict[str, Any]:
    fs, bucket = store.fs, store.url.bucket
    client = store.url.fs_options.get("client_kwargs", {})
    style = store.url.fs_options.get("config_kwargs", {}).get("s3", {}).get("addressing_style", "auto")
    out: dict[str, Any] = {"bucket": bucket, "endpoint": client.get("endpoint_url") or "AWS",
                           "addressingStyle": style}
    # GetBucketVersioning has no Status until versioning was first enabled.
    _read(out, "versioning", store,
          lambda: fs.call_s3("get_bucket_versioning", Bucket=bucket).get("Status") or "Disabled")
    _read(out, "region", store,
          lambda: fs.call_s3("get_bucket_location", Bucket=bucket).get("LocationConstraint") or "us-east-1")
    return out


def _gcs(store: Store) -> dict[str, Any]:
    fs, bucket = store.fs, store.url.bucket
    out: dict[str, Any] = {"bucket": bucket,
                           "endpoint": store.url.fs_options.get("endpoint_url") or "Google Cloud Storage"}
    meta: dict[str, Any] = {}

    def fetch() -> str:
        meta.update(fs.call("GET", "b/{}", bucket, json_out=True))
        return "Enabled" if meta.get("versioning", {}).get("enabled") else "Disabled"

    _read(out, "versioning", store, fetch)
    out.update({"location": meta.get("location"), "storageClass": meta.get("storageClass")} if meta else {})
    return out


def _azure(store: Store) -> dict[str, Any]:
    from fsspec.asyn import sync

    fs, container = store.fs, store.url.bucket
    opts = store.url.fs_options
    client = fs.service_client.get_container_client(container)
    out: dict[str, Any] = {"container": container, "account": opts.get("account"),
                           "endpoint": str(fs.service_client.url).split("?", 1)[0].rstrip("/"),
                           "credential": opts.get("auth")}

    def immutable() -> bool:
        props = sync(fs.loop, client.get_container_properties)
        return bool(getattr(props, "immutable_storage_with_versioning_enabled", False))

    async def first_version() -> Any:
        prefix = store.root.split("/", 1)[1] + "/" if "/" in store.root else None
        async for blob in client.list_blobs(name_starts_with=prefix, include=["versions"], results_per_page=5):
            return blob
        return None

    def versioning() -> str | None:
        # Blob versioning is an account setting that only the management API reports; the blob API
        # shows it indirectly: listed versions carry a version id.
        blob = sync(fs.loop, first_version)
        if blob is not None and getattr(blob, "version_id", None):
            return "Enabled"
        out["versioningNote"] = "account setting, not readable with blob credentials; no versions listed"
        return None

    _read(out, "immutableStorageWithVersioning", store, immutable)
    _read(out, "versioning", store, versioning)
    return out


def _postgres(store: Store) -> dict[str, Any]:
    fs = store.fs
    describe = getattr(fs, "server_info", None)
    if callable(describe):
        return {**describe(), "keyPrefix": store.root}
    target = getattr(fs, "target", None)
    return {"host": getattr(target, "host", None), "port": getattr(target, "port", None),
            "database": getattr(target, "dbname", None), "table": str(getattr(fs, "table", "")),
            "keyPrefix": store.root}
