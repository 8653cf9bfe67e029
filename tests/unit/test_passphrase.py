"""Passphrase manager against the upstream vectors (PBKDF2 x 1e6 is slow: each salt is derived once)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_diy.errors import CorruptInput, IncorrectPassphrase, PassphraseRequired
from pulumi_diy.secrets import (
    PassphraseManager,
    decrypt_config_value,
    derive_key,
    iter_config_secrets,
    manager_from_secrets_providers,
    read_passphrase,
)
from pulumi_diy.secrets.passphrase import parse_state_string

VECTOR_IDS = [
    "passphrase-manager-test",
    "diy-backend-test-abc123",
    "diy-backend-test-123abc",
    "roundtrip-config",
    "smoke-default-test-passphrase",
]


@pytest.fixture(scope="module")
def vectors(upstream: Path) -> dict[str, dict[str, Any]]:
    data = json.loads((upstream / "passphrase-vectors.json").read_text())
    return {v["id"]: v for v in data["passphrase_vectors"]}


@pytest.mark.parametrize("vector_id", VECTOR_IDS)
def test_vector_key_derivation_and_verifier(vectors: dict[str, dict[str, Any]], vector_id: str) -> None:
    v = vectors[vector_id]
    salt = base64.b64decode(v["salt_bytes_b64"])
    assert len(salt) == 8
    assert derive_key(v["passphrase"], salt).hex() == v["derived_key_hex"]
    mgr = PassphraseManager.from_state(v["encryptionsalt"], v["passphrase"])
    assert mgr.type == "passphrase"
    assert mgr.state_string == v["encryptionsalt"]
    assert mgr.state() == {"salt": v["encryptionsalt"]}
    assert mgr.decrypt(v["verifier_ciphertext"]) == v["verifier_plaintext"] == "pulumi"


def test_wrong_passphrase_is_incorrect_passphrase(vectors: dict[str, dict[str, Any]]) -> None:
    v = vectors["passphrase-manager-test"]
    with pytest.raises(IncorrectPassphrase, match=r"^incorrect passphrase") as info:
        PassphraseManager.from_state(v["encryptionsalt"], "password123")
    assert "password" not in str(info.value).replace("PULUMI_CONFIG_PASSPHRASE", "")


def test_roundtrip_config_secure_value(vectors: dict[str, dict[str, Any]], upstream: Path) -> None:
    v = vectors["roundtrip-config"]
    settings = yaml.safe_load((upstream / "pulumi/extracted/roundtrip-Pulumi.test.input.yaml").read_text())
    assert settings["encryptionsalt"] == v["encryptionsalt"]
    secrets = list(iter_config_secrets(settings["config"]))
    assert secrets == [("foo:d", v["secure_config"][0]["ciphertext"])]
    mgr = PassphraseManager.from_state(settings["encryptionsalt"], v["passphrase"])
    # Config secrets are the raw string, not JSON text: no quotes.
    assert decrypt_config_value(secrets[0][1], mgr, key="foo:d") == "secret-value"


def test_expected_roundtrip_file_keeps_the_same_secret(upstream: Path) -> None:
    before = yaml.safe_load((upstream / "pulumi/extracted/roundtrip-Pulumi.test.input.yaml").read_text())
    after = yaml.safe_load((upstream / "pulumi/extracted/roundtrip-Pulumi.test.expected.yaml").read_text())
    assert dict(iter_config_secrets(after["config"])) == dict(iter_config_secrets(before["config"]))


def test_keys_are_memoised(vectors: dict[str, dict[str, Any]]) -> None:
    v = vectors["diy-backend-test-abc123"]
    salt = base64.b64decode(v["salt_bytes_b64"])
    first = derive_key(v["passphrase"], salt)
    start = time.perf_counter()
    again = derive_key(v["passphrase"], salt)
    assert again is first
    assert time.perf_counter() - start < 0.05


def test_new_manager_roundtrip() -> None:
    mgr = PassphraseManager.new("correct horse battery staple")
    salt, verifier = parse_state_string(mgr.state_string)
    assert len(salt) == 8 and verifier.startswith("v1:")
    reopened = PassphraseManager.from_state(mgr.state_string, "correct horse battery staple")
    assert reopened.decrypt(mgr.encrypt("hello")) == "hello"
    assert mgr.decrypt(reopened.encrypt("")) == ""


@pytest.mark.parametrize(
    "state",
    [
        "",
        "v1:fozI5u6B030=",
        "v2:fozI5u6B030=:v1:F+6ZduKKd8G0/V7L:PGMFeIzwobWRKmEAzUdaQHqC5mMRIQ==",
        "v1:not base64!:v1:F+6ZduKKd8G0/V7L:PGMFeIzwobWRKmEAzUdaQHqC5mMRIQ==",
        "v1:fozI5u6B030=:garbage",
        "v1:fozI5u6B030=:v1:AAAA:PGMFeIzwobWRKmEAzUdaQHqC5mMRIQ==",
        "v1:fozI5u6B030=:v1:F+6ZduKKd8G0/V7L:PGMF!",
    ],
)
def test_malformed_state_is_corrupt_input_without_kdf(state: str) -> None:
    start = time.perf_counter()
    with pytest.raises(CorruptInput, match="malformed passphrase state"):
        PassphraseManager.from_state(state, "password")
    assert time.perf_counter() - start < 0.2  # refused before any key derivation


def test_dispatch_asks_for_the_passphrase_only_when_needed(vectors: dict[str, dict[str, Any]]) -> None:
    v = vectors["passphrase-manager-test"]
    calls: list[int] = []

    def passphrase() -> str:
        calls.append(1)
        return v["passphrase"]

    sp = {"type": "passphrase", "state": {"salt": v["encryptionsalt"]}}
    mgr = manager_from_secrets_providers(sp, passphrase=passphrase)
    assert mgr.type == "passphrase" and calls == []
    assert mgr.state() == {"salt": v["encryptionsalt"]}
    assert mgr.decrypt(v["verifier_ciphertext"]) == "pulumi"
    assert mgr.decrypt(mgr.encrypt("x")) == "x"
    assert calls == [1]


def test_dispatch_wrong_passphrase_fails_on_use(vectors: dict[str, dict[str, Any]]) -> None:
    v = vectors["passphrase-manager-test"]
    sp = {"type": "passphrase", "state": {"salt": v["encryptionsalt"]}}
    mgr = manager_from_secrets_providers(sp, passphrase=lambda: "password123")
    with pytest.raises(IncorrectPassphrase):
        mgr.decrypt(v["verifier_ciphertext"])


def test_dispatch_rejects_corrupt_passphrase_state() -> None:
    for state in (None, {}, {"salt": 7}, {"salt": "v1:x"}):
        with pytest.raises(CorruptInput):
            manager_from_secrets_providers({"type": "passphrase", "state": state}, passphrase=lambda: "p")


def test_read_passphrase_precedence(tmp_path: Path) -> None:
    (tmp_path / "pp.txt").write_text("  from-file \n")
    assert read_passphrase("", "pp.txt", tmp_path) == ""  # set-but-empty env wins, used as-is
    assert read_passphrase(" spaced ", "pp.txt", tmp_path) == " spaced "
    assert read_passphrase(None, "pp.txt", tmp_path) == "from-file"  # relative to cwd, stripped
    assert read_passphrase(None, str(tmp_path / "pp.txt"), Path("/")) == "from-file"
    assert read_passphrase(None, "", tmp_path) is None
    assert read_passphrase(None, None, tmp_path) is None
    with pytest.raises(PassphraseRequired, match="PULUMI_CONFIG_PASSPHRASE_FILE"):
        read_passphrase(None, "missing.txt", tmp_path)
