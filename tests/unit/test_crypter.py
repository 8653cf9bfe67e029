"""The v1 AES-256-GCM crypter against an independent encoder built directly on `cryptography`."""

from __future__ import annotations

import base64
import os
import re

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from pulumi_diy.errors import DecryptionFailed
from pulumi_diy.secrets.crypter import (
    AesGcmCrypter,
    b64decode_raw_url,
    b64decode_std,
    b64encode_raw_url,
    b64encode_std,
)

KEY = bytes.fromhex("7e700703e28b164e816cb939612c938b8dcf8f8a5237d02824cea3fb656b3a8b")
V1 = re.compile(r"v1:([A-Za-z0-9+/]{16}):([A-Za-z0-9+/]*={0,2})")


def independent_encrypt(key: bytes, plaintext: str) -> str:
    """What Go's symmetricCrypter.EncryptValue produces, written without our code."""
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), None)
    return "v1:" + base64.b64encode(nonce).decode() + ":" + base64.b64encode(sealed).decode()


def independent_decrypt(key: bytes, ciphertext: str) -> str:
    version, nonce, sealed = ciphertext.split(":")
    assert version == "v1"
    return AESGCM(key).decrypt(base64.b64decode(nonce), base64.b64decode(sealed), None).decode()


def test_output_format() -> None:
    ct = AesGcmCrypter(KEY).encrypt("s3cr3t")
    m = V1.fullmatch(ct)
    assert m, ct
    assert len(base64.b64decode(m.group(1))) == 12
    assert len(base64.b64decode(m.group(2))) == len("s3cr3t") + 16  # ciphertext || 16-byte tag


def test_fresh_nonce_per_encryption() -> None:
    c = AesGcmCrypter(KEY)
    assert c.encrypt("same") != c.encrypt("same")


@pytest.mark.parametrize("plaintext", ["", "pulumi", '"quoted"', "ünïcødé ✓ 🔑", "x" * 10_000])
def test_interoperates_with_independent_encoder(plaintext: str) -> None:
    ours = AesGcmCrypter(KEY)
    assert ours.decrypt(independent_encrypt(KEY, plaintext)) == plaintext
    assert independent_decrypt(KEY, ours.encrypt(plaintext)) == plaintext


@given(st.text())
def test_roundtrip_property(plaintext: str) -> None:
    c = AesGcmCrypter(KEY)
    assert c.decrypt(c.encrypt(plaintext)) == plaintext


def test_invalid_utf8_plaintext_survives_roundtrip() -> None:
    # Go strings are bytes; a value that is not UTF-8 must come back byte-identical.
    nonce = os.urandom(12)
    raw = b"\xff\xfe ok"
    ct = f"v1:{b64encode_std(nonce)}:{b64encode_std(AESGCM(KEY).encrypt(nonce, raw, None))}"
    c = AesGcmCrypter(KEY)
    text = c.decrypt(ct)
    assert independent_decrypt_bytes(c.encrypt(text)) == raw


def independent_decrypt_bytes(ciphertext: str) -> bytes:
    _, nonce, sealed = ciphertext.split(":")
    return AESGCM(KEY).decrypt(base64.b64decode(nonce), base64.b64decode(sealed), None)


def _tamper(ct: str) -> str:
    version, nonce, sealed = ct.split(":")
    raw = bytearray(base64.b64decode(sealed))
    raw[0] ^= 1
    return f"{version}:{nonce}:{base64.b64encode(bytes(raw)).decode()}"


GOOD = independent_encrypt(KEY, "top-secret-value")


@pytest.mark.parametrize(
    ("ciphertext", "why"),
    [
        ("not-a-secret", "bad value"),
        (GOOD + ":extra", "bad value"),
        ("v2" + GOOD[2:], "unknown value version"),
        ("v1:%%%:AAAA", "invalid base64"),
        ("v1:AAAA:AAAA", "nonce size"),
        (GOOD.rstrip("="), "invalid base64"),  # Go's StdEncoding requires the padding
        (_tamper(GOOD), "authentication failed"),
    ],
)
def test_corrupt_ciphertext_is_decryption_failed(ciphertext: str, why: str) -> None:
    with pytest.raises(DecryptionFailed, match=why) as info:
        AesGcmCrypter(KEY).decrypt(ciphertext)
    assert "top-secret-value" not in str(info.value)
    assert ciphertext not in str(info.value)


def test_wrong_key_is_decryption_failed() -> None:
    with pytest.raises(DecryptionFailed) as info:
        AesGcmCrypter(bytes(32)).decrypt(GOOD)
    assert "top-secret-value" not in str(info.value)


def test_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32-byte key"):
        AesGcmCrypter(b"short")


def test_base64_helpers_follow_go_rules() -> None:
    assert b64decode_std("cHVsdW1p") == b"pulumi"
    assert b64decode_std("cHVsdW1pIQ==") == b"pulumi!"
    assert b64decode_std("cHVs\r\ndW1p") == b"pulumi"  # Go skips CR/LF
    for bad in ("cHVsdW1pIQ", "cHVs-W1p", "cHVsdW1p!", "cHVsdW1pIQ==AA=="):
        with pytest.raises(ValueError):
            b64decode_std(bad)
    data = bytes(range(250, 256)) + b"\xfb\xff"
    text = b64encode_raw_url(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64decode_raw_url(text) == data
    for bad in (text + "=", "ab+c", "abcde"):
        with pytest.raises(ValueError):
            b64decode_raw_url(bad)
