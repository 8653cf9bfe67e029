"""Secret values inside deployments and stack config (format doc 3.5, 4.1, 4.4, 4.8).

A state secret is ``{"4dab...": "1b47...", "ciphertext": <manager output>}`` (or ``"plaintext"``
in ``--show-secrets`` exports and hand-made imports). The protected text is the Go ``json.Marshal``
text of the serialized value; secrets nested inside it use the no-op encrypter, i.e.
``{"4dab...": "1b47...", "ciphertext": "<inner JSON text>"}``. Config secrets (``{secure: v1:...}``)
encrypt the raw string instead. Nothing here prints or logs a plaintext; errors name URN and path.
"""

from __future__ import annotations

import copy
import json
import math
import re
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_diy.errors import CorruptInput, DecryptionFailed
from pulumi_diy.secrets.managers import SecretsManager
from pulumi_diy.state.gojson import format_go_float

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
RESOURCE_REFERENCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_VALUE_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
BYTE_STRING_SIG = "803fd3297a5875dc03ca845dda5d2a98"
FLOAT_SIG = "8ad145fe-0d11-4827-bfd7-1abcbf086f5c"
COMPUTED_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

MASK = "[secret]"

# Property-valued fields of a resource (format doc 3.4), in the order they are visited.
_PROPERTY_FIELDS = ("inputs", "outputs", "replacementTrigger")


def is_secret(v: Any) -> bool:
    """True for a state secret object (signature key mapped to the secret signature)."""
    return isinstance(v, Mapping) and v.get(SIG_KEY) == SECRET_SIG


def _needs_quote(c: str) -> bool:
    return not (("A" <= c <= "Z") or ("a" <= c <= "z") or ("0" <= c <= "9") or c == "_")


def format_property_path(elements: Sequence[str | int], *, continuation: bool = False) -> str:
    """Pulumi's ``PropertyPath.String()``: ``a.b``, ``a[0].c``, ``a["key.with.dots"]``.

    ``continuation`` formats the path as a suffix (a leading key gets its dot). Unlike Go, an empty
    key is written ``[""]`` so the path stays parseable.
    """
    out: list[str] = []
    for i, el in enumerate(elements):
        if isinstance(el, int):
            out.append(f"[{el}]")
        elif el == "" or any(_needs_quote(c) for c in el):
            out.append('["' + el.replace('"', '\\"') + '"]')
        else:
            out.append(el if i == 0 and not continuation else "." + el)
    return "".join(out)


@dataclass(frozen=True)
class SecretLocation:
    """Where a secret sits: resource URN, section (``inputs``, ``pending:outputs`` ...) and property path."""

    urn: str
    section: str
    path: str

    def __str__(self) -> str:
        where = f"{self.section}.{self.path}" if self.path else self.section
        return f"{self.urn} {where}"


def _walk(value: Any, path: list[str | int]) -> Iterator[tuple[list[str | int], dict[str, Any]]]:
    if isinstance(value, dict):
        if is_secret(value):
            yield path, value
            return  # secrets inside a secret are part of its (encrypted) text
        for k, v in value.items():
            yield from _walk(v, [*path, k])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, [*path, i])


def _resources(deployment: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for res in deployment.get("resources") or ():
        if isinstance(res, dict):
            yield "", res
    for op in deployment.get("pending_operations") or ():
        if isinstance(op, dict) and isinstance(op.get("resource"), dict):
            yield "pending:", op["resource"]


def iter_secrets(deployment: Mapping[str, Any]) -> Iterator[tuple[SecretLocation, dict[str, Any]]]:
    """Every top-level secret object of a deployment (resources, then pending operations), not decrypted.

    The yielded dicts are the objects inside ``deployment`` itself.
    """
    for prefix, res in _resources(deployment):
        urn = res.get("urn") if isinstance(res.get("urn"), str) else ""
        for field in _PROPERTY_FIELDS:
            if field in res:
                for path, secret in _walk(res[field], []):
                    yield SecretLocation(str(urn), prefix + field, format_property_path(path)), secret


# --- Go json.Marshal -------------------------------------------------------------------------

_GO_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_GO_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\<>&\u2028\u2029\ud800-\udfff]')


def _go_escape(m: re.Match[str]) -> str:
    c = m.group()
    if c in _GO_ESCAPES:
        return _GO_ESCAPES[c]
    if "\ud800" <= c <= "\udfff":  # not valid UTF-8 (e.g. a surrogateescape'd byte): Go writes U+FFFD
        return "\\ufffd"
    return f"\\u{ord(c):04x}"


def _go_marshal_into(v: Any, out: list[str]) -> None:
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, str):
        out.append('"' + _GO_NEEDS_ESCAPE.sub(_go_escape, v) + '"')
    elif isinstance(v, (int, float)):
        out.append(format_go_float(float(v)))  # property values are float64 in Go
    elif isinstance(v, Mapping):
        out.append("{")
        for i, k in enumerate(sorted(v)):
            if not isinstance(k, str):
                raise TypeError(f"object key {k!r} is not a string")
            if i:
                out.append(",")
            _go_marshal_into(k, out)
            out.append(":")
            _go_marshal_into(v[k], out)
        out.append("}")
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, item in enumerate(v):
            if i:
                out.append(",")
            _go_marshal_into(item, out)
        out.append("]")
    else:
        raise TypeError(f"value of type {type(v).__name__} is not JSON")


def go_json_marshal(value: Any) -> str:
    """Go ``json.Marshal`` of a JSON-like value: compact, map keys sorted, HTML-escaped, Go float format."""
    out: list[str] = []
    _go_marshal_into(value, out)
    return "".join(out)


# --- decoding ------------------------------------------------------------------------------


def _where(loc: SecretLocation | None) -> str:
    return f" at {loc}" if loc else ""


def _secret_field(secret: Mapping[str, Any], loc: SecretLocation | None) -> tuple[str, str]:
    """("ciphertext" | "plaintext", text); exactly one must be a non-empty string (Go's rule)."""
    ct, pt = secret.get("ciphertext"), secret.get("plaintext")
    has_ct, has_pt = isinstance(ct, str), isinstance(pt, str)
    if has_ct == has_pt or not (ct or pt):
        raise CorruptInput(
            f"malformed secret value{_where(loc)}: exactly one of `ciphertext` or `plaintext` must be set"
        )
    return ("ciphertext", ct) if has_ct else ("plaintext", pt)  # type: ignore[return-value]


def _decrypt_text(secret: Mapping[str, Any], manager: SecretsManager, loc: SecretLocation | None) -> str:
    kind, text = _secret_field(secret, loc)
    if kind == "plaintext":
        return text
    try:
        return manager.decrypt(text)
    except DecryptionFailed as e:
        raise DecryptionFailed(f"cannot decrypt secret{_where(loc)}: {e}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON literal {name}")


def _parse(text: str, loc: SecretLocation | None) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise CorruptInput(f"secret{_where(loc)} does not contain valid JSON") from None


def _revealed(value: Any, loc: SecretLocation | None) -> Any:
    """A value parsed from secret text with nested (no-op) secrets turned into ``plaintext`` secrets.

    This is what Go's deserialize + serialize(showSecrets) does to the inside of a secret.
    """
    if isinstance(value, list):
        return [_revealed(v, loc) for v in value]
    if not isinstance(value, dict):
        return value
    if is_secret(value):
        _, text = _secret_field(value, loc)
        inner = _revealed(_parse(text, loc), loc)
        return {SIG_KEY: SECRET_SIG, "plaintext": go_json_marshal(inner)}
    out = {k: _revealed(v, loc) for k, v in value.items()}
    if out.get(SIG_KEY) == RESOURCE_REFERENCE_SIG:
        out.setdefault("packageVersion", "")  # Go always writes it back
        if isinstance(out.get("id"), dict):
            # Legacy buggy form {"id": {"V": ...}}: Go reads it and writes the plain form back.
            legacy = out.pop("id").get("V")
            if isinstance(legacy, str):
                out["id"] = legacy
            elif isinstance(legacy, dict):
                out["id"] = ""
    return out


def _noop_form(value: Any, loc: SecretLocation | None) -> Any:
    """A value made ready for marshalling as secret text: nested secrets in no-op ``ciphertext`` form."""
    if isinstance(value, (list, tuple)):
        return [_noop_form(v, loc) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return {SIG_KEY: FLOAT_SIG, "value": struct.pack(">d", value).hex()}
    if not isinstance(value, Mapping):
        return value
    if is_secret(value):
        kind, text = _secret_field(value, loc)
        if kind == "plaintext":
            text = go_json_marshal(_noop_form(_parse(text, loc), loc))
        return {SIG_KEY: SECRET_SIG, "ciphertext": text}
    return {k: _noop_form(v, loc) for k, v in value.items()}


def _marshal(value: Any, loc: SecretLocation | None) -> str:
    try:
        return go_json_marshal(value)
    except (TypeError, ValueError, OverflowError) as e:
        raise CorruptInput(f"secret value{_where(loc)} cannot be serialized: {e}") from None


def decrypt_secret_value(secret: Mapping[str, Any], manager: SecretsManager,
                         location: SecretLocation | None = None) -> Any:
    """The value protected by a secret object (JSON-parsed).

    Secrets nested inside come back as ``{SIG_KEY: SECRET_SIG, "plaintext": "<JSON text>"}``.
    """
    return _revealed(_parse(_decrypt_text(secret, manager, location), location), location)


def encrypt_secret_value(value: Any, manager: SecretsManager) -> dict[str, Any]:
    """A secret object protecting ``value`` (Go ``json.Marshal`` text: compact, sorted, HTML-escaped).

    Nested secret objects in ``value`` may be in ``plaintext`` form, or in ``ciphertext`` form holding
    no-op (JSON text) ciphertext as :func:`decrypt_secret_value` never returns but Go writes.
    """
    text = _marshal(_noop_form(value, None), None)
    return {SIG_KEY: SECRET_SIG, "ciphertext": manager.encrypt(text)}


def reveal_deployment(deployment: Mapping[str, Any], manager: SecretsManager) -> dict[str, Any]:
    """A deep copy with every secret as ``{SIG_KEY: SECRET_SIG, "plaintext": "<JSON text>"}`` (4.8)."""
    out = copy.deepcopy(dict(deployment))
    for loc, secret in list(iter_secrets(out)):
        value = _revealed(_parse(_decrypt_text(secret, manager, loc), loc), loc)
        text = _marshal(value, loc)
        secret.clear()
        secret[SIG_KEY] = SECRET_SIG
        secret["plaintext"] = text
    return out


def mask_secrets(value: Any) -> Any:
    """A copy of ``value`` with every secret object replaced by the string ``"[secret]"`` (for display)."""
    if is_secret(value):
        return MASK
    if isinstance(value, Mapping):
        return {k: mask_secrets(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_secrets(v) for v in value]
    return value


def reencrypt_deployment(
    deployment: Mapping[str, Any], old: SecretsManager, new: SecretsManager
) -> dict[str, Any]:
    """A deep copy with every secret re-encrypted from ``old`` to ``new``, and ``new``'s secrets_providers.

    Ciphertext secrets keep their exact plaintext text; ``plaintext`` secrets are canonicalised the
    way Go re-serializes them on import.
    """
    out = copy.deepcopy(dict(deployment))
    for loc, secret in list(iter_secrets(out)):
        kind, text = _secret_field(secret, loc)
        if kind == "ciphertext":
            text = _decrypt_text(secret, old, loc)
        else:
            text = _marshal(_noop_form(_parse(text, loc), loc), loc)
        ciphertext = new.encrypt(text)
        secret.clear()
        secret[SIG_KEY] = SECRET_SIG
        secret["ciphertext"] = ciphertext
    if new.type:
        sp: dict[str, Any] = {"type": new.type}
        state = new.state()
        if state is not None:
            sp["state"] = state
        out["secrets_providers"] = sp
    else:
        out.pop("secrets_providers", None)
    return out


# --- stack config (Pulumi.<stack>.yaml `config:` and history `config`) ------------------------------


def is_secure_config(v: Any) -> bool:
    """A config value ``{secure: <string>}`` (a map whose only key is ``secure``, with a string value)."""
    return isinstance(v, Mapping) and len(v) == 1 and isinstance(v.get("secure"), str)


def _walk_config(value: Any, path: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    if is_secure_config(value):
        yield path, value["secure"]
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _walk_config(v, [*path, str(k)])
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk_config(v, [*path, i])


def iter_config_secrets(config: Any) -> Iterator[tuple[str, str]]:
    """(path, ciphertext) of every secure value in a config map; paths look like ``proj:db.hosts[0].pw``."""
    if config is None:
        return
    if not isinstance(config, Mapping):
        raise CorruptInput("stack config is not a mapping")
    for key, value in config.items():
        for path, ciphertext in _walk_config(value, []):
            yield str(key) + format_property_path(path, continuation=True), ciphertext


def decrypt_config_value(ciphertext: str, manager: SecretsManager, key: str | None = None) -> str:
    """The raw string protected by a ``secure:`` config value (config secrets are not JSON)."""
    try:
        return manager.decrypt(ciphertext)
    except DecryptionFailed as e:
        where = f" {key}" if key else ""
        raise DecryptionFailed(f"cannot decrypt config value{where}: {e}") from None


def encrypt_config_value(plaintext: str, manager: SecretsManager) -> dict[str, str]:
    """``{"secure": <ciphertext>}`` for a config value."""
    return {"secure": manager.encrypt(plaintext)}
