"""Stack settings files (``Pulumi.<stack>.yaml``, format doc 4.4): find them, read their secrets-provider
fields and ``secure:`` values, and rewrite both in place.

Edits are comment-preserving round trips through ruamel.yaml: key order, comments, quoting and the
file's indentation stay as they were (Pulumi itself edits these files the same way, fixture
``extracted/roundtrip-*``). Only ``secretsprovider``/``encryptedkey``/``encryptionsalt`` and the
ciphertexts of ``secure:`` values change. Nothing here decrypts.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi_diy.errors import CorruptInput
from pulumi_diy.secrets.values import format_property_path, is_secure_config

PROVIDER_KEYS = ("secretsprovider", "encryptedkey", "encryptionsalt")  # Pulumi's field order
_PASSPHRASE_ALIASES = ("", "passphrase", "default")


@dataclass(frozen=True)
class ProviderSettings:
    """The secrets-provider fields of a stack settings file (empty string = absent)."""

    secretsprovider: str = ""
    encryptedkey: str = ""
    encryptionsalt: str = ""

    @property
    def kind(self) -> str:
        """``cloud``, ``passphrase`` or ``""`` (nothing configured), by Pulumi's selection rule (4.4)."""
        if self.secretsprovider not in _PASSPHRASE_ALIASES:
            return "cloud"
        return "passphrase" if self.encryptionsalt else ""

    def items(self) -> list[tuple[str, str]]:
        """The non-empty fields in Pulumi's order."""
        return [(k, getattr(self, k)) for k in PROVIDER_KEYS if getattr(self, k)]

    def to_dict(self) -> dict[str, str]:
        return dict(self.items())


def _guess_indent(text: str) -> tuple[int, int]:
    """(mapping indent, sequence dash offset) as the file uses them; yaml.v3's (2, 2) by default."""
    mapping = offset = None
    parent: int | None = None
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        col = len(line) - len(stripped)
        dash = stripped.startswith("- ") or stripped == "-"
        if parent is not None and (col > parent or (dash and col == parent)):
            if dash:
                offset = col - parent if offset is None else offset
            else:
                mapping = col - parent if mapping is None else mapping
        if mapping is not None and offset is not None:
            break
        parent = col if re.match(r"[^#]*:\s*(#.*)?$", stripped) and not stripped.startswith("- ") else None
    return mapping or 2, 2 if offset is None else offset


def _yaml(text: str) -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1 << 30  # never fold long ciphertexts or keys
    mapping, offset = _guess_indent(text)
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    return yaml


def _restyled(old: Any, new: str) -> Any:
    """``new`` in the scalar style (quotes) the file used for ``old``."""
    from ruamel.yaml.scalarstring import ScalarString

    return type(old)(new) if isinstance(old, ScalarString) else new


def _replace_value(holder: Any, key: str, new: str) -> None:
    """Set ``holder[key]`` keeping its quoting and the gap before an end-of-line comment."""
    old = holder[key]
    holder[key] = _restyled(old, new)
    delta = len(new) - len(str(old))
    comment = getattr(holder, "ca", None) and holder.ca.items.get(key)
    if delta and comment:
        for token in comment:
            mark = getattr(token, "start_mark", None)
            if mark is not None and isinstance(getattr(mark, "column", None), int):
                token.column = max(mark.column + delta, 0)


class SettingsFile:
    """One ``Pulumi.<stack>.yaml`` loaded for a comment-preserving edit."""

    def __init__(self, text: str, name: str) -> None:
        from ruamel.yaml.comments import CommentedMap
        from ruamel.yaml.error import YAMLError

        self.name = name
        self.text = text
        self._yaml = _yaml(text)
        try:
            data = self._yaml.load(text)
        except (YAMLError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CorruptInput(f"{name}: invalid YAML ({first})") from None
        if data is None:
            data = CommentedMap()
        if not isinstance(data, CommentedMap):
            raise CorruptInput(f"{name}: a stack settings file must be a YAML mapping")
        config = data.get("config")
        if config is not None and not isinstance(config, Mapping):
            raise CorruptInput(f"{name}: `config` is not a mapping")
        self.data = data

    @classmethod
    def read(cls, path: Path) -> SettingsFile:
        try:
            text = Path(path).read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptInput(f"{path}: not UTF-8 text") from None
        except OSError as e:
            raise CorruptInput(f"{path}: cannot read: {e.strerror or e}") from None
        return cls(text, str(path))

    @property
    def provider(self) -> ProviderSettings:
        values: dict[str, str] = {}
        for key in PROVIDER_KEYS:
            value = self.data.get(key)
            if value is None:
                continue
            if not isinstance(value, str):
                raise CorruptInput(f"{self.name}: `{key}` is not a string")
            values[key] = str(value)
        return ProviderSettings(**values)

    def _walk(self) -> Iterator[tuple[str, Any]]:
        """(config path, holder) of every ``{secure: <ciphertext>}`` holder, in file order."""
        config = self.data.get("config")
        if not config:
            return

        def walk(node: Any, path: list[str | int]) -> Iterator[tuple[list[str | int], Any]]:
            if is_secure_config(node):
                yield path, node
            elif isinstance(node, Mapping):
                for k, v in node.items():
                    yield from walk(v, [*path, str(k)])
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    yield from walk(v, [*path, i])

        for key, value in config.items():
            for path, holder in walk(value, []):
                yield str(key) + format_property_path(path, continuation=True), holder

    def secure_values(self) -> list[tuple[str, str]]:
        """(config path, ciphertext) of every secure value, e.g. ``("proj:db.hosts[0].pw", "v1:...")``."""
        return [(path, str(holder["secure"])) for path, holder in self._walk()]

    def reencrypt(self, convert: Callable[[str, str], str]) -> int:
        """Replace each secure ciphertext with ``convert(path, ciphertext)``; returns how many changed."""
        n = 0
        for path, holder in self._walk():
            _replace_value(holder, "secure", convert(path, str(holder["secure"])))
            n += 1
        return n

    def set_provider(self, wanted: ProviderSettings) -> None:
        """Make the provider fields exactly ``wanted`` where the old ones were (top of file by default).

        A comment written after a removed field's line moves to the field that takes its place, so a
        passphrase -> KMS move keeps the comment block under the provider fields.
        """
        data = self.data
        present = [k for k in data if k in PROVIDER_KEYS]
        new_items = wanted.items()
        if [k for k, _ in new_items] == present:
            for k, v in new_items:
                if data[k] != v:
                    _replace_value(data, k, v)
            return
        keys = list(data)
        anchor = min((keys.index(k) for k in present), default=0)
        comments = [data.ca.items.pop(k) for k in present if k in data.ca.items]
        for k in present:
            del data[k]
        for i, (k, v) in enumerate(new_items):
            data.insert(anchor + i, k, v)
        if comments and new_items:
            # keep each comment after the same relative line; the last one (usually the block below
            # the provider fields) stays after the last provider field
            targets = [k for k, _ in new_items]
            for i, comment in enumerate(comments[:-1]):
                data.ca.items[targets[min(i, len(targets) - 1)]] = comment
            data.ca.items[targets[-1]] = comments[-1]

    def dump(self) -> str:
        out = io.StringIO()
        self._yaml.dump(self.data, out)
        return out.getvalue()


def write_settings_file(path: Path, text: str) -> None:
    """Replace ``path`` atomically (temp file in the same folder, fsync, rename), keeping its mode."""
    path = Path(path)
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _project_name(folder: Path) -> str | None:
    import yaml

    for name in ("Pulumi.yaml", "Pulumi.yml"):
        p = folder / name
        if p.is_file():
            try:
                doc = yaml.safe_load(p.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                return None
            value = doc.get("name") if isinstance(doc, dict) else None
            return value if isinstance(value, str) else None
    return None


def find_settings_file(config_dir: Path, project: str | None, stack: str) -> Path | None:
    """The stack's ``Pulumi.<stack>.yaml`` under ``config_dir``: ``<dir>/<project>/`` first, then ``<dir>/``.

    ``/`` in the stack name becomes ``-`` as in Pulumi. A folder whose ``Pulumi.yaml`` names another
    project is not this stack's folder.
    """
    fname = "Pulumi." + stack.replace("/", "-")
    folders = [config_dir / project, config_dir] if project else [config_dir]
    for folder in folders:
        if not folder.is_dir():
            continue
        owner = _project_name(folder)
        if project and owner is not None and owner != project:
            continue
        for ext in (".yaml", ".yml"):
            candidate = folder / (fname + ext)
            if candidate.is_file():
                return candidate
    return None
