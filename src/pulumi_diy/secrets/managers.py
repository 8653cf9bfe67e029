"""Secrets managers found in Pulumi state and the dispatcher over ``secrets_providers`` (doc 4.5, 4.6).

A manager turns secret plaintext text into ciphertext text and back. Types:
``passphrase`` (:mod:`.passphrase`), ``cloud`` (:class:`CloudManager`: a KMS-wrapped 32-byte data
key + the ``v1`` crypter), ``b64`` (tests only: base64 of the text) and ``service`` (Pulumi Cloud;
cannot be decrypted here).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from pulumi_diy.errors import (
    CorruptInput,
    DecryptionFailed,
    IncorrectPassphrase,
    SecretsError,
    UnknownSecretsProvider,
)
from pulumi_diy.secrets.crypter import (
    KEY_BYTES,
    AesGcmCrypter,
    b64decode_raw_url,
    b64decode_std,
    b64encode_raw_url,
    b64encode_std,
    to_bytes,
    to_text,
)
from pulumi_diy.secrets.kms import KeyWrapper, key_wrapper_for_url
from pulumi_diy.secrets.passphrase import PassphraseManager, parse_state_string


class SecretsManager(Protocol):
    """What every manager offers: its ``secrets_providers.type``, encrypt, decrypt and its state object."""

    type: str

    def encrypt(self, plaintext: str) -> str: ...

    def decrypt(self, ciphertext: str) -> str: ...

    def state(self) -> dict[str, Any] | None: ...


class B64Manager:
    """Pulumi's test-only ``b64`` manager: "ciphertext" is std base64 of the UTF-8 text; no state."""

    type = "b64"

    def encrypt(self, plaintext: str) -> str:
        return b64encode_std(to_bytes(plaintext))

    def decrypt(self, ciphertext: str) -> str:
        try:
            return to_text(b64decode_std(ciphertext))
        except ValueError:
            raise DecryptionFailed("cannot decrypt secret: b64 ciphertext is not valid base64") from None

    def state(self) -> dict[str, Any] | None:
        return None


def _is_azure(url: str) -> bool:
    return url.startswith("azurekeyvault://")


class CloudManager:
    """Pulumi's ``cloud`` manager: values use the ``v1`` crypter keyed by a KMS-wrapped data key.

    ``encrypted_key_b64`` is what Pulumi stores (``encryptedkey`` in the stack settings and in the
    checkpoint state): std base64 of the wrapped bytes, where for ``azurekeyvault://`` the wrapped
    bytes are first turned into unpadded URL-safe base64 text (emulating gocloud < 0.28).
    """

    type = "cloud"

    def __init__(self, url: str, stored_key: bytes, data_key: bytes) -> None:
        self._url = url
        self._stored_key = stored_key
        self._crypter = AesGcmCrypter(data_key)

    @classmethod
    def from_state(cls, url: str, encrypted_key_b64: str, kms: KeyWrapper) -> CloudManager:
        """Unwrap the stored data key with ``kms``.

        An Azure key stored without the URL-safe base64 layer (pulumi/pulumi#15329) is accepted and,
        as Pulumi does, reported back in the corrected form by :meth:`state`.
        """
        try:
            stored = b64decode_std(encrypted_key_b64)
        except (ValueError, TypeError):
            raise CorruptInput(f"encryptedkey of secrets provider {url!r} is not valid base64") from None
        if not stored:
            raise CorruptInput(f"encryptedkey of secrets provider {url!r} is empty")
        wrapped = stored
        if _is_azure(url):
            try:
                wrapped = b64decode_raw_url(stored.decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                # #15329: raw wrapped bytes were stored; re-add the layer Pulumi expects.
                wrapped = stored
                stored = b64encode_raw_url(stored).encode("ascii")
        data_key = kms.unwrap(wrapped)
        if len(data_key) != KEY_BYTES:
            raise DecryptionFailed(
                f"data key of secrets provider {url!r} unwrapped to {len(data_key)} bytes, not {KEY_BYTES}"
            )
        return cls(url, stored, data_key)

    @classmethod
    def new(cls, url: str, kms: KeyWrapper) -> CloudManager:
        """A fresh random 32-byte data key wrapped by ``kms``."""
        data_key = os.urandom(KEY_BYTES)
        stored = kms.wrap(data_key)
        if _is_azure(url):
            stored = b64encode_raw_url(stored).encode("ascii")
        return cls(url, stored, data_key)

    @property
    def url(self) -> str:
        return self._url

    @property
    def encrypted_key_b64(self) -> str:
        return b64encode_std(self._stored_key)

    def state(self) -> dict[str, Any]:
        return {"url": self._url, "encryptedkey": self.encrypted_key_b64}

    def encrypt(self, plaintext: str) -> str:
        return self._crypter.encrypt(plaintext)

    def decrypt(self, ciphertext: str) -> str:
        return self._crypter.decrypt(ciphertext)

    def __repr__(self) -> str:
        return f"CloudManager(url={self._url!r})"


class NoSecretsManager:
    """Stands in for an absent ``secrets_providers``: fine until something needs encrypting or decrypting."""

    type = ""

    def encrypt(self, plaintext: str) -> str:
        raise SecretsError("cannot encrypt: the deployment has no secrets provider (no secrets_providers)")

    def decrypt(self, ciphertext: str) -> str:
        raise SecretsError(
            "cannot decrypt: the deployment has ciphertexts but no secrets provider (no secrets_providers)"
        )

    def state(self) -> dict[str, Any] | None:
        return None


class LazyManager:
    """Opens the real manager on first encrypt/decrypt, so the passphrase or KMS is asked only when needed.

    :meth:`state` returns the state object exactly as found, so it round-trips untouched.
    """

    def __init__(self, ptype: str, state: dict[str, Any] | None,
                 opener: Callable[[], SecretsManager]) -> None:
        self.type = ptype
        self._state = state
        self._open = opener
        self._manager: SecretsManager | None = None
        self._lock = threading.Lock()

    def resolve(self) -> SecretsManager:
        """The opened manager (raises what opening raises, e.g. :class:`IncorrectPassphrase`)."""
        with self._lock:
            if self._manager is None:
                self._manager = self._open()
            return self._manager

    def state(self) -> dict[str, Any] | None:
        return self._state

    def encrypt(self, plaintext: str) -> str:
        return self.resolve().encrypt(plaintext)

    def decrypt(self, ciphertext: str) -> str:
        return self.resolve().decrypt(ciphertext)

    def __repr__(self) -> str:
        return f"LazyManager(type={self.type!r})"


def manager_from_secrets_providers(
    sp: dict[str, Any] | None,
    *,
    passphrase: Callable[[], str],
    kms_factory: Callable[[str], KeyWrapper] | None = None,
    env: Mapping[str, str] | None = None,
    more_passphrases: Sequence[Callable[[], str | None]] = (),
) -> SecretsManager:
    """The manager for a deployment's ``secrets_providers`` object (``{"type": ..., "state": ...}``).

    Nothing expensive happens here: ``passphrase()`` is called, and the KMS contacted, on the first
    encrypt/decrypt. ``kms_factory`` defaults to :func:`~.kms.key_wrapper_for_url` with ``env``.
    When ``passphrase()`` is not the one of the salt, each of ``more_passphrases`` (None: skipped) is
    tried in turn; if none fits, the first passphrase's error is raised.
    """
    if sp is None:
        return NoSecretsManager()
    if not isinstance(sp, dict):
        raise CorruptInput("secrets_providers is not a JSON object")
    ptype = sp.get("type")
    if ptype is None or ptype == "":
        return NoSecretsManager()
    if not isinstance(ptype, str):
        raise CorruptInput("secrets_providers.type is not a string")
    state = sp.get("state")
    if ptype == "passphrase":
        if not isinstance(state, dict) or not isinstance(state.get("salt"), str):
            raise CorruptInput("secrets_providers.state of the passphrase provider has no salt string")
        salt: str = state["salt"]
        parse_state_string(salt)  # report corruption now, not at first decrypt
        return LazyManager(ptype, state, lambda: _open_passphrase(salt, passphrase, more_passphrases))
    if ptype == "b64":
        return B64Manager()
    if ptype == "cloud":
        if not isinstance(state, dict) or not isinstance(state.get("url"), str) or not state["url"]:
            raise CorruptInput("secrets_providers.state of the cloud provider has no url")
        url: str = state["url"]
        key = state.get("encryptedkey")
        if not isinstance(key, str):
            raise CorruptInput(f"secrets_providers.state of the cloud provider {url!r} has no encryptedkey")
        factory = kms_factory or (lambda u: key_wrapper_for_url(u, env=env or {}))
        return LazyManager(ptype, state, lambda: CloudManager.from_state(url, key, factory(url)))
    if ptype == "service":
        raise UnknownSecretsProvider(
            "this deployment uses the Pulumi Cloud secrets provider: "
            "Pulumi Cloud ('service') secrets cannot be decrypted outside Pulumi Cloud"
        )
    raise UnknownSecretsProvider(f"no known secrets provider for type {ptype!r}")


def _open_passphrase(salt: str, passphrase: Callable[[], str],
                     more: Sequence[Callable[[], str | None]]) -> PassphraseManager:
    try:
        return PassphraseManager.from_state(salt, passphrase())
    except IncorrectPassphrase:
        for other in more:
            candidate = other()
            if candidate is None:
                continue
            try:
                return PassphraseManager.from_state(salt, candidate)
            except IncorrectPassphrase:
                continue
        raise
