"""Pulumi's own algorithms (user-needs.md section 4, format doc 2.4, 2.5, 2.9), re-enacted on bare clients.

- `stack ls`: one flat listing of `.pulumi/stacks/`, then ``PULUMI_DIY_BACKEND_PARALLEL`` (10)
  workers each resolve the current file (`stackPath`: a delimiter listing of `<base>.json*`),
  GET it, decompress and parse the whole checkpoint. Every checkpoint stays in memory until the
  list is printed (the summaries hold them).
- history: one listing of the stack's history directory, then the entries one file at a time.
- `stack export`: `stackPath`, GET, parse, pretty-print.
- locks: Pulumi has no `lock ls`; the nearest is what `Lock()` does per stack (list the stack's
  lock directory, read each file), run for every stack on 10 workers.
- secrets: Pulumi has no rotation; the nearest is `pulumi stack change-secrets-provider` run once
  per stack, one after another: derive the old key, decrypt the current checkpoint, derive a new
  key, encrypt, write `.bak` and the checkpoint. History is left alone (so it does less work).

Python parses JSON more slowly than Go, so on CPU-bound loopback storage these baselines are, if
anything, slower than the real CLI would be; the ratios are therefore reported next to the
floor, which is measured the same way.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .raw import STATE_SUFFIXES, RawClient, is_stack_file, load_json

PARALLEL = 10  # PULUMI_DIY_BACKEND_PARALLEL default
STACKS = ".pulumi/stacks"
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def _base(key: str) -> str:
    for ext in sorted(STATE_SUFFIXES, key=len, reverse=True):
        if key.endswith(ext):
            return key[: -len(ext)]
    return key


def stack_path(raw: RawClient, base: str) -> str:
    """`stackPath`: list `<base>.json*` (delimiter `/`) and pick among the three variants."""
    wanted = {base + ext for ext in STATE_SUFFIXES}
    found = sorted(o.key for o in raw.list_level(base + ".json") if o.key in wanted)
    return found[-1] if found else base + ".json"


def stack_bases(raw: RawClient) -> list[str]:
    return sorted({_base(o.key) for o in raw.walk(STACKS) if is_stack_file(o.key)})


def ls(raw: RawClient, parallel: int = PARALLEL) -> list[tuple[str, str | None, int, Any]]:
    """(stack, manifest time, resource count, the whole parsed checkpoint) for every stack."""

    def one(base: str) -> tuple[str, str | None, int, Any]:
        doc = load_json(raw.get(stack_path(raw, base)))
        latest = (doc.get("checkpoint") or {}).get("latest") or {}
        return base, (latest.get("manifest") or {}).get("time"), len(latest.get("resources") or ()), doc

    bases = stack_bases(raw)
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return list(pool.map(one, bases))


def history(raw: RawClient, history_dir: str, limit: int | None) -> list[Any]:
    names = sorted((o.key for o in raw.list_level(history_dir + "/") if ".history.json" in o.key), reverse=True)
    shown = names[:limit] if limit else names
    return [load_json(raw.get(key)) for key in shown]


def history_feed(raw: RawClient, limit: int, parallel: int = PARALLEL) -> list[Any]:
    """Pulumi has no backend-wide feed: `pulumi stack history` for every stack (list its history
    directory, read its entries one at a time), 10 stacks at a time, then the newest ``limit``."""
    def one(base: str) -> list[tuple[str, Any]]:
        project, stack = base[len(STACKS) + 1:].split("/")
        names = [o.key for o in raw.list_level(f".pulumi/history/{project}/{stack}/") if ".history.json" in o.key]
        return [(key, load_json(raw.get(key))) for key in sorted(names, reverse=True)]

    entries: list[tuple[str, Any]] = []
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for found in pool.map(one, stack_bases(raw)):
            entries.extend(found)
    entries.sort(key=lambda e: int(e[0].rsplit("-", 1)[-1].split(".", 1)[0]), reverse=True)
    return [doc for _, doc in entries[:limit]]


def export(raw: RawClient, base: str) -> bytes:
    doc = load_json(raw.get(stack_path(raw, base)))
    out = {"version": 3, "deployment": (doc.get("checkpoint") or {}).get("latest")}
    return json.dumps(out, indent=4).encode()


def locks(raw: RawClient, parallel: int = PARALLEL) -> dict[str, Any]:
    def one(base: str) -> dict[str, Any]:
        project, stack = base[len(STACKS) + 1:].split("/")
        lock_dir = f".pulumi/locks/organization/{project}/{stack}/"
        return {o.key: json.loads(raw.get(o.key)) for o in raw.list_level(lock_dir) if o.key.endswith(".json")}

    out: dict[str, Any] = {}
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for found in pool.map(one, stack_bases(raw)):
            out.update(found)
    return out


# --- secrets ------------------------------------------------------------------------------------


def _aead(key: bytes) -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _derive(passphrase: str, salt: bytes) -> bytes:
    """PBKDF2-HMAC-SHA256 x 1e6 with OpenSSL's implementation when available (Go's is about as fast)."""
    try:
        from cryptography.hazmat.primitives.hashes import SHA256
        from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
    except ImportError:
        return hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, 1_000_000, 32)
    return PBKDF2HMAC(SHA256(), 32, salt, 1_000_000).derive(passphrase.encode())


def _decrypt(aead: Any, text: str) -> str:
    _, nonce, sealed = text.split(":")
    return str(aead.decrypt(base64.b64decode(nonce), base64.b64decode(sealed), None).decode())


def _encrypt(aead: Any, plain: str) -> str:
    nonce = os.urandom(12)
    sealed = aead.encrypt(nonce, plain.encode(), None)
    return f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"


def _reencrypt(value: Any, old: Any, new: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG and isinstance(value.get("ciphertext"), str):
            return {**value, "ciphertext": _encrypt(new, _decrypt(old, value["ciphertext"]))}
        return {k: _reencrypt(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_reencrypt(v, old, new) for v in value]
    return value


def change_secrets_provider(raw: RawClient, base: str, old_passphrase: str, new_passphrase: str) -> None:
    """One `pulumi stack change-secrets-provider passphrase` on one stack (plain-JSON files only)."""
    key = stack_path(raw, base)
    data = raw.get(key)
    doc = load_json(data)
    latest = doc["checkpoint"]["latest"]
    state = latest["secrets_providers"]["state"]["salt"]
    _, salt_b64, verifier = state.split(":", 2)
    old = _aead(_derive(old_passphrase, base64.b64decode(salt_b64)))
    if _decrypt(old, verifier) != "pulumi":
        raise ValueError(f"{base}: wrong passphrase")
    salt = os.urandom(8)
    new = _aead(_derive(new_passphrase, salt))
    latest = _reencrypt(latest, old, new)
    latest["secrets_providers"] = {"type": "passphrase", "state": {
        "salt": f"v1:{base64.b64encode(salt).decode()}:{_encrypt(new, 'pulumi')}"}}
    doc["checkpoint"]["latest"] = latest
    raw.put(key + ".bak", data)
    raw.put(key, json.dumps(doc, separators=(",", ":")).encode())


def rotate_seconds(raw: RawClient, bases: Sequence[str], total: int, old_passphrase: str,
                   new_passphrase: str) -> float:
    """Time ``bases`` one after another and scale to ``total`` stacks (each costs two key derivations,
    so running all of them would take minutes and tell nothing more)."""
    start = time.perf_counter()
    for base in bases:
        change_secrets_provider(raw, base, old_passphrase, new_passphrase)
    return (time.perf_counter() - start) * total / max(len(bases), 1)
