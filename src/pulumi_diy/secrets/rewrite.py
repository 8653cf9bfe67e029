"""Re-encrypt one file from its old key to a new one, keeping everything else as it was.

* checkpoints (current, ``.bak``, history checkpoints, backups): every ciphertext replaced, the
  ``secrets_providers`` object set to the new key, written back with the file's own JSON style,
  HTML escaping and compression (:func:`~pulumi_diy.state.encode_checkpoint`);
* history entries: only the ``secure`` ciphertexts of ``config`` change; the rest of the text is
  kept byte for byte (then recompressed like the file was);
* ``Pulumi.<stack>.yaml``: secure values and provider fields, comments and order kept.

The plaintext of a secret exists only between one decrypt and the next encrypt.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from pulumi_diy.errors import CorruptInput, DecryptionFailed
from pulumi_diy.secrets.keys import KeyId
from pulumi_diy.secrets.managers import SecretsManager
from pulumi_diy.secrets.scan import ParsedFile
from pulumi_diy.secrets.values import is_secure_config, iter_secrets


def _convert(ciphertext: str, old: SecretsManager, new: SecretsManager, name: str, where: str) -> str:
    try:
        return new.encrypt(old.decrypt(ciphertext))
    except DecryptionFailed as e:
        raise DecryptionFailed(f"{name}: cannot decrypt {where}: {e}") from None


def rewrite_checkpoint(
    pf: ParsedFile, old: SecretsManager | None, new: SecretsManager, new_key: KeyId
) -> bytes:
    """The checkpoint's bytes with every secret under ``new`` and ``secrets_providers`` naming ``new_key``."""
    from pulumi_diy.state import encode_checkpoint

    cp = pf.checkpoint
    if cp is None or cp.latest is None:
        raise CorruptInput(f"{pf.name}: no deployment to re-encrypt")
    latest = cp.latest
    holder = cp.doc.get("checkpoint") if cp.version else cp.doc
    if not isinstance(holder, dict) or holder.get("latest") is not latest:
        # versions 0-2 (migrated copies) hold no secrets; odd key casing would make edits invisible
        raise CorruptInput(f"{pf.name}: this checkpoint's layout cannot be rewritten safely")
    for loc, secret in iter_secrets(latest):
        ciphertext = secret.get("ciphertext")
        if isinstance(ciphertext, str):
            if old is None:
                raise DecryptionFailed(f"{pf.name}: a secret at {loc} has no secrets provider to decrypt it")
            secret["ciphertext"] = _convert(ciphertext, old, new, pf.name, str(loc))
    if "secrets_providers" not in latest:
        raise CorruptInput(f"{pf.name}: the deployment has no secrets_providers to replace")
    latest["secrets_providers"] = new_key.secrets_providers()
    return encode_checkpoint(cp)


def _substituted(value: Any, mapping: dict[str, str]) -> Any:
    if is_secure_config(value):
        return {"secure": mapping.get(value["secure"], value["secure"])}
    if isinstance(value, dict):
        return {k: _substituted(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_substituted(v, mapping) for v in value]
    return value


def rewrite_history(pf: ParsedFile, old: SecretsManager, new: SecretsManager) -> bytes:
    """The history entry's bytes with every secure ``config`` value under ``new``; nothing else changes."""
    from pulumi_diy.state import compress, detect_compression, loads

    mapping: dict[str, str] = {}
    for where, ciphertext in pf.secrets:
        if ciphertext not in mapping:
            mapping[ciphertext] = _convert(ciphertext, old, new, pf.name, f"config {where}")
    text = pf.text
    for before, after in mapping.items():
        needle = json.dumps(before).encode()
        if needle not in text:
            raise CorruptInput(f"{pf.name}: a secure config value is not stored verbatim; cannot rewrite it")
        text = text.replace(needle, json.dumps(after).encode())
    # The substitution must have touched exactly the config ciphertexts.
    expected = copy.copy(pf.history)
    expected["config"] = _substituted(pf.history.get("config"), mapping)
    if loads(text, pf.name) != expected:
        raise CorruptInput(f"{pf.name}: a ciphertext also appears outside `config`; cannot rewrite it safely")
    return compress(text, detect_compression(pf.raw))


def rewrite_settings(pf: ParsedFile, old: SecretsManager | None, new: SecretsManager, new_key: KeyId) -> str:
    """The settings file's new text: secure values under ``new``, provider fields naming ``new_key``."""
    sf = pf.settings
    if sf is None:
        raise CorruptInput(f"{pf.name}: not a stack settings file")

    def convert(path: str, ciphertext: str) -> str:
        if old is None:
            raise DecryptionFailed(
                f"{pf.name}: config {path} is secure but the file names no secrets provider"
            )
        return _convert(ciphertext, old, new, pf.name, f"config {path}")

    sf.reencrypt(convert)
    sf.set_provider(new_key.settings())
    return sf.dump()
