"""Find every file of a stack that can hold secrets, and what each one holds (no decryption here).

A stack's files: the current checkpoint, its ``.bak``, other compression variants and retained
copies (``<stack>.json[.gz|.zst][.bak|.<nanos>]``), history checkpoints and history entries
(``config``), and backups. ``secrets ls`` is here too: where a stack's secrets are, never values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pulumi_diy.errors import CorruptInput, DecryptionFailed, ObjectNotFound, StackNotFound
from pulumi_diy.secrets.keys import KeyId, KeyRing, key_of_secrets_providers, key_of_settings
from pulumi_diy.secrets.settings_file import SettingsFile, find_settings_file
from pulumi_diy.secrets.values import SecretLocation, iter_config_secrets, iter_secrets

if TYPE_CHECKING:
    from pulumi_diy.backend.backend import Backend
    from pulumi_diy.backend.layout import StackRef
    from pulumi_diy.secrets.managers import SecretsManager
    from pulumi_diy.state import Checkpoint

# Kinds, in the order a rotation rewrites them: the current checkpoint goes last, so until then the
# stack reads (and is written by Pulumi) under its old key, and the settings file right after it.
KIND_ORDER = ("history-checkpoint", "history", "backup", "retained", "variant", "bak", "current", "settings")


@dataclass(frozen=True)
class StackFile:
    """One file of a stack: a backend key (or, for ``settings``, a local path) and its kind."""

    key: str
    kind: str
    fingerprint: str | None = None  # from the listing, when the storage gives an etag

    @property
    def is_checkpoint(self) -> bool:
        return self.kind not in ("history", "settings")


def list_stack_files(backend: Backend, ref: StackRef) -> list[StackFile]:
    """Every backend file of ``ref`` that may hold secrets, in rewrite order (current last).

    Raises :class:`StackNotFound` when the stack has no checkpoint.
    """
    from pulumi_diy.backend.layout import parse_backup_name, parse_history_name, select_current

    layout, store = backend.layout, backend.store
    base = layout.stack_base(ref)
    directory, _, fname = base.rpartition("/")
    own = re.compile(re.escape(fname) + r"\.json(\.gz|\.zst)?(\.bak|\.\d+)?")
    mine = [o for o in store.list(directory, recursive=False) if own.fullmatch(o.key.rpartition("/")[2])]
    current = select_current(
        [o for o in mine if o.key in {base + e for e in (".json", ".json.gz", ".json.zst")}]
    )
    if current is None:
        raise StackNotFound(f"no stack named {ref} in {backend.url.redacted}")
    files: list[StackFile] = []
    for o in store.list(layout.history_dir(ref), recursive=False):
        h = parse_history_name(o.key.rpartition("/")[2])
        if h is not None and h.stack == ref.name:
            kind = "history-checkpoint" if h.kind == "checkpoint" else "history"
            files.append(StackFile(o.key, kind, _fingerprint(o)))
    for o in store.list(layout.backups_dir(ref), recursive=False):
        b = parse_backup_name(o.key.rpartition("/")[2])
        if b is not None and b[0] == ref.name:
            files.append(StackFile(o.key, "backup", _fingerprint(o)))
    for o in mine:
        suffix = own.fullmatch(o.key.rpartition("/")[2])
        assert suffix is not None
        tail = suffix.group(2) or ""
        kind = (
            "current"
            if o.key == current.key
            else "bak"
            if tail == ".bak"
            else "retained"
            if tail
            else "variant"
        )
        files.append(StackFile(o.key, kind, _fingerprint(o)))
    files.sort(key=lambda f: (KIND_ORDER.index(f.kind), f.key))
    return files


def _fingerprint(o: Any) -> str | None:
    return o.fingerprint if o.etag else None


@dataclass
class ParsedFile:
    """A stack file's content as far as secrets go. ``secrets`` are (where, ciphertext) pairs."""

    file: StackFile
    name: str
    raw: bytes = b""
    checkpoint: Checkpoint | None = None
    history: Any = None  # the parsed history document
    text: bytes = b""  # decompressed history text
    settings: SettingsFile | None = None
    key: KeyId | None = None  # the key the file names (checkpoints, settings); None for history
    secrets: list[tuple[str, str]] = field(default_factory=list)
    plaintext_secrets: int = 0  # state secrets stored unencrypted (hand-made imports)

    @property
    def state_secrets(self) -> bool:
        """Whether the ciphertexts protect JSON text (state) rather than raw strings (config)."""
        return self.file.is_checkpoint


def parse_stack_file(backend: Backend, f: StackFile, data: bytes) -> ParsedFile:
    """Parse one backend file (raises CheckpointCorrupt / CorruptInput / Unsupported* naming it)."""
    name = backend.store.describe(f.key)
    out = ParsedFile(f, name, raw=data)
    if f.kind == "history":
        from pulumi_diy.state import decompress, loads

        out.text = decompress(data, name)
        out.history = loads(out.text, name)
        if not isinstance(out.history, dict):
            raise CorruptInput(f"{name}: history entry is not a JSON object")
        try:
            out.secrets = list(iter_config_secrets(out.history.get("config")))
        except CorruptInput as e:
            raise CorruptInput(f"{name}: {e}") from None
        return out
    from pulumi_diy.state import parse_checkpoint

    cp = parse_checkpoint(data, name)
    out.checkpoint = cp
    if cp.latest is None:
        return out
    out.key = key_of_secrets_providers(cp.latest.get("secrets_providers"), name)
    for loc, secret in iter_secrets(cp.latest):
        ct, pt = secret.get("ciphertext"), secret.get("plaintext")
        if isinstance(ct, str) and ct and not isinstance(pt, str):
            out.secrets.append((str(loc), ct))
        elif isinstance(pt, str) and not isinstance(ct, str):
            out.plaintext_secrets += 1
        else:
            raise CorruptInput(
                f"{name}: malformed secret value at {loc}: exactly one of `ciphertext` or "
                "`plaintext` must be set"
            )
    return out


def parse_settings_file(path: Path) -> ParsedFile:
    sf = SettingsFile.read(path)
    out = ParsedFile(StackFile(str(path), "settings"), str(path), settings=sf)
    out.key = key_of_settings(sf.provider, str(path))
    out.secrets = sf.secure_values()
    return out


def check_decrypts(pf: ParsedFile, manager: SecretsManager) -> None:
    """Decrypt every secret of ``pf`` (state secrets must hold JSON); the plaintexts are dropped."""
    import json

    for where, ciphertext in pf.secrets:
        try:
            text = manager.decrypt(ciphertext)
        except DecryptionFailed as e:
            raise DecryptionFailed(f"{pf.name}: cannot decrypt {where}: {e}") from None
        if pf.state_secrets:
            try:
                json.loads(text)
            except ValueError:
                raise CorruptInput(f"{pf.name}: the secret at {where} does not hold JSON") from None


def find_key(
    pf: ParsedFile, candidates: Sequence[KeyId], ring: KeyRing
) -> tuple[KeyId, SecretsManager] | None:
    """The first candidate key that opens and decrypts ``pf``'s first secret (history ``config``)."""
    if not pf.secrets:
        return None
    probe = pf.secrets[0][1]
    seen: set[KeyId] = set()
    for kid in candidates:
        if kid in seen:
            continue
        seen.add(kid)
        manager = ring.try_open(kid)
        if manager is None:
            continue
        try:
            manager.decrypt(probe)
        except DecryptionFailed:
            continue
        return kid, manager
    return None


def history_candidates(
    pf: ParsedFile, others: Sequence[ParsedFile], extra: Sequence[KeyId] = ()
) -> list[KeyId]:
    """Keys to try on a history entry: its paired checkpoint's, then ``extra``, then every other key seen."""
    from pulumi_diy.backend.layout import parse_history_name

    out: list[KeyId] = []
    me = parse_history_name(pf.file.key.rpartition("/")[2])
    for o in others:
        h = parse_history_name(o.file.key.rpartition("/")[2]) if o.file.kind == "history-checkpoint" else None
        if me and h and h.nanos == me.nanos and o.key is not None:
            out.append(o.key)
    out.extend(extra)
    out.extend(o.key for o in others if o.key is not None)
    return out


def settings_path(config_dir: Path | None, ref: StackRef) -> Path | None:
    return find_settings_file(config_dir, ref.project, ref.name) if config_dir is not None else None


# --- secrets ls ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretsListing:
    """Where a stack's secrets are: state secrets by URN and property path, config secrets by key."""

    stack: str
    checkpoint: str
    key: KeyId | None
    locations: tuple[SecretLocation, ...]
    plaintext_secrets: int
    settings_file: str | None
    settings_key: KeyId | None
    config_keys: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "checkpoint": self.checkpoint,
            "secretsProvider": self.key.to_dict() if self.key else None,
            "secrets": [{"urn": loc.urn, "section": loc.section, "path": loc.path} for loc in self.locations],
            "plaintextSecrets": self.plaintext_secrets,
            "settingsFile": self.settings_file,
            "settingsProvider": self.settings_key.to_dict() if self.settings_key else None,
            "config": list(self.config_keys),
        }


def list_secrets(backend: Backend, ref: StackRef, *, config_dir: Path | None = None) -> SecretsListing:
    """Where ``ref``'s secrets are in its current checkpoint (and its settings file); no passphrase needed."""
    obj = backend.current_object(ref)
    try:
        data = backend.store.read(obj.key)
    except ObjectNotFound:
        raise StackNotFound(f"no stack named {ref} in {backend.url.redacted}") from None
    pf = parse_stack_file(backend, StackFile(obj.key, "current"), data)
    locations = tuple(loc for loc, _ in iter_secrets(pf.checkpoint.latest or {})) if pf.checkpoint else ()
    path = settings_path(config_dir, ref)
    settings = parse_settings_file(path) if path else None
    return SecretsListing(
        str(ref),
        obj.key,
        pf.key,
        locations,
        pf.plaintext_secrets,
        str(path) if path else None,
        settings.key if settings else None,
        tuple(where for where, _ in settings.secrets) if settings else (),
    )
