"""Backend URLs read exactly as Pulumi reads them (pulumi-diy-format.md section 1). Pure: no server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_diy.backend.urls import BackendURL, parse_backend_url, redact_text, redact_url
from pulumi_diy.errors import InvalidBackendURL

HOME = Path("/home/alice")
CWD = Path("/work/proj")


def parse(url: str, **env: str) -> BackendURL:
    return parse_backend_url(url, env=env, cwd=CWD, home=HOME)


def rejects(url: str, match: str, **env: str) -> None:
    with pytest.raises(InvalidBackendURL, match=match):
        parse(url, **env)


# --- schemes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "kind"), [("file:///x", "file"), ("s3://b", "s3"), ("gs://b", "gcs"),
                                           ("azblob://c", "azure"), ("postgres://h/db", "postgres"),
                                           ("postgresql://h/db", "postgres")])
def test_kinds(url: str, kind: str) -> None:
    env = {"AZURE_STORAGE_ACCOUNT": "acct"} if kind == "azure" else {}
    assert parse(url, **env).kind == kind


def test_not_diy_urls() -> None:
    rejects("https://api.pulumi.com", "Pulumi Cloud")
    rejects("ftp://x", "unsupported backend scheme 'ftp'")
    rejects("just-a-path", "not a DIY backend URL")


# --- file:// -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "root"), [
    ("file://~", "/home/alice"),
    ("file://~/state", "/home/alice/state"),
    ("file://./state", "/work/proj/state"),
    ("file://state/../other", "/work/proj/other"),
    ("file:///abs/dir/", "/abs/dir"),
    ("file:///abs/a%20b", "/abs/a b"),
])
def test_file_paths(url: str, root: str) -> None:
    u = parse(url)
    assert (u.root, u.bucket) == (root, "")


def test_file_no_tmp_dir_as_massage_blob_path_sets_it() -> None:
    assert parse("file:///s").params["no_tmp_dir"] == "true"
    assert "no_tmp_dir" not in parse("file:///s?no_tmp_dir=false").params
    assert parse("file:///s?no_tmp_dir=0").params["no_tmp_dir"] == "0"  # any other value means true


def test_file_metadata_and_other_params() -> None:
    assert parse("file:///s").write_attrs
    assert not parse("file:///s?metadata=skip").write_attrs
    assert parse("file:///s?metadata=").write_attrs
    rejects("file:///s?metadata=none", "unsupported value for query parameter 'metadata'")
    rejects("file:///s?bogus=1", "invalid query parameter 'bogus'")
    rejects("file:///s?base_url=http://x", "both base_url and secret_key_path")
    rejects("file:///s?dir_file_mode=rwx", "invalid dir_file_mode")
    assert parse("file:///s?dir_file_mode=0750").fs_options["dir_mode"] == 0o750
    assert parse("file:///s?dir_file_mode=0o700").fs_options["dir_mode"] == 0o700


def test_file_create_dir_makes_the_directory(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b"
    parse(f"file://{root}?create_dir=1&dir_file_mode=0750").filesystem()
    assert root.is_dir() and (root.stat().st_mode & 0o777) == 0o750 & ~_umask()
    plain = tmp_path / "c"
    parse(f"file://{plain}").filesystem()
    assert not plain.exists()


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- s3:// ---------------------------------------------------------------------------------------


def opts(u: BackendURL) -> dict[str, Any]:
    return dict(u.fs_options)


def test_s3_bucket_and_prefix() -> None:
    u = parse("s3://my-bucket/team/a/?region=eu-west-1")
    assert (u.root, u.bucket) == ("my-bucket/team/a", "my-bucket")
    assert opts(u)["client_kwargs"] == {"region_name": "eu-west-1"}
    assert parse("s3://my-bucket").root == "my-bucket"
    rejects("s3:///prefix", "names no bucket")


def test_s3_every_documented_parameter() -> None:
    u = parse("s3://b?region=us-west-2&endpoint=https://s3.example.com&profile=ci&anonymous=true"
              "&hostname_immutable=true&dualstack=true&fips=true&rate_limiter_capacity=10"
              "&request_checksum_calculation=when_supported&response_checksum_validation=when_required"
              "&awssdk=v2&ssetype=aws:kms&kmskeyid=key-1&accelerate=true&use_path_style=false&disable_https=true"
              "&role=arn:aws:iam::123:role/state")
    o = opts(u)
    assert o["client_kwargs"] == {"region_name": "us-west-2", "endpoint_url": "https://s3.example.com",
                                  "use_ssl": False}
    cfg = o["config_kwargs"]
    assert cfg["request_checksum_calculation"] == "when_supported"
    assert cfg["response_checksum_validation"] == "when_required"
    assert cfg["use_dualstack_endpoint"] and cfg["use_fips_endpoint"]
    assert cfg["s3"] == {"addressing_style": "path", "use_accelerate_endpoint": True}  # hostname_immutable
    assert (o["anon"], o["profile"], o["role"]) == (True, "ci", "arn:aws:iam::123:role/state")
    assert o["s3_additional_kwargs"] == {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "key-1"}


def test_s3_path_style_spellings() -> None:
    style = lambda url: opts(parse(url))["config_kwargs"].get("s3", {}).get("addressing_style")  # noqa: E731
    assert style("s3://b?s3ForcePathStyle=true") == "path"
    assert style("s3://b?use_path_style=true") == "path"
    assert style("s3://b?use_path_style=true&s3ForcePathStyle=false") is None  # the legacy name is read last
    assert style("s3://b?use_path_style=") is None
    assert style("s3://b?hostname_immutable=true") is None  # only with a custom endpoint


def test_s3_legacy_disable_ssl_and_scheme_less_endpoint() -> None:
    u = parse("s3://b?endpoint=minio:9000&disableSSL=true")
    assert opts(u)["client_kwargs"]["endpoint_url"] == "http://minio:9000"
    assert u.params["disable_https"] == "true" and "disableSSL" not in u.params
    assert opts(parse("s3://b?endpoint=minio:9000"))["client_kwargs"]["endpoint_url"] == "https://minio:9000"
    assert opts(parse("s3://b?endpoint=minio:9000&disableSSL=true&disableSSL=false"))["client_kwargs"][
        "endpoint_url"] == "https://minio:9000"  # Pulumi reads disableSSL's last value
    # Only the legacy name picks http for a scheme-less endpoint; an explicit scheme is kept.
    assert opts(parse("s3://b?endpoint=minio:9000&disable_https=true"))["client_kwargs"][
        "endpoint_url"] == "https://minio:9000"
    assert opts(parse("s3://b?endpoint=https://minio:9000&disableSSL=true"))["client_kwargs"][
        "endpoint_url"] == "https://minio:9000"
    rejects("s3://b?disableSSL=yes", "invalid value 'yes' for query parameter 'disableSSL'")


def test_s3_custom_endpoint_defaults_request_checksums_to_when_required() -> None:
    cfg = lambda url, **env: opts(parse(url, **env))["config_kwargs"]  # noqa: E731
    assert cfg("s3://b?endpoint=http://x")["request_checksum_calculation"] == "when_required"
    assert "request_checksum_calculation" not in cfg("s3://b")
    assert "request_checksum_calculation" not in cfg("s3://b?endpoint=http://x",
                                                     AWS_REQUEST_CHECKSUM_CALCULATION="when_supported")
    assert cfg("s3://b?endpoint=http://x&request_checksum_calculation=when_supported")[
        "request_checksum_calculation"] == "when_supported"


def test_s3_quick_failure_settings_respect_the_aws_environment() -> None:
    assert opts(parse("s3://b"))["config_kwargs"]["retries"] == {"max_attempts": 3, "mode": "standard"}
    assert "retries" not in opts(parse("s3://b", AWS_MAX_ATTEMPTS="10"))["config_kwargs"]


def test_s3_rejections() -> None:
    rejects("s3://b?disable_ssl=true", "unknown query parameter 'disable_ssl'")
    rejects("s3://b?fips=maybe", "invalid value 'maybe' for query parameter 'fips'")
    rejects("s3://b?anonymous=", "query parameter 'anonymous'")  # gocloud's aws package parses empty values
    rejects("s3://b?ssetype=des", "invalid ssetype")
    rejects("s3://b?role=admin", "must be an ARN")
    rejects("s3://b?request_checksum_calculation=always", "when_supported or when_required")
    rejects("s3://b?rate_limiter_capacity=lots", "rate_limiter_capacity")


def test_s3_repeated_parameter_takes_the_first_value_like_gocloud() -> None:
    # gocloud's s3blob/aws packages read values[0] and never reject repeats (azblob does, below).
    assert opts(parse("s3://b?region=a&region=b"))["client_kwargs"]["region_name"] == "a"


# --- gs:// ---------------------------------------------------------------------------------------


def test_gs_params() -> None:
    assert parse("gs://bkt/p/q").root == "bkt/p/q"
    assert opts(parse("gs://b?anonymous=true"))["credentials"] == ("anon", None)
    assert opts(parse("gs://b?access_id=-"))["credentials"] == ("anon", None)
    assert "credentials" not in opts(parse("gs://b?access_id=sa@x.iam.gserviceaccount.com&private_key_path=/k"))
    assert opts(parse("gs://b?universe_domain=example.com"))["endpoint_url"] == "https://storage.example.com"
    rejects("gs://b?region=x", "invalid query parameter 'region'")
    rejects("gs://b?anonymous=sure", "anonymous")


def test_gs_credentials_from_pulumis_variables() -> None:
    creds = '{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}'
    u = parse("gs://b", GOOGLE_CREDENTIALS=creds, GOOGLE_OAUTH_ACCESS_TOKEN="tok")
    assert opts(u)["credentials"] == ("json", {"type": "authorized_user", "client_id": "c", "client_secret": "s",
                                               "refresh_token": "r"})
    assert opts(parse("gs://b", GOOGLE_OAUTH_ACCESS_TOKEN="tok"))["credentials"] == ("access_token", "tok")
    assert "credentials" not in opts(parse("gs://b"))  # Google default credentials
    rejects("gs://b", "GOOGLE_CREDENTIALS", GOOGLE_CREDENTIALS="/path/to/key.json")


def test_gs_emulator_host() -> None:
    u = parse("gs://b", STORAGE_EMULATOR_HOST="127.0.0.1:4443", GOOGLE_OAUTH_ACCESS_TOKEN="tok")
    assert (opts(u)["endpoint_url"], opts(u)["credentials"]) == ("http://127.0.0.1:4443", ("anon", None))
    assert opts(parse("gs://b", STORAGE_EMULATOR_HOST="http://h:1/"))["endpoint_url"] == "http://h:1"


def test_gs_filesystem_uses_the_given_credentials() -> None:
    fs: Any = parse("gs://b", GOOGLE_OAUTH_ACCESS_TOKEN="tok-123").filesystem()
    assert fs.credentials.credentials.token == "tok-123"
    creds = '{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}'
    fs = parse("gs://b", GOOGLE_CREDENTIALS=creds).filesystem()
    assert fs.credentials.credentials.refresh_token == "r"
    assert type(fs).__mro__[1].__module__ == "gcsfs.core"  # never the gRPC "extended" filesystem


# --- azblob:// -----------------------------------------------------------------------------------

CONN = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=c2VjcmV0a2V5==;"
        "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;")


def test_azure_connection_string() -> None:
    for var in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGEBLOB_CONNECTIONSTRING"):
        o = opts(parse("azblob://ctr/team", **{var: CONN}))
        assert (o["auth"], o["account"], o["secret"]) == ("connection_string", "devstoreaccount1", CONN)
        assert o["service_url"] == "http://devstoreaccount1.blob.core.windows.net"  # protocol from the string
    u = parse("azblob://ctr/team", AZURE_STORAGE_CONNECTION_STRING=CONN)
    assert (u.root, u.bucket) == ("ctr/team", "ctr")


def test_azure_shared_key_sas_and_default_credential() -> None:
    o = opts(parse("azblob://c", AZURE_STORAGE_ACCOUNT="acct", AZURE_STORAGE_KEY="k2V5",
                   AZURE_STORAGE_SAS_TOKEN="sv=1&sig=x", AZURE_STORAGE_CONNECTION_STRING=CONN))
    # The protocol still comes from the connection string (gocloud parses it for the defaults).
    assert (o["auth"], o["key_account"], o["service_url"]) == ("shared_key", "acct", "http://acct.blob.core.windows.net")
    o = opts(parse("azblob://c", AZURE_STORAGE_ACCOUNT="acct", AZURE_STORAGE_SAS_TOKEN="?sv=1&sig=x",
                   AZURE_STORAGE_CONNECTION_STRING=CONN))
    assert (o["auth"], o["secret"]) == ("sas", "sv=1&sig=x")
    o = opts(parse("azblob://c?storage_account=other", AZURE_STORAGE_ACCOUNT="acct"))
    assert (o["auth"], o["service_url"]) == ("default", "https://other.blob.core.windows.net")


def test_azure_storage_account_overrides_url_but_not_the_key_owner() -> None:
    o = opts(parse("azblob://c?storage_account=other", AZURE_STORAGE_ACCOUNT="acct", AZURE_STORAGE_KEY="k"))
    assert (o["service_url"], o["key_account"]) == ("https://other.blob.core.windows.net", "acct")


@pytest.mark.parametrize(("url", "env", "service"), [
    ("azblob://c?domain=127.0.0.1:10000&protocol=http", {}, "http://127.0.0.1:10000/acct"),
    ("azblob://c?domain=azurite:10000&localemu=true", {}, "https://azurite:10000/acct"),
    ("azblob://c", {"AZURE_STORAGE_DOMAIN": "localhost:10000", "AZURE_STORAGE_PROTOCOL": "http"},
     "http://localhost:10000/acct"),
    ("azblob://c", {"AZURE_STORAGE_DOMAIN": "azurite", "AZURE_STORAGE_IS_LOCAL_EMULATOR": "true"},
     "https://azurite/acct"),
    ("azblob://c?cdn=true&domain=cdn.example.com", {}, "https://cdn.example.com"),
    ("azblob://c?domain=blob.core.chinacloudapi.cn", {}, "https://acct.blob.core.chinacloudapi.cn"),
])
def test_azure_service_url(url: str, env: dict[str, str], service: str) -> None:
    assert opts(parse(url, AZURE_STORAGE_ACCOUNT="acct", **env))["service_url"] == service


def test_azure_rejections() -> None:
    rejects("azblob://c", "no storage account")
    rejects("azblob://c?storage_account=a&storage_account=b", "multiple values of storage_account")
    rejects("azblob://c?storage_account=a&container=x", "unknown query parameter 'container'")
    rejects("azblob://c?storage_account=a&protocol=ftp", "invalid protocol 'ftp'")
    rejects("azblob://c?storage_account=a&localemu=yes", "localemu")


# --- postgres:// ---------------------------------------------------------------------------------


def test_postgres_table_removed_and_database_is_the_prefix() -> None:
    u = parse("postgres://alice:pw@db.example:5433/mydb?sslmode=require&table=my_state")
    assert (u.kind, u.root, u.bucket) == ("postgres", "mydb", "mydb")
    assert u.fs_options["table"] == "my_state"
    assert u.fs_options["dsn"] == "postgres://alice:pw@db.example:5433/mydb?sslmode=require&connect_timeout=10"
    assert "password" not in u.params and "pw" not in repr(u)


def test_postgres_variants() -> None:
    u = parse("postgresql://h/db")
    assert (u.root, u.fs_options["table"]) == ("db", "pulumi_state")
    assert u.fs_options["dsn"].startswith("postgresql://h/db?")
    assert parse("postgres://").root == ""  # everything from PG* variables, no key prefix
    assert parse("postgres://h/db?table=").fs_options["table"] == "pulumi_state"
    assert parse("postgres://h/db?table=a&table=b").fs_options["table"] == "a"  # Go's Values.Get
    assert parse("postgres://h/db?table=ops.state").fs_options["table"] == "ops.state"
    assert parse("postgres://h/db?connect_timeout=3").fs_options["dsn"] == "postgres://h/db?connect_timeout=3"
    assert parse("postgres://h/db", PGCONNECT_TIMEOUT="5").fs_options["dsn"] == "postgres://h/db"


@pytest.mark.parametrize("table", ["state;drop table x", "a.b.c", "1abc", "my-state"])
def test_postgres_invalid_table(table: str) -> None:
    rejects(f"postgres://h/db?table={table}", "invalid table name")


# --- redaction -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "shown"), [
    ("postgres://alice:s3cret@h/db?table=t", "postgres://****:****@h/db?table=t"),
    ("postgres://h/db?password=s3cret&sslmode=require", "postgres://h/db?password=****&sslmode=require"),
    ("postgres://h/db?sslpassword=s3cret", "postgres://h/db?sslpassword=****"),
    ("azblob://c?sv=2020&sig=abc%2Fdef", "azblob://c?sv=2020&sig=****"),
    ("s3://bkt/p?region=x", "s3://bkt/p?region=x"),
    ("s3://b?endpoint=http://u:pw@127.0.0.1:9&region=x", "s3://b?endpoint=http://****:****@127.0.0.1:9&region=x"),
    ("s3://b?endpoint=http%3A%2F%2Fu%3Apw%40h", "s3://b?endpoint=http://****:****@h"),
    ("s3://b?endpoint=http://127.0.0.1:9", "s3://b?endpoint=http://127.0.0.1:9"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_and_repr() -> None:
    text = ("failed: AccountName=a;AccountKey=c2VjcmV0==;SharedAccessSignature=sv=1&sig=zz at "
            "https://a.blob.core.windows.net/c?sv=1&sig=abc and postgres://u:pw@h/db password=hunter2")
    out = redact_text(text)
    for secret in ("c2VjcmV0", "sig=zz", "sig=abc", "pw@", "hunter2"):
        assert secret not in out
    u = parse("azblob://c", AZURE_STORAGE_CONNECTION_STRING=CONN)
    assert "c2VjcmV0a2V5" not in repr(u) and "c2VjcmV0a2V5" not in u.redacted


@given(st.text(alphabet=st.characters(blacklist_characters="@/:?#[]", blacklist_categories=("Cs", "Cc")),
               min_size=4, max_size=30))
def test_redact_url_never_shows_the_password(password: str) -> None:
    from urllib.parse import quote

    encoded = quote(password, safe="")
    assert encoded not in redact_url(f"postgres://user:{encoded}@host:5432/db")
    assert encoded not in redact_url(f"postgres://host/db?password={encoded}&x=1")
