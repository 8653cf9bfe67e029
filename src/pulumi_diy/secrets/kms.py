"""Key wrappers for Pulumi's cloud secrets manager: gocloud keeper URLs -> KMS SDK calls (format doc 4.5).

=======================  ==========================================================================
URL                      SDK and behaviour (mirrors gocloud ``secrets/*`` at the commit of doc 0)
=======================  ==========================================================================
``awskms://<key>``       boto3 ``kms`` Encrypt/Decrypt. ``<key>`` = host+path (key id, ``alias/x``) or
                         ``awskms:///<ARN>``. Query: ``region``, ``endpoint``, ``profile``,
                         ``context_<k>=<v>`` (encryption context), ``anonymous``, ``dualstack``,
                         ``fips``, ``role`` (assumed via STS); ``awssdk``, ``hostname_immutable``,
                         ``rate_limiter_capacity``, ``request_checksum_calculation``,
                         ``response_checksum_validation`` are accepted and have no effect here.
``gcpkms://projects/..`` google-cloud-kms (REST transport) Encrypt/Decrypt; query
                         ``additional_authenticated_data`` (padded base64url). Credentials:
                         ``GOOGLE_CREDENTIALS`` (JSON text), ``GOOGLE_OAUTH_ACCESS_TOKEN``, else ADC.
``azurekeyvault://<v>.   azure-keyvault-keys ``CryptographyClient`` encrypt/decrypt (gocloud calls the
vault.azure.net/keys/    Encrypt/Decrypt operations, not WrapKey); query ``algorithm`` (default
<k>[/<version>]``        ``RSA-OAEP-256``); credential ``DefaultAzureCredential``.
``hashivault://<key>``   hvac transit encrypt/decrypt; query ``engine`` (default ``transit``); server
                         ``VAULT_SERVER_URL`` or ``VAULT_ADDR``, token ``VAULT_SERVER_TOKEN`` or
                         ``VAULT_TOKEN``.
=======================  ==========================================================================

The environment arrives as a mapping (``config.py`` is the only reader of ``os.environ``). Besides
Pulumi's names, two pulumi-diy keys exist so tests and emulators can redirect traffic:
``PULUMI_DIY_GCPKMS_ENDPOINT`` (API endpoint; an ``http://`` endpoint also switches to anonymous
credentials) and ``PULUMI_DIY_AZUREKEYVAULT_ENDPOINT`` (replaces ``https://<vault>/`` in key ids).
The SDKs still read their own credential variables (AWS chain, Azure identity) as usual.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from pulumi_diy.errors import DecryptionFailed, MissingDependency, SecretsError, UnknownSecretsProvider

GCPKMS_ENDPOINT_ENV = "PULUMI_DIY_GCPKMS_ENDPOINT"
AZUREKEYVAULT_ENDPOINT_ENV = "PULUMI_DIY_AZUREKEYVAULT_ENDPOINT"

SCHEMES = ("awskms", "azurekeyvault", "gcpkms", "hashivault")

_AWS_PARAMS_WITHOUT_EFFECT = {
    "awssdk", "hostname_immutable", "rate_limiter_capacity",
    "request_checksum_calculation", "response_checksum_validation",
}
_AZURE_KEY_ID = re.compile(r"^(https://.+\.vault\.(?:[a-z\d\-.]+)/)keys/(.+)$")


class KeyWrapper(Protocol):
    """Wraps and unwraps a data key with a KMS key (gocloud ``secrets.Keeper``)."""

    def wrap(self, plaintext: bytes) -> bytes: ...

    def unwrap(self, ciphertext: bytes) -> bytes: ...


def key_wrapper_for_url(
    url: str,
    *,
    env: Mapping[str, str],
    azure_credential: Any = None,
    azure_client_options: Mapping[str, Any] | None = None,
    gcp_credentials: Any = None,
) -> KeyWrapper:
    """Open the KMS key named by a Pulumi secrets-provider URL.

    ``azure_credential``/``azure_client_options`` (e.g. ``connection_verify``,
    ``verify_challenge_resource``) and ``gcp_credentials`` let callers and tests inject what would
    otherwise come from the SDKs' default credential chains.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    query = parse_qs(parts.query, keep_blank_values=True)
    key = _go_path_join(parts.netloc, unquote(parts.path))
    if scheme == "awskms":
        return _AwsKms(url, key.removeprefix("/"), query)
    if scheme == "gcpkms":
        return _GcpKms(url, key, query, env, gcp_credentials)
    if scheme == "azurekeyvault":
        return _AzureKeyVault(url, key, query, env, azure_credential, dict(azure_client_options or {}))
    if scheme == "hashivault":
        return _HashiVault(url, key, query, env)
    raise UnknownSecretsProvider(
        f"no known secrets provider for URL scheme {scheme or '(none)'!r} in {url!r} "
        f"(expected one of: {', '.join(SCHEMES)})"
    )


def _go_path_join(*elems: str) -> str:
    """Go ``path.Join``: join the non-empty elements with "/" and clean the result."""
    joined = "/".join(e for e in elems if e)
    if not joined:
        return ""
    cleaned = posixpath.normpath(joined)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def _bad_url(url: str, why: str) -> SecretsError:
    return SecretsError(f"invalid secrets provider URL {url!r}: {why}")


def _parse_bool(url: str, name: str, value: str) -> bool:
    # Go strconv.ParseBool
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise _bad_url(url, f"invalid value for {name}: {value!r}")


def _sdk_error(e: BaseException) -> str:
    """A one-line description of an SDK exception (messages from KMS services never carry key material)."""
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


class _AwsKms:
    def __init__(self, url: str, key_id: str, query: dict[str, list[str]]) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise MissingDependency("boto3", "kms-aws") from None
        self.url, self.key_id = url, key_id
        self.context: dict[str, str] = {}
        session_kw: dict[str, Any] = {}
        client_kw: dict[str, Any] = {}
        cfg_kw: dict[str, Any] = {}
        role = None
        for name, values in query.items():
            value = values[0]
            if name.startswith("context_"):
                if len(values) != 1:
                    raise _bad_url(url, f"EncryptionContext URL parameter {name!r} must have exactly 1 value")
                self.context[name[len("context_"):]] = value
            elif name == "region":
                session_kw["region_name"] = value
            elif name == "profile":
                session_kw["profile_name"] = value
            elif name == "endpoint":
                client_kw["endpoint_url"] = value
            elif name == "dualstack":
                cfg_kw["use_dualstack_endpoint"] = _parse_bool(url, name, value) or None
            elif name == "fips":
                cfg_kw["use_fips_endpoint"] = _parse_bool(url, name, value) or None
            elif name == "anonymous":
                if _parse_bool(url, name, value):
                    from botocore import UNSIGNED

                    cfg_kw["signature_version"] = UNSIGNED
            elif name == "role":
                if not value.startswith("arn:"):
                    raise _bad_url(url, f"invalid value for role: must be an ARN ('arn:...'): {value}")
                role = value
            elif name not in _AWS_PARAMS_WITHOUT_EFFECT:
                raise _bad_url(url, f"unknown query parameter {name!r}")
        cfg = Config(**{k: v for k, v in cfg_kw.items() if v is not None})
        try:
            session = boto3.session.Session(**session_kw)
            if role:
                creds = session.client("sts", config=cfg).assume_role(
                    RoleArn=role, RoleSessionName="pulumi-diy")["Credentials"]
                session = boto3.session.Session(
                    aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                    aws_session_token=creds["SessionToken"], region_name=session.region_name)
            self._client = session.client("kms", config=cfg, **client_kw)
        except Exception as e:  # botocore raises many unrelated classes for bad profiles/regions
            raise SecretsError(f"cannot open AWS KMS key {url!r}: {_sdk_error(e)}") from None

    def wrap(self, plaintext: bytes) -> bytes:
        kw: dict[str, Any] = {"KeyId": self.key_id, "Plaintext": plaintext}
        if self.context:
            kw["EncryptionContext"] = self.context
        try:
            return bytes(self._client.encrypt(**kw)["CiphertextBlob"])
        except Exception as e:
            raise SecretsError(f"AWS KMS encrypt with {self.url!r} failed: {_sdk_error(e)}") from None

    def unwrap(self, ciphertext: bytes) -> bytes:
        # gocloud sends no KeyId on Decrypt: the ciphertext blob names its key.
        kw: dict[str, Any] = {"CiphertextBlob": ciphertext}
        if self.context:
            kw["EncryptionContext"] = self.context
        try:
            return bytes(self._client.decrypt(**kw)["Plaintext"])
        except Exception as e:
            raise DecryptionFailed(f"AWS KMS decrypt with {self.url!r} failed: {_sdk_error(e)}") from None


class _GcpKms:
    def __init__(self, url: str, name: str, query: dict[str, list[str]], env: Mapping[str, str],
                 credentials: Any) -> None:
        for param in query:
            if param != "additional_authenticated_data":
                raise _bad_url(url, f"invalid query parameter {param!r}")
        self.url, self.name = url, name
        self.aad = b""
        aad = query.get("additional_authenticated_data", [""])[0]
        if aad:
            if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", aad) or len(aad) % 4:
                raise _bad_url(url, "failed to base64-decode \"additional_authenticated_data\"")
            try:
                self.aad = base64.b64decode(aad, altchars=b"-_", validate=True)
            except (binascii.Error, ValueError):
                raise _bad_url(url, "failed to base64-decode \"additional_authenticated_data\"") from None
        try:
            from google.cloud import kms_v1
        except ImportError:
            raise MissingDependency("google-cloud-kms", "kms-gcp") from None
        endpoint = env.get(GCPKMS_ENDPOINT_ENV, "")
        if credentials is None:
            credentials = _gcp_credentials(env, anonymous=endpoint.startswith("http://"))
        options: dict[str, Any] = {"api_endpoint": endpoint} if endpoint else {}
        try:
            self._client = kms_v1.KeyManagementServiceClient(
                credentials=credentials, transport="rest", client_options=options)
        except Exception as e:
            raise SecretsError(f"cannot open GCP KMS key {url!r}: {_sdk_error(e)}") from None

    def _request(self, field: str, data: bytes) -> dict[str, Any]:
        req: dict[str, Any] = {"name": self.name, field: data}
        if self.aad:
            req["additional_authenticated_data"] = self.aad
        return req

    def wrap(self, plaintext: bytes) -> bytes:
        try:
            return bytes(self._client.encrypt(request=self._request("plaintext", plaintext)).ciphertext)
        except Exception as e:
            raise SecretsError(f"GCP KMS encrypt with {self.url!r} failed: {_sdk_error(e)}") from None

    def unwrap(self, ciphertext: bytes) -> bytes:
        try:
            return bytes(self._client.decrypt(request=self._request("ciphertext", ciphertext)).plaintext)
        except Exception as e:
            raise DecryptionFailed(f"GCP KMS decrypt with {self.url!r} failed: {_sdk_error(e)}") from None


def _gcp_credentials(env: Mapping[str, str], *, anonymous: bool) -> Any:
    """Pulumi's order (``ResolveGoogleCredentials``): GOOGLE_CREDENTIALS, GOOGLE_OAUTH_ACCESS_TOKEN, ADC."""
    import json

    import google.auth
    from google.auth.credentials import AnonymousCredentials

    scope = ["https://www.googleapis.com/auth/cloudkms"]
    try:
        if anonymous:
            return AnonymousCredentials()
        if env.get("GOOGLE_CREDENTIALS"):
            info = json.loads(env["GOOGLE_CREDENTIALS"])
            creds, _ = google.auth.load_credentials_from_dict(info, scopes=scope)
            return creds
        if env.get("GOOGLE_OAUTH_ACCESS_TOKEN"):
            from google.oauth2.credentials import Credentials

            return Credentials(token=env["GOOGLE_OAUTH_ACCESS_TOKEN"])
        creds, _ = google.auth.default(scopes=scope)
        return creds
    except Exception as e:
        raise SecretsError(f"missing google credentials: {_sdk_error(e)}") from None


class _AzureKeyVault:
    def __init__(self, url: str, path: str, query: dict[str, list[str]], env: Mapping[str, str],
                 credential: Any, client_options: dict[str, Any]) -> None:
        self.url = url
        algorithm = query.get("algorithm", [""])[0] or "RSA-OAEP-256"
        for param in query:
            if param != "algorithm":
                raise _bad_url(url, f"invalid query parameter {param!r}")
        match = _AZURE_KEY_ID.match("https://" + path)
        if not match:
            raise _bad_url(url, "expected azurekeyvault://<vault>.vault.azure.net/keys/<key>[/<version>]")
        vault_url, key_path = match.group(1), match.group(2)
        override = env.get(AZUREKEYVAULT_ENDPOINT_ENV, "")
        if override:
            vault_url = override.rstrip("/") + "/"
            # The challenge names vault.azure.net, which a redirected host can never match.
            client_options.setdefault("verify_challenge_resource", False)
        try:
            from azure.keyvault.keys.crypto import CryptographyClient, EncryptionAlgorithm
        except ImportError:
            raise MissingDependency("azure-keyvault-keys", "kms-azure") from None
        try:
            self.algorithm = EncryptionAlgorithm(algorithm)
        except ValueError:
            raise _bad_url(url, f"unknown algorithm {algorithm!r}") from None
        if credential is None:
            try:
                from azure.identity import DefaultAzureCredential
            except ImportError:
                raise MissingDependency("azure-identity", "kms-azure") from None
            credential = DefaultAzureCredential()
        try:
            self._client = CryptographyClient(vault_url + "keys/" + key_path, credential, **client_options)
        except Exception as e:
            raise SecretsError(f"cannot open Azure Key Vault key {url!r}: {_sdk_error(e)}") from None

    def wrap(self, plaintext: bytes) -> bytes:
        try:
            return bytes(self._client.encrypt(self.algorithm, plaintext).ciphertext)
        except Exception as e:
            raise SecretsError(f"Azure Key Vault encrypt with {self.url!r} failed: {_sdk_error(e)}") from None

    def unwrap(self, ciphertext: bytes) -> bytes:
        try:
            return bytes(self._client.decrypt(self.algorithm, ciphertext).plaintext)
        except Exception as e:
            raise DecryptionFailed(
                f"Azure Key Vault decrypt with {self.url!r} failed: {_sdk_error(e)}") from None


class _HashiVault:
    def __init__(self, url: str, key: str, query: dict[str, list[str]], env: Mapping[str, str]) -> None:
        self.url, self.key = url, key
        self.engine = "transit"
        for param, values in query.items():
            if param != "engine":
                raise _bad_url(url, f"invalid query parameter {param!r}")
            self.engine = values[0] or "transit"
        # gocloud refuses key ids that would escape "<engine>/encrypt" once joined.
        joined = _go_path_join(self.engine + "/encrypt", key)
        if joined != self.engine + "/encrypt" and not joined.startswith(self.engine + "/encrypt/"):
            raise _bad_url(url, f"keyID {key!r} escapes the {self.engine + '/encrypt'!r} path")
        server = env.get("VAULT_SERVER_URL") or env.get("VAULT_ADDR")
        if not server:
            raise SecretsError(
                f"cannot open Vault key {url!r}: neither VAULT_SERVER_URL nor VAULT_ADDR environment "
                "variables are set")
        token = env.get("VAULT_SERVER_TOKEN") or env.get("VAULT_TOKEN") or None
        try:
            import hvac
        except ImportError:
            raise MissingDependency("hvac", "kms-vault") from None
        self._client = hvac.Client(url=server, token=token)

    def wrap(self, plaintext: bytes) -> bytes:
        try:
            out = self._client.secrets.transit.encrypt_data(
                name=self.key, plaintext=base64.b64encode(plaintext).decode("ascii"), mount_point=self.engine)
            return str(out["data"]["ciphertext"]).encode("utf-8")
        except Exception as e:
            raise SecretsError(f"Vault transit encrypt with {self.url!r} failed: {_sdk_error(e)}") from None

    def unwrap(self, ciphertext: bytes) -> bytes:
        try:
            out = self._client.secrets.transit.decrypt_data(
                name=self.key, ciphertext=ciphertext.decode("utf-8"), mount_point=self.engine)
            return base64.b64decode(out["data"]["plaintext"], validate=True)
        except Exception as e:
            raise DecryptionFailed(
                f"Vault transit decrypt with {self.url!r} failed: {_sdk_error(e)}") from None
