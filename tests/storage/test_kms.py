"""KMS key wrappers end to end through the real SDKs: boto3 against moto, hvac against OpenBao, and
google-cloud-kms / azure-keyvault-keys against the loopback fakes in tests/kmsfakes.py."""

from __future__ import annotations

import base64
import re
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pulumi_diy.errors import DecryptionFailed, MissingDependency, SecretsError, UnknownSecretsProvider
from pulumi_diy.secrets import (
    AesGcmCrypter,
    CloudManager,
    decrypt_secret_value,
    encrypt_secret_value,
    key_wrapper_for_url,
    manager_from_secrets_providers,
)
from pulumi_diy.secrets.crypter import b64decode_raw_url, b64decode_std, b64encode_raw_url, b64encode_std
from pulumi_diy.secrets.kms import AZUREKEYVAULT_ENDPOINT_ENV, GCPKMS_ENDPOINT_ENV
from tests.kmsfakes import FakeAzureKeyVault, FakeGcpKms, StubAzureCredential

DATA_KEY = bytes(range(32))


def _no_passphrase() -> str:
    raise AssertionError("a cloud manager must not ask for a passphrase")


def _roundtrip_cloud_manager(url: str, kms: Any, kms_factory: Any = None, env: Any = None) -> CloudManager:
    """New data key -> state -> reopen through the dispatcher -> secrets decrypt both ways."""
    mgr = CloudManager.new(url, kms)
    secret = encrypt_secret_value({"password": "hunter2", "n": 1}, mgr)
    state = {"type": "cloud", "state": mgr.state()}
    reopened = manager_from_secrets_providers(
        state, passphrase=_no_passphrase, kms_factory=kms_factory, env=env)
    assert decrypt_secret_value(secret, reopened) == {"password": "hunter2", "n": 1}
    assert reopened.decrypt(mgr.encrypt("x")) == "x"
    assert mgr.decrypt(reopened.encrypt("y")) == "y"
    return mgr


# --- AWS KMS (moto) -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aws_key(moto_endpoint: str) -> dict[str, Any]:
    import boto3

    kms = boto3.client("kms", endpoint_url=moto_endpoint, region_name="us-east-1")
    meta = kms.create_key(Description="pulumi-diy test")["KeyMetadata"]
    alias = f"alias/pulumi-diy-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    return {"id": meta["KeyId"], "arn": meta["Arn"], "alias": alias, "endpoint": moto_endpoint}


def test_awskms_key_id_alias_and_arn_forms(aws_key: dict[str, Any]) -> None:
    q = f"?region=us-east-1&endpoint={aws_key['endpoint']}"
    by_id = key_wrapper_for_url(f"awskms://{aws_key['id']}{q}", env={})
    wrapped = by_id.wrap(DATA_KEY)
    assert wrapped != DATA_KEY
    assert by_id.unwrap(wrapped) == DATA_KEY
    by_alias = key_wrapper_for_url(f"awskms://{aws_key['alias']}{q}", env={})
    by_arn = key_wrapper_for_url(f"awskms:///{aws_key['arn']}{q}", env={})
    assert by_arn.unwrap(by_alias.wrap(DATA_KEY)) == DATA_KEY
    assert by_alias.unwrap(by_arn.wrap(DATA_KEY)) == DATA_KEY


def test_awskms_encryption_context_is_enforced(aws_key: dict[str, Any]) -> None:
    base = f"awskms://{aws_key['id']}?region=us-east-1&endpoint={aws_key['endpoint']}"
    with_ctx = key_wrapper_for_url(base + "&context_app=web&context_env=prod", env={})
    wrapped = with_ctx.wrap(DATA_KEY)
    assert with_ctx.unwrap(wrapped) == DATA_KEY
    with pytest.raises(DecryptionFailed, match="AWS KMS decrypt"):
        key_wrapper_for_url(base + "&context_app=other&context_env=prod", env={}).unwrap(wrapped)


def test_awskms_cloud_manager_roundtrip(aws_key: dict[str, Any]) -> None:
    url = f"awskms://{aws_key['alias']}?region=us-east-1&endpoint={aws_key['endpoint']}"
    mgr = _roundtrip_cloud_manager(url, key_wrapper_for_url(url, env={}))
    assert mgr.state()["url"] == url
    b64decode_std(mgr.encrypted_key_b64)  # plain std base64 of the KMS blob (no extra layer for AWS)


def test_awskms_rejects_unknown_query_parameter() -> None:
    with pytest.raises(SecretsError, match="unknown query parameter 'bogus'"):
        key_wrapper_for_url("awskms://alias/x?region=us-east-1&bogus=1", env={})


def test_awskms_missing_sdk_is_missing_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(MissingDependency, match=re.escape("pulumi-diy[kms-aws]")):
        key_wrapper_for_url("awskms://alias/x?region=us-east-1", env={})


# --- HashiCorp Vault transit (OpenBao) ------------------------------------------------------------


@pytest.fixture(scope="module")
def vault(vault_addr: tuple[str, str]) -> dict[str, str]:
    import hvac
    from hvac.exceptions import InvalidRequest

    url, token = vault_addr
    client = hvac.Client(url=url, token=token)
    mount = f"transit-{uuid.uuid4().hex[:8]}"
    client.sys.enable_secrets_engine("transit", path=mount)
    try:
        client.sys.enable_secrets_engine("transit")  # the default mount, shared with other tests
    except InvalidRequest:
        pass
    client.secrets.transit.create_key(name="pulumi-diy", mount_point=mount)
    client.secrets.transit.create_key(name="pulumi-diy-default", mount_point="transit")
    return {"url": url, "token": token, "mount": mount}


def test_hashivault_wrap_unwrap_with_engine_param(vault: dict[str, str]) -> None:
    env = {"VAULT_ADDR": vault["url"], "VAULT_TOKEN": vault["token"]}
    kw = key_wrapper_for_url(f"hashivault://pulumi-diy?engine={vault['mount']}", env=env)
    wrapped = kw.wrap(DATA_KEY)
    assert wrapped.startswith(b"vault:v1:")  # gocloud stores the transit ciphertext text as bytes
    assert kw.unwrap(wrapped) == DATA_KEY


def test_hashivault_default_engine_and_server_precedence(vault: dict[str, str]) -> None:
    # VAULT_SERVER_URL / VAULT_SERVER_TOKEN win over VAULT_ADDR / VAULT_TOKEN.
    env = {"VAULT_SERVER_URL": vault["url"], "VAULT_ADDR": "http://127.0.0.1:9",
           "VAULT_SERVER_TOKEN": vault["token"], "VAULT_TOKEN": "wrong"}
    kw = key_wrapper_for_url("hashivault://pulumi-diy-default", env=env)
    assert kw.unwrap(kw.wrap(DATA_KEY)) == DATA_KEY


def test_hashivault_cloud_manager_roundtrip_and_errors(vault: dict[str, str]) -> None:
    env = {"VAULT_ADDR": vault["url"], "VAULT_TOKEN": vault["token"]}
    url = f"hashivault://pulumi-diy?engine={vault['mount']}"
    _roundtrip_cloud_manager(url, key_wrapper_for_url(url, env=env), env=env)
    with pytest.raises(DecryptionFailed, match="Vault transit decrypt"):
        key_wrapper_for_url(url, env=env).unwrap(b"vault:v1:bm90IGEgY2lwaGVydGV4dA==")
    bad_state = {"type": "cloud", "state": {"url": url, "encryptedkey": b64encode_std(b"vault:v1:AAAA")}}
    mgr = manager_from_secrets_providers(bad_state, passphrase=_no_passphrase, env=env)
    with pytest.raises(DecryptionFailed):
        mgr.decrypt("v1:AAAAAAAAAAAAAAAA:AAAA")


def test_hashivault_configuration_errors() -> None:
    with pytest.raises(SecretsError, match="neither VAULT_SERVER_URL nor VAULT_ADDR"):
        key_wrapper_for_url("hashivault://k", env={})
    with pytest.raises(SecretsError, match="invalid query parameter 'region'"):
        key_wrapper_for_url("hashivault://k?region=x", env={"VAULT_ADDR": "http://127.0.0.1:9"})


# --- GCP KMS (loopback fake, real google-cloud-kms REST client) ----------------------------------------


@pytest.fixture(scope="module")
def gcp() -> Iterator[FakeGcpKms]:
    fake = FakeGcpKms()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


GCP_KEY = "projects/p1/locations/global/keyRings/ring/cryptoKeys/key1"


def test_gcpkms_wrap_unwrap(gcp: FakeGcpKms) -> None:
    env = {GCPKMS_ENDPOINT_ENV: gcp.url}
    kw = key_wrapper_for_url(f"gcpkms://{GCP_KEY}", env=env)
    wrapped = kw.wrap(DATA_KEY)
    assert kw.unwrap(wrapped) == DATA_KEY
    assert ("encrypt", GCP_KEY) in gcp.requests and ("decrypt", GCP_KEY) in gcp.requests


def test_gcpkms_additional_authenticated_data(gcp: FakeGcpKms) -> None:
    env = {GCPKMS_ENDPOINT_ENV: gcp.url}
    aad = base64.urlsafe_b64encode(b"stack:dev?>").decode()  # padded base64url, as gocloud expects
    kw = key_wrapper_for_url(f"gcpkms://{GCP_KEY}?additional_authenticated_data={aad}", env=env)
    wrapped = kw.wrap(DATA_KEY)
    assert gcp.aads[-1] == b"stack:dev?>"
    assert kw.unwrap(wrapped) == DATA_KEY
    with pytest.raises(DecryptionFailed, match="GCP KMS decrypt"):
        key_wrapper_for_url(f"gcpkms://{GCP_KEY}", env=env).unwrap(wrapped)


def test_gcpkms_cloud_manager_roundtrip(gcp: FakeGcpKms) -> None:
    env = {GCPKMS_ENDPOINT_ENV: gcp.url}
    url = f"gcpkms://{GCP_KEY}"
    _roundtrip_cloud_manager(url, key_wrapper_for_url(url, env=env), env=env)


def test_gcpkms_url_errors(gcp: FakeGcpKms) -> None:
    env = {GCPKMS_ENDPOINT_ENV: gcp.url}
    with pytest.raises(SecretsError, match="invalid query parameter 'region'"):
        key_wrapper_for_url(f"gcpkms://{GCP_KEY}?region=x", env=env)
    with pytest.raises(SecretsError, match="additional_authenticated_data"):
        key_wrapper_for_url(f"gcpkms://{GCP_KEY}?additional_authenticated_data=a+b", env=env)


# --- Azure Key Vault (loopback HTTPS fake, real azure-keyvault-keys client) -----------------------------


@pytest.fixture(scope="module")
def akv() -> Iterator[FakeAzureKeyVault]:
    fake = FakeAzureKeyVault()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def _azure(akv: FakeAzureKeyVault, url: str) -> Any:
    return key_wrapper_for_url(
        url, env={AZUREKEYVAULT_ENDPOINT_ENV: akv.url}, azure_credential=StubAzureCredential(),
        azure_client_options={"connection_verify": str(akv.cert_path), "verify_challenge_resource": False},
    )


def test_azurekeyvault_wrap_unwrap_through_challenge(akv: FakeAzureKeyVault) -> None:
    akv.create_rsa_key("k1")
    kw = _azure(akv, "azurekeyvault://myvault.vault.azure.net/keys/k1")
    wrapped = kw.wrap(DATA_KEY)
    assert len(wrapped) == 256  # RSA-2048 OAEP output
    assert kw.unwrap(wrapped) == DATA_KEY
    assert akv.unauthenticated >= 1  # the SDK went through the bearer challenge
    # The SDK may encrypt locally with the public key, but decryption needs the vault.
    assert any(method == "POST" and route.endswith("/decrypt") for method, route in akv.requests)


def test_azurekeyvault_versioned_key_and_algorithm(akv: FakeAzureKeyVault) -> None:
    version = akv.create_rsa_key("k2")
    akv.create_rsa_key("k2")  # a newer version must not be used for the pinned one
    kw = _azure(akv, f"azurekeyvault://myvault.vault.azure.net/keys/k2/{version}?algorithm=RSA-OAEP")
    assert kw.unwrap(kw.wrap(DATA_KEY)) == DATA_KEY
    latest = _azure(akv, "azurekeyvault://myvault.vault.azure.net/keys/k2?algorithm=RSA-OAEP")
    with pytest.raises(DecryptionFailed, match="Azure Key Vault decrypt"):
        latest.unwrap(kw.wrap(DATA_KEY))


def test_azurekeyvault_cloud_manager_extra_base64_layer(akv: FakeAzureKeyVault) -> None:
    akv.create_rsa_key("k3")
    url = "azurekeyvault://myvault.vault.azure.net/keys/k3"
    kw = _azure(akv, url)
    mgr = _roundtrip_cloud_manager(url, kw, kms_factory=lambda u: _azure(akv, u))
    stored = b64decode_std(mgr.encrypted_key_b64)
    # The stored bytes are the unpadded URL-safe base64 *text* of the 256-byte RSA ciphertext.
    assert re.fullmatch(rb"[A-Za-z0-9_-]+", stored) and len(stored) == 342
    data_key = kw.unwrap(b64decode_raw_url(stored.decode()))
    assert AesGcmCrypter(data_key).decrypt(mgr.encrypt("z")) == "z"


def test_azurekeyvault_tolerates_legacy_form_without_layer(akv: FakeAzureKeyVault) -> None:
    """pulumi/pulumi#15329: some stacks stored the raw RSA ciphertext without the base64url layer."""
    akv.create_rsa_key("k4")
    url = "azurekeyvault://myvault.vault.azure.net/keys/k4"
    kw = _azure(akv, url)
    good = CloudManager.new(url, kw)
    raw = b64decode_raw_url(b64decode_std(good.encrypted_key_b64).decode())
    legacy = CloudManager.from_state(url, b64encode_std(raw), kw)
    assert legacy.decrypt(good.encrypt("payload")) == "payload"
    # Like Pulumi, the manager reports the corrected (layered) form.
    assert legacy.encrypted_key_b64 == b64encode_std(b64encode_raw_url(raw).encode())


def test_azurekeyvault_url_errors(akv: FakeAzureKeyVault) -> None:
    with pytest.raises(SecretsError, match="invalid query parameter 'region'"):
        _azure(akv, "azurekeyvault://myvault.vault.azure.net/keys/k1?region=x")
    with pytest.raises(SecretsError, match="expected azurekeyvault://"):
        _azure(akv, "azurekeyvault://example.com/keys/k1")


def test_unknown_scheme() -> None:
    with pytest.raises(UnknownSecretsProvider, match="'base64'"):
        key_wrapper_for_url("base64://", env={})
