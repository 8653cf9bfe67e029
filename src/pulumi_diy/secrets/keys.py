"""Which key a file is encrypted under, and a key ring that opens each key once.

A :class:`KeyId` names a key without any secret: a passphrase key by its ``encryptionsalt`` state
string, a cloud key by its URL and wrapped data key. Checkpoints name theirs in
``secrets_providers``; ``Pulumi.<stack>.yaml`` in its provider fields; history ``config`` names none
(it is under the settings-file key of its time, found by trying the stack's known keys).

:class:`KeyRing` opens keys on demand with the passphrases it was given (each asked for at most
once) or the KMS, caches the managers (one PBKDF2 derivation per salt), and is safe to share
between threads.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_diy.errors import (
    CorruptInput,
    IncorrectPassphrase,
    PassphraseRequired,
    PulumiDiyError,
    UnknownSecretsProvider,
)
from pulumi_diy.secrets.managers import B64Manager, CloudManager, SecretsManager
from pulumi_diy.secrets.passphrase import OLD_PASSPHRASE_HINT, PassphraseManager, parse_state_string
from pulumi_diy.secrets.settings_file import ProviderSettings


@dataclass(frozen=True)
class KeyId:
    """A key by its public identity: ``type`` plus the state that names it (never key material)."""

    type: str  # passphrase | cloud | b64 | service | anything else found in state
    state: str = ""  # passphrase: state string; cloud: std-b64 wrapped data key; others: JSON of state
    url: str = ""  # cloud only

    @property
    def label(self) -> str:
        """A short human name: ``passphrase salt fozI5u6B030=`` or ``awskms://alias/x key 1a2b3c4d``."""
        if self.type == "passphrase":
            return f"passphrase salt {self.state.split(':')[1] if self.state.count(':') >= 2 else '?'}"
        if self.type == "cloud":
            from pulumi_diy.backend.urls import redact_url

            return f"{redact_url(self.url)} key {hashlib.sha256(self.state.encode()).hexdigest()[:8]}"
        return self.type

    def secrets_providers(self) -> dict[str, Any]:
        """The checkpoint ``secrets_providers`` object for this key (passphrase and cloud keys)."""
        if self.type == "passphrase":
            return {"type": "passphrase", "state": {"salt": self.state}}
        if self.type == "cloud":
            return {"type": "cloud", "state": {"url": self.url, "encryptedkey": self.state}}
        if self.type == "b64":
            return {"type": "b64"}
        raise UnknownSecretsProvider(f"cannot write a secrets provider of type {self.type!r}")

    def settings(self) -> ProviderSettings:
        """The ``Pulumi.<stack>.yaml`` fields for this key (format doc 4.2, 4.5)."""
        if self.type == "passphrase":
            return ProviderSettings(encryptionsalt=self.state)
        if self.type == "cloud":
            return ProviderSettings(secretsprovider=self.url, encryptedkey=self.state)
        raise UnknownSecretsProvider(
            f"a stack settings file cannot name a secrets provider of type {self.type!r}"
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "label": self.label}
        if self.type == "passphrase":
            out["salt"] = self.label.rsplit(" ", 1)[-1]
        if self.url:
            out["url"] = self.url
        return out


def key_of_secrets_providers(sp: Any, name: str = "checkpoint") -> KeyId | None:
    """The key a checkpoint's ``secrets_providers`` names; None when it names none."""
    if sp is None:
        return None
    if not isinstance(sp, Mapping):
        raise CorruptInput(f"{name}: secrets_providers is not a JSON object")
    ptype = sp.get("type")
    if ptype in (None, ""):
        return None
    if not isinstance(ptype, str):
        raise CorruptInput(f"{name}: secrets_providers.type is not a string")
    state = sp.get("state")
    if ptype == "passphrase":
        salt = state.get("salt") if isinstance(state, Mapping) else None
        if not isinstance(salt, str):
            raise CorruptInput(f"{name}: the passphrase secrets provider has no salt string")
        try:
            parse_state_string(salt)
        except CorruptInput as e:
            raise CorruptInput(f"{name}: {e}") from None
        return KeyId("passphrase", salt)
    if ptype == "cloud":
        url = state.get("url") if isinstance(state, Mapping) else None
        key = state.get("encryptedkey") if isinstance(state, Mapping) else None
        if not isinstance(url, str) or not url or not isinstance(key, str):
            raise CorruptInput(f"{name}: the cloud secrets provider needs a url and an encryptedkey")
        return KeyId("cloud", key, url)
    return KeyId(ptype, json.dumps(state, sort_keys=True))


def key_of_settings(ps: ProviderSettings, name: str = "stack settings") -> KeyId | None:
    """The key a stack settings file names; None when it names none."""
    if ps.kind == "cloud":
        if not ps.encryptedkey:
            raise CorruptInput(f"{name}: secretsprovider {ps.secretsprovider!r} has no encryptedkey")
        return KeyId("cloud", ps.encryptedkey, ps.secretsprovider)
    if ps.kind == "passphrase":
        try:
            parse_state_string(ps.encryptionsalt)
        except CorruptInput as e:
            raise CorruptInput(f"{name}: {e}") from None
        return KeyId("passphrase", ps.encryptionsalt)
    return None


def key_of_manager(manager: SecretsManager) -> KeyId:
    """The KeyId of an opened passphrase or cloud manager."""
    if isinstance(manager, PassphraseManager):
        return KeyId("passphrase", manager.state_string)
    if isinstance(manager, CloudManager):
        return KeyId("cloud", manager.encrypted_key_b64, manager.url)
    if isinstance(manager, B64Manager):
        return KeyId("b64")
    raise UnknownSecretsProvider(f"no key identity for secrets manager {manager!r}")


class _Once:
    """A value computed at most once across threads (a passphrase prompt, say)."""

    def __init__(self, fn: Callable[[], str | None]) -> None:
        self._fn = fn
        self._lock = threading.Lock()
        self._done = False
        self._value: str | None = None
        self._error: PulumiDiyError | None = None

    def get(self) -> str | None:
        with self._lock:
            if not self._done:
                try:
                    self._value = self._fn()
                except PulumiDiyError as e:
                    self._error = e
                self._done = True
        if self._error is not None:
            raise self._error
        return self._value


class KeyRing:
    """Opens keys with the given passphrases (tried in order) or the KMS; each key is opened once.

    ``passphrases`` are callables so a prompt happens only when a passphrase key is met; one that
    returns None is skipped. ``kms`` builds a key wrapper for a cloud URL.
    """

    def __init__(
        self,
        *,
        passphrases: Sequence[Callable[[], str | None]] = (),
        kms: Callable[[str], Any] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._passphrases = [_Once(p) for p in passphrases]
        if kms is None:
            from pulumi_diy.secrets.kms import key_wrapper_for_url

            environ = dict(env or {})

            def kms(url: str) -> Any:
                return key_wrapper_for_url(url, env=environ)

        self._kms = kms
        self._guard = threading.Lock()
        self._locks: dict[KeyId, threading.Lock] = {}
        self._opened: dict[KeyId, SecretsManager | PulumiDiyError] = {}

    def key_wrapper(self, url: str) -> Any:
        """The KMS key wrapper for a cloud URL (how this ring reaches the KMS)."""
        return self._kms(url)

    def add(self, kid: KeyId, manager: SecretsManager) -> None:
        """Register an already opened manager (e.g. the new key of a rotation)."""
        with self._guard:
            self._opened[kid] = manager

    def open(self, kid: KeyId) -> SecretsManager:
        """The manager for ``kid``; raises (and remembers) why it cannot be opened."""
        got = self._get(kid)
        if isinstance(got, PulumiDiyError):
            raise got
        return got

    def try_open(self, kid: KeyId) -> SecretsManager | None:
        got = self._get(kid)
        return None if isinstance(got, PulumiDiyError) else got

    def error(self, kid: KeyId) -> PulumiDiyError | None:
        got = self._get(kid)
        return got if isinstance(got, PulumiDiyError) else None

    def _get(self, kid: KeyId) -> SecretsManager | PulumiDiyError:
        with self._guard:
            if kid in self._opened:
                return self._opened[kid]
            lock = self._locks.setdefault(kid, threading.Lock())
        with lock:
            with self._guard:
                if kid in self._opened:
                    return self._opened[kid]
            try:
                got: SecretsManager | PulumiDiyError = self._open(kid)
            except PulumiDiyError as e:
                got = e
            with self._guard:
                self._opened[kid] = got
            return got

    def _open(self, kid: KeyId) -> SecretsManager:
        if kid.type == "passphrase":
            tried = 0
            unavailable: PulumiDiyError | None = None
            for candidate in self._passphrases:
                try:
                    passphrase = candidate.get()
                except PulumiDiyError as e:  # e.g. no passphrase and no terminal: try the next source
                    unavailable = unavailable or e
                    continue
                if passphrase is None:
                    continue
                tried += 1
                try:
                    return PassphraseManager.from_state(kid.state, passphrase)
                except IncorrectPassphrase:
                    continue
            if not tried:
                if unavailable is not None:
                    raise unavailable
                raise PassphraseRequired(f"a passphrase is needed for the key {kid.label}")
            raise IncorrectPassphrase(f"incorrect passphrase for the key {kid.label} ({OLD_PASSPHRASE_HINT})")
        if kid.type == "cloud":
            return CloudManager.from_state(kid.url, kid.state, self._kms(kid.url))
        if kid.type == "b64":
            return B64Manager()
        if kid.type == "service":
            raise UnknownSecretsProvider(
                "secrets provider 'service' (Pulumi Cloud): these secrets can only be decrypted by "
                "Pulumi Cloud"
            )
        raise UnknownSecretsProvider(f"no known secrets provider for type {kid.type!r}")
