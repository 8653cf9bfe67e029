"""Secret values in deployments and config: walking, revealing, masking, re-encrypting, dispatch."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_diy.errors import CorruptInput, DecryptionFailed, SecretsError, UnknownSecretsProvider
from pulumi_diy.secrets import (
    SECRET_SIG,
    SIG_KEY,
    AesGcmCrypter,
    B64Manager,
    CloudManager,
    SecretLocation,
    decrypt_secret_value,
    encrypt_secret_value,
    format_property_path,
    go_json_marshal,
    is_secret,
    iter_config_secrets,
    iter_secrets,
    manager_from_secrets_providers,
    mask_secrets,
    reencrypt_deployment,
    reveal_deployment,
)
from pulumi_diy.secrets.crypter import b64decode_std

RESOURCE_REF_SIG = "5cf8f73096256a8f31e491e813e4eb8e"


class KeyManager:
    """A manager with a fixed AES key (no KDF), standing in for any v1-crypter manager."""

    def __init__(self, key: bytes, type: str = "test") -> None:
        self.type = type
        self._c = AesGcmCrypter(key)

    def encrypt(self, plaintext: str) -> str:
        return self._c.encrypt(plaintext)

    def decrypt(self, ciphertext: str) -> str:
        return self._c.decrypt(ciphertext)

    def state(self) -> dict[str, Any] | None:
        return {"k": "v"}


class LocalWrapper:
    """An in-memory KeyWrapper (AES-GCM under a fixed key) for pure CloudManager tests."""

    def __init__(self) -> None:
        self._c = AesGcmCrypter(b"w" * 32)

    def wrap(self, plaintext: bytes) -> bytes:
        return self._c.encrypt(plaintext.hex()).encode()

    def unwrap(self, ciphertext: bytes) -> bytes:
        return bytes.fromhex(self._c.decrypt(ciphertext.decode()))


A = KeyManager(b"a" * 32)
B = KeyManager(b"b" * 32, type="other")
URN = "urn:pulumi:dev::proj::aws:rds/instance:Instance::db"


def secret(text: str, mgr: Any = A) -> dict[str, str]:
    return {SIG_KEY: SECRET_SIG, "ciphertext": mgr.encrypt(text)}


def noop(text: str) -> dict[str, str]:
    """A nested secret as Go writes it inside secret text (no-op encrypter)."""
    return {SIG_KEY: SECRET_SIG, "ciphertext": text}


def build_deployment() -> dict[str, Any]:
    return {
        "manifest": {"time": "2026-08-21T12:00:00Z", "magic": "", "version": ""},
        "secrets_providers": {"type": "test", "state": {}},
        "resources": [
            {
                "urn": URN, "custom": True, "id": "db-1", "type": "aws:rds/instance:Instance",
                "inputs": {
                    "password": secret('"hunter2"'),
                    "tags": {"env": secret('"prod"'), "team": "infra"},
                    "list": [{"x": secret("42")}, "plain"],
                    "key.with.dots": secret("true"),
                },
                "outputs": {
                    # A secret whose value holds a nested secret (no-op form) inside an object in a list.
                    "conn": secret(go_json_marshal({"hosts": ["a", noop('"inner-pw"')], "port": 5432})),
                    "ref": {SIG_KEY: RESOURCE_REF_SIG, "urn": URN, "id": "db-1", "packageVersion": ""},
                },
                "replacementTrigger": secret('"trigger"'),
            },
        ],
        "pending_operations": [
            {"resource": {"urn": URN + "2", "custom": True, "type": "t",
                          "outputs": {"o": secret('"pending"')}},
             "type": "creating"},
        ],
        "metadata": {},
    }


def test_iter_secrets_locations() -> None:
    locs = [loc for loc, _ in iter_secrets(build_deployment())]
    assert locs == [
        SecretLocation(URN, "inputs", "password"),
        SecretLocation(URN, "inputs", "tags.env"),
        SecretLocation(URN, "inputs", "list[0].x"),
        SecretLocation(URN, "inputs", '["key.with.dots"]'),
        SecretLocation(URN, "outputs", "conn"),
        SecretLocation(URN, "replacementTrigger", ""),
        SecretLocation(URN + "2", "pending:outputs", "o"),
    ]
    assert str(locs[1]) == f"{URN} inputs.tags.env"


def test_format_property_path_matches_pulumi() -> None:
    assert format_property_path(["a", 0, "b"]) == "a[0].b"
    assert format_property_path(["a-b", 'q"uote', "c_1"]) == '["a-b"]["q\\"uote"].c_1'
    assert format_property_path(["x"], continuation=True) == ".x"
    assert format_property_path([""]) == '[""]'


def test_reveal_deployment_matches_show_secrets_export() -> None:
    dep = build_deployment()
    before = copy.deepcopy(dep)
    out = reveal_deployment(dep, A)
    assert dep == before  # input untouched
    res = out["resources"][0]
    pw = res["inputs"]["password"]
    assert list(pw) == [SIG_KEY, "plaintext"] and pw["plaintext"] == '"hunter2"'
    assert res["inputs"]["list"][0]["x"] == {SIG_KEY: SECRET_SIG, "plaintext": "42"}
    assert res["inputs"]["tags"]["team"] == "infra"
    # Nested secrets come out in plaintext form too, as Go's serializer passes showSecrets down.
    inner = json.dumps({SIG_KEY: SECRET_SIG, "plaintext": '"inner-pw"'}, separators=(",", ":"))
    assert res["outputs"]["conn"]["plaintext"] == '{"hosts":["a",' + inner + '],"port":5432}'
    assert res["outputs"]["ref"] == before["resources"][0]["outputs"]["ref"]
    assert res["replacementTrigger"]["plaintext"] == '"trigger"'
    assert out["pending_operations"][0]["resource"]["outputs"]["o"]["plaintext"] == '"pending"'
    assert out["secrets_providers"] == before["secrets_providers"]
    assert not any("ciphertext" in s for _, s in iter_secrets(out))


def test_reveal_reports_urn_and_path_never_the_value() -> None:
    dep = build_deployment()
    dep["resources"][0]["inputs"]["tags"]["env"] = secret('"prod"', B)  # encrypted with another key
    with pytest.raises(DecryptionFailed) as info:
        reveal_deployment(dep, A)
    assert URN in str(info.value) and "inputs.tags.env" in str(info.value)
    assert "prod" not in str(info.value)


def test_malformed_secret_objects() -> None:
    for bad in ({SIG_KEY: SECRET_SIG}, {SIG_KEY: SECRET_SIG, "ciphertext": "x", "plaintext": "y"},
                {SIG_KEY: SECRET_SIG, "ciphertext": ""}):
        dep = {"resources": [{"urn": URN, "outputs": {"s": bad}}]}
        with pytest.raises(CorruptInput, match="malformed secret value"):
            reveal_deployment(dep, A)
    dep = {"resources": [{"urn": URN, "outputs": {"s": secret("not json")}}]}
    with pytest.raises(CorruptInput, match="valid JSON"):
        reveal_deployment(dep, A)


def test_plaintext_secrets_in_imports_are_read_without_decrypting() -> None:
    imported = {SIG_KEY: SECRET_SIG, "plaintext": '{"b":1,"a":"<x>"}'}
    dep = {"resources": [{"urn": URN, "outputs": {"s": imported}}]}
    out = reveal_deployment(dep, B64Manager())
    assert out["resources"][0]["outputs"]["s"]["plaintext"] == '{"a":"\\u003cx\\u003e","b":1}'


def test_decrypt_and_encrypt_secret_value() -> None:
    nested = {SIG_KEY: SECRET_SIG, "plaintext": '"in"'}
    value = {"z": [1, 2.5, None, True], "a": "<tag> & co", "nested": nested}
    s = encrypt_secret_value(value, A)
    assert list(s) == [SIG_KEY, "ciphertext"]
    # The protected text is Go json.Marshal: sorted keys, compact, HTML-escaped, nested secret no-op form.
    assert A.decrypt(s["ciphertext"]) == (
        '{"a":"\\u003ctag\\u003e \\u0026 co","nested":{"' + SIG_KEY + '":"' + SECRET_SIG
        + '","ciphertext":"\\"in\\""},"z":[1,2.5,null,true]}'
    )
    assert decrypt_secret_value(s, A) == value
    assert decrypt_secret_value(secret('"hunter2"'), A) == "hunter2"


def test_mask_secrets() -> None:
    masked = mask_secrets(build_deployment()["resources"][0])
    assert masked["inputs"]["password"] == "[secret]"
    assert masked["inputs"]["list"] == [{"x": "[secret]"}, "plain"]
    assert masked["replacementTrigger"] == "[secret]"
    assert masked["outputs"]["ref"][SIG_KEY] == RESOURCE_REF_SIG
    assert "ciphertext" not in json.dumps(masked)


def test_reencrypt_deployment() -> None:
    dep = build_deployment()
    dep["resources"][0]["outputs"]["plain"] = {SIG_KEY: SECRET_SIG, "plaintext": '{"b": 2, "a": 1}'}
    out = reencrypt_deployment(dep, A, B)
    assert out["secrets_providers"] == {"type": "other", "state": {"k": "v"}}
    for loc, s in iter_secrets(out):
        assert list(s) == [SIG_KEY, "ciphertext"], loc
        with pytest.raises(DecryptionFailed):
            A.decrypt(s["ciphertext"])
    res = out["resources"][0]
    assert B.decrypt(res["inputs"]["password"]["ciphertext"]) == '"hunter2"'
    assert B.decrypt(res["outputs"]["plain"]["ciphertext"]) == '{"a":1,"b":2}'
    assert reveal_deployment(out, B)["resources"][0]["outputs"]["conn"] == \
        reveal_deployment(dep, A)["resources"][0]["outputs"]["conn"]


def test_checkpoint_secrets_fixture_with_b64_manager(upstream: Path) -> None:
    doc = json.loads((upstream / "pulumi/checkpoints/checkpoint-secrets.json").read_text())
    dep = doc["checkpoint"]["latest"]
    mgr = manager_from_secrets_providers(dep["secrets_providers"],
                                         passphrase=lambda: pytest.fail("no passphrase"))
    assert mgr.type == "b64"
    found = list(iter_secrets(dep))
    assert len(found) == 10
    texts = [mgr.decrypt(s["ciphertext"]) for _, s in found]
    assert '"AROAJBQANPFEXFW2SEVJM"' in texts
    revealed = reveal_deployment(dep, mgr)
    assert sorted(s["plaintext"] for _, s in iter_secrets(revealed)) == sorted(texts)


def test_b64_vector(upstream: Path) -> None:
    data = json.loads((upstream / "passphrase-vectors.json").read_text())
    for v in data["b64_secrets_manager_vectors"]:
        assert B64Manager().decrypt(v["ciphertext"]) == v["plaintext"]
        assert B64Manager().encrypt(v["plaintext"]) == v["ciphertext"]
    with pytest.raises(DecryptionFailed):
        B64Manager().decrypt("not base64!")


def test_config_secrets_in_history_json(upstream: Path) -> None:
    repr_dir = upstream / "pulumi/config-repr"
    nested = json.loads((repr_dir / "19.json").read_text())
    assert list(iter_config_secrets(nested)) == [
        ("my:testKey[0].inner", "securevalue"), ("my:testKey[1]", "securevalue2")]
    not_secret = json.loads((repr_dir / "14.json").read_text())  # {"bar":..., "secure":...} is a plain map
    assert list(iter_config_secrets(not_secret)) == []
    assert list(iter_config_secrets({"p:a.b": {"x y": {"secure": "c"}}})) == [('p:a.b["x y"]', "c")]
    assert list(iter_config_secrets(None)) == []
    with pytest.raises(CorruptInput):
        list(iter_config_secrets(["not", "a", "map"]))


def test_cloud_manager_with_local_wrapper() -> None:
    kms = LocalWrapper()
    for url in ("awskms://alias/x", "azurekeyvault://v.vault.azure.net/keys/k"):
        mgr = CloudManager.new(url, kms)
        again = CloudManager.from_state(url, mgr.encrypted_key_b64, kms)
        assert again.decrypt(mgr.encrypt("v")) == "v"
        assert again.state() == {"url": url, "encryptedkey": mgr.encrypted_key_b64}
    assert b64decode_std(mgr.encrypted_key_b64).isascii()  # azure: URL-safe base64 text layer
    with pytest.raises(CorruptInput):
        CloudManager.from_state("awskms://alias/x", "%%%", kms)
    with pytest.raises(DecryptionFailed):
        CloudManager.from_state("awskms://alias/x", "AAAA", kms)


def test_dispatch_other_types() -> None:
    with pytest.raises(UnknownSecretsProvider, match="cannot be decrypted outside Pulumi Cloud"):
        manager_from_secrets_providers({"type": "service", "state": {"owner": "o"}}, passphrase=lambda: "")
    with pytest.raises(UnknownSecretsProvider, match="no known secrets provider for type 'vaultish'"):
        manager_from_secrets_providers({"type": "vaultish"}, passphrase=lambda: "")
    for sp in (None, {}, {"type": ""}):
        none = manager_from_secrets_providers(sp, passphrase=lambda: "")
        with pytest.raises(SecretsError):
            none.decrypt("v1:a:b")
    with pytest.raises(CorruptInput):
        manager_from_secrets_providers({"type": "cloud", "state": {"url": "awskms://x"}},
                                       passphrase=lambda: "")
    kms = LocalWrapper()
    created = CloudManager.new("awskms://alias/x", kms)
    opened: list[str] = []

    def factory(url: str) -> LocalWrapper:
        opened.append(url)
        return kms

    mgr = manager_from_secrets_providers({"type": "cloud", "state": created.state()}, passphrase=lambda: "",
                                         kms_factory=factory)
    assert opened == []  # the KMS is contacted on first use only
    assert mgr.decrypt(created.encrypt("v")) == "v" and opened == ["awskms://alias/x"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3.0, "3"), (100, "100"), (1e20, "100000000000000000000"), (1e21, "1e+21"), (1e-6, "0.000001"),
        (1e-7, "1e-7"), (1.5e-10, "1.5e-10"), (-0.0, "-0"), (0.1, "0.1"),
        (12345678901234567890, "12345678901234567000"),
        ("\u2028\x7f\b\f\x01é", '"\\u2028\x7f\\b\\f\\u0001é"'), ("a\"\\/", '"a\\"\\\\/"'),
        ({"b": 1, "a": [None, False]}, '{"a":[null,false],"b":1}'),
    ],
)
def test_go_json_marshal(value: Any, expected: str) -> None:
    assert go_json_marshal(value) == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


def as_float64(v: Any) -> Any:
    """Numbers as Go's property values hold them (float64)."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, list):
        return [as_float64(x) for x in v]
    return {k: as_float64(x) for k, x in v.items()}


@given(json_values)
def test_go_json_marshal_is_valid_json_of_the_same_value(value: Any) -> None:
    text = go_json_marshal(value)
    assert json.loads(text, parse_int=float) == as_float64(value)
    assert "<" not in text and ">" not in text and "&" not in text


def test_nan_and_infinity_become_float_signature_objects() -> None:
    s = encrypt_secret_value([math.inf], A)
    assert A.decrypt(s["ciphertext"]) == '[{"' + SIG_KEY + '":"8ad145fe-0d11-4827-bfd7-1abcbf086f5c",' \
                                         '"value":"7ff0000000000000"}]'
    assert is_secret(s) and not is_secret({SIG_KEY: RESOURCE_REF_SIG})


def test_reveal_normalises_legacy_resource_references_inside_secrets() -> None:
    refs = [{SIG_KEY: RESOURCE_REF_SIG, "urn": URN, "id": {"V": "db-1"}},
            {SIG_KEY: RESOURCE_REF_SIG, "urn": URN, "id": {"V": None}, "packageVersion": "1.0.0"}]
    dep = {"resources": [{"urn": URN, "outputs": {"s": secret(go_json_marshal(refs))}}]}
    out = reveal_deployment(dep, A)
    assert json.loads(out["resources"][0]["outputs"]["s"]["plaintext"]) == [
        {SIG_KEY: RESOURCE_REF_SIG, "urn": URN, "id": "db-1", "packageVersion": ""},
        {SIG_KEY: RESOURCE_REF_SIG, "urn": URN, "packageVersion": "1.0.0"},
    ]
