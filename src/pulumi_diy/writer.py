"""Writing a stack's checkpoint the way Pulumi's `saveCheckpoint` does (format doc section 2.4),
plus a copy of the previous checkpoint into `backups/` first, so every mutation is recoverable.

Callers hold the stack lock (``with backend.lock(ref): ...``) and read the checkpoint they modify
*after* taking it. Each object write is atomic, and the order of writes keeps the backend readable
by Pulumi if the process dies between any two of them: the old current file stays in place until
the new one is written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .backend.layout import StackRef, compression_name
from .errors import ObjectNotFound, StackNotFound

if TYPE_CHECKING:
    from .backend.backend import Backend
    from .state import Checkpoint, Compression


@dataclass(frozen=True)
class SaveResult:
    """What a save wrote: the new current key, the `.bak`, the backup copy and the bytes written."""

    key: str
    bak_key: str | None
    backup_key: str | None
    removed_key: str | None
    retained_key: str | None
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "bak": self.bak_key, "backup": self.backup_key, "removed": self.removed_key,
                "retained": self.retained_key, "size": self.size}


def _compression_for(backend: Backend, current_key: str | None) -> Compression:
    from .state import Compression

    # Without PULUMI_DIY_BACKEND_GZIP/ZSTD keep the stack's current compression (Pulumi would switch
    # the file to plain JSON, which surprises users who set the variable only in CI).
    name = backend.settings.compression.value or compression_name(current_key or "")
    return {"gzip": Compression.GZIP, "zstd": Compression.ZSTD}.get(name, Compression.NONE)


def _ext(key: str) -> str:
    for ext in (".json.gz", ".json.zst", ".json"):
        if key.endswith(ext):
            return ext
    return ".json"


def save_checkpoint(backend: Backend, ref: StackRef, cp: Checkpoint, *, backup: bool = True,
                    must_exist: bool = True) -> SaveResult:
    """Write ``cp`` as the stack's current checkpoint. The caller holds the stack lock.

    Order: backup copy of the current file into `backups/` -> `<target>.bak` copy -> old variant's
    `.bak` (compression change) -> atomic write of the target -> removal of the old variant ->
    optional retained copy (PULUMI_DIY_BACKEND_RETAIN_CHECKPOINTS).
    """
    import dataclasses

    from .state import encode_checkpoint

    store = backend.store
    layout = backend.layout
    try:
        current = backend.current_object(ref)
    except StackNotFound:
        if must_exist:
            raise
        current = None
    compression = _compression_for(backend, current.key if current else None)
    cp = dataclasses.replace(cp, compression=compression)
    data = encode_checkpoint(cp)
    target = layout.stack_base(ref) + ".json" + compression.ext

    backup_key = None
    if current is not None and backup and not backend.settings.disable_backups:
        backup_key = f"{layout.backups_dir(ref)}/{ref.name}.{time.time_ns()}{_ext(current.key)}"
        store.copy(current.key, backup_key)

    bak_key = None
    try:
        store.copy(target, target + ".bak")
        bak_key = target + ".bak"
    except ObjectNotFound:
        pass
    removed = None
    if current is not None and current.key != target:
        store.copy(current.key, current.key + ".bak")
        removed = current.key
    store.write(target, data)
    if removed is not None:
        try:
            store.delete(removed, missing_ok=True)
        except Exception:  # best effort, as in Pulumi: the newer target wins by mtime anyway
            removed = None
    retained = None
    if backend.settings.retain_checkpoints:
        retained = f"{target}.{time.time_ns()}"
        store.write(retained, data)
    return SaveResult(target, bak_key, backup_key, removed, retained, len(data))
