"""The opened backend: storage + layout + cache, and the reads every operation shares."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..config import Settings, resolve_settings
from ..errors import (
    BackendMissing,
    CorruptInput,
    MetaCorrupt,
    ObjectNotFound,
    PulumiDiyError,
    StackNotFound,
    UnsupportedVersion,
)
from .cache import Cache, ObjectSizes, backend_cache_id
from .layout import (
    META_KEY,
    STACKS_DIR,
    STATE_EXTS,
    Layout,
    StackRef,
    legacy_stack_keys,
    parse_stack_ref,
    select_current,
)
from .store import ObjectInfo, Store, storage_errors
from .urls import BackendURL, parse_backend_url

if TYPE_CHECKING:
    from ..state import Checkpoint


@dataclass(frozen=True)
class Meta:
    """What `.pulumi/meta.yaml` says, or what Pulumi would infer when it is missing."""

    version: int  # 0 = legacy layout, 1 = project layout
    present: bool
    source: str

    @property
    def project_mode(self) -> bool:
        return self.version == 1


def parse_meta(data: bytes, name: str) -> int:
    """Pulumi's meta.go rules: empty or no `version` -> corrupt; not an int -> error; 0/1 only."""
    import yaml

    try:
        doc = yaml.safe_load(data.decode("utf-8")) if data.strip() else None
    except (UnicodeDecodeError, yaml.YAMLError) as e:
        raise MetaCorrupt(f"{name}: corrupt store: invalid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(doc, dict) or "version" not in doc:
        raise MetaCorrupt(f"{name}: corrupt store: no version")
    version = doc["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise MetaCorrupt(f"{name}: corrupt store: version {version!r} is not an integer")
    if version not in (0, 1):
        raise UnsupportedVersion(f"{name}: state store unsupported: 'meta.yaml' version ({version}) is not supported")
    return version


class Backend:
    """An opened DIY backend. Create it with :func:`pulumi_diy.open_backend`."""

    def __init__(self, url: BackendURL, store: Store, settings: Settings, *, use_cache: bool = True) -> None:
        self.url = url
        self.store = store
        self.settings = settings
        self.cache = Cache(settings.cache_dir.value if use_cache else None,
                           backend_cache_id(url.kind, url.root, url.bucket))
        if self.cache.enabled:
            store.size_memo = ObjectSizes(self.cache)

    # --- layout ----------------------------------------------------------------------------
    @cached_property
    def meta(self) -> Meta:
        if self.url.kind == "file" and not os.path.isdir(self.url.root):
            raise BackendMissing(f"{self.url.redacted}: directory {self.url.root} does not exist")
        try:
            data = self.store.read(META_KEY)
        except ObjectNotFound:
            data = None
        if data is not None:
            return Meta(parse_meta(data, self.store.describe(META_KEY)), True, "meta.yaml")
        # No meta.yaml: Pulumi decides by the presence of legacy stack files (one extra listing).
        legacy = legacy_stack_keys(o.key for o in self.store.list(STACKS_DIR, recursive=False))
        if legacy:
            return Meta(0, False, "inferred: legacy stack files and no meta.yaml")
        return Meta(1, False, "inferred: no meta.yaml (Pulumi writes version 1 on first login)")

    @property
    def layout(self) -> Layout:
        return Layout(self.meta.project_mode)

    def resolve(self, text: str) -> StackRef:
        """A stack reference as the user typed it -> StackRef (current Pulumi project as default)."""
        return parse_stack_ref(text, project_mode=self.meta.project_mode, default_project=self._cwd_project())

    def _cwd_project(self) -> str | None:
        import yaml

        for name in ("Pulumi.yaml", "Pulumi.yml"):
            path = self.settings.cwd / name
            if path.is_file():
                try:
                    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
                except (OSError, yaml.YAMLError, UnicodeDecodeError):
                    return None
                name_value = doc.get("name") if isinstance(doc, dict) else None
                return name_value if isinstance(name_value, str) else None
        return None

    # --- stacks ----------------------------------------------------------------------------
    def list_stack_objects(self) -> list[ObjectInfo]:
        """One listing of everything under `.pulumi/stacks/`."""
        return self.store.list(STACKS_DIR, recursive=self.meta.project_mode)

    def stacks(self, objects: Sequence[ObjectInfo] | None = None) -> dict[StackRef, ObjectInfo]:
        """Every stack by Pulumi's enumeration rules, mapped to its current checkpoint object."""
        objects = self.list_stack_objects() if objects is None else objects
        variants: dict[StackRef, list[ObjectInfo]] = {}
        named: set[StackRef] = set()
        layout = self.layout
        for o in objects:
            parsed = layout.parse_stack_key(o.key)
            if parsed is None:
                continue
            ref, ext = parsed
            named.add(ref)
            if ext in STATE_EXTS:
                variants.setdefault(ref, []).append(o)
        out: dict[StackRef, ObjectInfo] = {}
        for ref in sorted(named, key=lambda r: (r.project or "", r.name)):
            current = select_current(variants.get(ref, []))
            if current is not None:
                out[ref] = current  # type: ignore[assignment]
        return out

    def current_object(self, ref: StackRef) -> ObjectInfo:
        base = self.layout.stack_base(ref)
        directory, _, _ = base.rpartition("/")
        candidates = [o for o in self.store.list(directory, recursive=False)
                      if o.key in {base + ext for ext in STATE_EXTS}]
        current = select_current(candidates)
        if current is None:
            raise StackNotFound(f"no stack named {ref} in {self.url.redacted}")
        return current  # type: ignore[return-value]

    def read_checkpoint(self, ref: StackRef) -> Checkpoint:
        """The stack's current checkpoint (raises StackNotFound, CheckpointCorrupt, Unsupported...)."""
        obj = self.current_object(ref)
        return self.parse_object(obj.key, self.store.read(obj.key))

    def parse_object(self, key: str, data: bytes) -> Checkpoint:
        from ..state import parse_checkpoint

        return parse_checkpoint(data, self.store.describe(key))

    def iter_read(self, keys: Sequence[str], batch: int | None = None) -> Iterator[tuple[str, bytes | PulumiDiyError]]:
        """Read keys concurrently in bounded batches, so memory stays bounded by the batch size."""
        size = batch or self.store.parallelism
        chunks = [keys[i:i + size] for i in range(0, len(keys), size)]
        if not chunks:
            return
        # The next batch is fetched while the caller works on this one; two batches at most in memory.
        with ThreadPoolExecutor(max_workers=1) as prefetch:
            pending = prefetch.submit(self.store.read_many, chunks[0])
            for i, chunk in enumerate(chunks):
                got = pending.result()
                if i + 1 < len(chunks):
                    pending = prefetch.submit(self.store.read_many, chunks[i + 1])
                for k in chunk:
                    yield k, got[k]

    def read_tags(self, ref: StackRef) -> dict[str, str]:
        key = self.layout.tags_key(ref)
        try:
            data = self.store.read(key)
        except ObjectNotFound:
            return {}
        return parse_tags(data, self.store.describe(key))

    def lock(self, ref: StackRef, *, reason: str | None = None) -> Any:
        """Take the stack lock the way Pulumi does (context manager); see :mod:`pulumi_diy.locks`."""
        from ..locks import acquire

        return acquire(self, ref, reason=reason)

    def close(self) -> None:
        self.cache.close()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_tags(data: bytes, name: str) -> dict[str, str]:
    """`.pulumi-tags`: {"version":1,"tags":{...}}; any other version is an error (section 2.8)."""
    try:
        doc: Any = json.loads(data)
    except ValueError as e:
        raise CorruptInput(f"{name}: invalid JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("version") != 1:
        found = doc.get("version") if isinstance(doc, dict) else None
        raise UnsupportedVersion(f"{name}: unsupported tags file version {found!r}")
    tags = doc.get("tags") or {}
    if not isinstance(tags, dict):
        raise CorruptInput(f"{name}: `tags` is not an object")
    return {str(k): str(v) for k, v in tags.items()}


def open_backend(url: str | None = None, *, settings: Settings | None = None, use_cache: bool = True) -> Backend:
    """Open a DIY backend by URL (or the one Pulumi would use: PULUMI_BACKEND_URL, then `pulumi login`).

    >>> backend = open_backend("file://./examples/demo-backend")   # doctest: +SKIP
    >>> [str(ref) for ref in backend.stacks()]                      # doctest: +SKIP
    """
    settings = settings or resolve_settings(backend=url)
    text = url or settings.require_backend_url()
    parsed = parse_backend_url(text, env=settings.env, cwd=settings.cwd, home=settings.home)
    with storage_errors(parsed.redacted):
        fs = parsed.filesystem()
    store = Store(fs, parsed, parallelism=settings.parallel)
    return Backend(parsed, store, settings, use_cache=use_cache)
