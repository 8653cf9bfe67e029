"""Pulumi's ``v1`` symmetric crypter (AES-256-GCM) and the base64 helpers it shares.

Text format (format doc 4.2): ``v1:<std-b64 12-byte nonce>:<std-b64 ciphertext||16-byte tag>``,
standard base64 with padding, no additional data. Pulumi's passphrase manager (key from PBKDF2)
and cloud manager (key = KMS-wrapped data key) both use it.

``cryptography`` is imported lazily so that importing :mod:`pulumi_diy.secrets` stays cheap.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from pulumi_diy.errors import DecryptionFailed

KEY_BYTES = 32
NONCE_BYTES = 12

_STD_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_RAW_URL_B64 = re.compile(r"[A-Za-z0-9_-]*")


def b64encode_std(data: bytes) -> str:
    """Go ``base64.StdEncoding.EncodeToString``."""
    return base64.b64encode(data).decode("ascii")


def b64decode_std(text: str) -> bytes:
    """Go ``base64.StdEncoding.DecodeString``: padding required; CR/LF ignored; else ``ValueError``."""
    cleaned = text.replace("\r", "").replace("\n", "")
    if not _STD_B64.fullmatch(cleaned) or len(cleaned) % 4:
        raise ValueError("illegal base64 data")
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError("illegal base64 data") from e


def b64encode_raw_url(data: bytes) -> str:
    """Go ``base64.RawURLEncoding.EncodeToString`` (URL-safe alphabet, no padding)."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64decode_raw_url(text: str) -> bytes:
    """Go ``base64.RawURLEncoding.DecodeString``: no padding allowed; else ``ValueError``."""
    cleaned = text.replace("\r", "").replace("\n", "")
    if not _RAW_URL_B64.fullmatch(cleaned) or len(cleaned) % 4 == 1:
        raise ValueError("illegal base64 data")
    try:
        return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError) as e:
        raise ValueError("illegal base64 data") from e


def to_text(data: bytes) -> str:
    """Bytes -> str the way Go's ``string(b)`` keeps them: invalid UTF-8 survives a round trip."""
    return data.decode("utf-8", errors="surrogateescape")


def to_bytes(text: str) -> bytes:
    """Inverse of :func:`to_text`."""
    return text.encode("utf-8", errors="surrogateescape")


class AesGcmCrypter:
    """Encrypts and decrypts Pulumi ``v1:`` secret texts with a 32-byte AES key."""

    type = "v1"

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"AES-256-GCM needs a {KEY_BYTES}-byte key, got {len(key)} bytes")
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead: Any = AESGCM(bytes(key))

    def encrypt(self, plaintext: str) -> str:
        """Encrypt ``plaintext`` (UTF-8) with a fresh random nonce."""
        import os

        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, to_bytes(plaintext), None)
        return f"v1:{b64encode_std(nonce)}:{b64encode_std(sealed)}"

    def decrypt(self, ciphertext: str) -> str:
        """Decrypt a ``v1:<nonce>:<ct>`` text; any failure is :class:`DecryptionFailed`."""
        from cryptography.exceptions import InvalidTag

        parts = ciphertext.split(":")
        if len(parts) != 3:
            raise DecryptionFailed("cannot decrypt secret: bad value (expected v1:<nonce>:<ciphertext>)")
        if parts[0] != "v1":
            raise DecryptionFailed("cannot decrypt secret: unknown value version (expected v1)")
        try:
            nonce = b64decode_std(parts[1])
            sealed = b64decode_std(parts[2])
        except ValueError:
            raise DecryptionFailed("cannot decrypt secret: bad value (invalid base64)") from None
        if len(nonce) != NONCE_BYTES:
            raise DecryptionFailed("cannot decrypt secret: bad value (nonce size is incorrect)")
        try:
            plain = self._aead.decrypt(nonce, sealed, None)
        except (InvalidTag, ValueError):
            raise DecryptionFailed(
                "cannot decrypt secret: message authentication failed (wrong key or corrupt ciphertext)"
            ) from None
        return to_text(plain)
