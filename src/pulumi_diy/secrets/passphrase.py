"""Pulumi's passphrase secrets manager (type ``passphrase``; format doc 4.2 and 4.3).

Key = PBKDF2-HMAC-SHA256(passphrase, 8-byte salt, 1,000,000 iterations, 32 bytes); values use the
``v1`` AES-GCM crypter. The state string (``encryptionsalt`` in ``Pulumi.<stack>.yaml``, ``salt`` in
the checkpoint) is ``v1:<b64 salt>:<crypter output of "pulumi">``.

A derivation costs about half a second, so keys are memoised per (passphrase, salt) for the life of
the process. This module never reads the environment: :func:`read_passphrase` receives the values.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from pulumi_diy.errors import CorruptInput, DecryptionFailed, IncorrectPassphrase, PassphraseRequired
from pulumi_diy.secrets.crypter import NONCE_BYTES, AesGcmCrypter, b64decode_std, b64encode_std

TYPE = "passphrase"
ITERATIONS = 1_000_000
SALT_BYTES = 8
VERIFIER_PLAINTEXT = "pulumi"

OLD_PASSPHRASE_HINT = (
    "files still under an older passphrase are opened with PULUMI_DIY_OLD_PASSPHRASE or "
    "PULUMI_DIY_OLD_PASSPHRASE_FILE"
)
INCORRECT_PASSPHRASE = (
    "incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct passphrase or set "
    "PULUMI_CONFIG_PASSPHRASE_FILE to a file containing the passphrase"
)

_keys: dict[tuple[bytes, bytes], bytes] = {}
_key_locks: dict[tuple[bytes, bytes], threading.Lock] = {}
_guard = threading.Lock()


def derive_key(passphrase: str, salt: bytes) -> bytes:
    """PBKDF2-HMAC-SHA256 x 1e6 -> 32-byte key, computed at most once per (passphrase, salt) per process."""
    # The cache is keyed by a digest so the dict does not hold the passphrase text itself.
    cache_key = (hashlib.sha256(passphrase.encode("utf-8", errors="surrogateescape")).digest(), bytes(salt))
    with _guard:
        key = _keys.get(cache_key)
        if key is not None:
            return key
        lock = _key_locks.setdefault(cache_key, threading.Lock())
    with lock:  # concurrent callers for the same salt wait for the first derivation
        key = _keys.get(cache_key)
        if key is None:
            # cryptography's PBKDF2 (its bundled OpenSSL) measured ~1.5x faster than hashlib's here
            from cryptography.hazmat.primitives.hashes import SHA256
            from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

            key = PBKDF2HMAC(SHA256(), 32, bytes(salt), ITERATIONS).derive(
                passphrase.encode("utf-8", errors="surrogateescape"))
            with _guard:
                _keys[cache_key] = key
    return key


def parse_state_string(state_string: str) -> tuple[bytes, str]:
    """Split ``v1:<salt>:v1:<nonce>:<ct>`` into (salt, verifier ciphertext); else :class:`CorruptInput`."""
    if not isinstance(state_string, str):
        raise CorruptInput("malformed passphrase state (encryptionsalt): not a string")
    parts = state_string.split(":", 2)
    if len(parts) != 3:
        raise CorruptInput("malformed passphrase state (encryptionsalt): expected v1:<salt>:<verifier>")
    if parts[0] != "v1":
        raise CorruptInput("malformed passphrase state (encryptionsalt): unknown state version")
    try:
        salt = b64decode_std(parts[1])
    except ValueError:
        raise CorruptInput("malformed passphrase state (encryptionsalt): salt is not valid base64") from None
    verifier = parts[2]
    # Checked here (not only by the crypter) so a corrupt file is reported as corrupt, not as a wrong
    # passphrase, and without paying for a key derivation.
    vparts = verifier.split(":")
    if len(vparts) != 3 or vparts[0] != "v1":
        raise CorruptInput("malformed passphrase state (encryptionsalt): verifier is not v1:<nonce>:<ct>")
    try:
        nonce = b64decode_std(vparts[1])
        b64decode_std(vparts[2])
    except ValueError:
        raise CorruptInput("malformed passphrase state (encryptionsalt): verifier is not base64") from None
    if len(nonce) != NONCE_BYTES:
        raise CorruptInput("malformed passphrase state (encryptionsalt): verifier nonce size is incorrect")
    return salt, verifier


class PassphraseManager:
    """A passphrase secrets manager whose passphrase has been verified against its state string."""

    type = TYPE

    def __init__(self, state_string: str, crypter: AesGcmCrypter) -> None:
        self._state_string = state_string
        self._crypter = crypter

    @classmethod
    def from_state(cls, state_string: str, passphrase: str) -> PassphraseManager:
        """Open a state string; :class:`IncorrectPassphrase` unless its verifier decrypts to "pulumi"."""
        salt, verifier = parse_state_string(state_string)
        crypter = AesGcmCrypter(derive_key(passphrase, salt))
        try:
            ok = crypter.decrypt(verifier) == VERIFIER_PLAINTEXT
        except DecryptionFailed:
            ok = False
        if not ok:
            raise IncorrectPassphrase(INCORRECT_PASSPHRASE)
        return cls(state_string, crypter)

    @classmethod
    def new(cls, passphrase: str) -> PassphraseManager:
        """A manager with a fresh random 8-byte salt (what ``pulumi stack init`` does)."""
        salt = os.urandom(SALT_BYTES)
        crypter = AesGcmCrypter(derive_key(passphrase, salt))
        state_string = f"v1:{b64encode_std(salt)}:{crypter.encrypt(VERIFIER_PLAINTEXT)}"
        return cls(state_string, crypter)

    @property
    def state_string(self) -> str:
        """The ``encryptionsalt`` value: ``v1:<salt>:v1:<nonce>:<ct>``."""
        return self._state_string

    def state(self) -> dict[str, Any]:
        """The checkpoint ``secrets_providers.state`` object."""
        return {"salt": self._state_string}

    def encrypt(self, plaintext: str) -> str:
        return self._crypter.encrypt(plaintext)

    def decrypt(self, ciphertext: str) -> str:
        return self._crypter.decrypt(ciphertext)

    def __repr__(self) -> str:
        return f"PassphraseManager(state_string={self._state_string!r})"


def read_passphrase(env_value: str | None, file_value: str | None, cwd: Path) -> str | None:
    """Resolve the passphrase like Pulumi's ``readPassphrase`` (format doc 4.3), without prompting.

    ``env_value`` is ``PULUMI_CONFIG_PASSPHRASE`` (used as-is, even when empty); otherwise a non-empty
    ``file_value`` (``PULUMI_CONFIG_PASSPHRASE_FILE``) names a file, relative to ``cwd``, whose content
    with surrounding whitespace stripped is the passphrase. ``None`` means "prompt or fail".
    """
    if env_value is not None:
        return env_value
    if file_value:
        path = Path(file_value)
        if not path.is_absolute():
            path = cwd / path
        try:
            data = path.read_bytes()
        except OSError as e:
            raise PassphraseRequired(
                f"unable to read PULUMI_CONFIG_PASSPHRASE_FILE {str(path)!r}: {e.strerror or e}"
            ) from None
        return data.decode("utf-8", errors="surrogateescape").strip()
    return None
