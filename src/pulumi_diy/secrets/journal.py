"""The rotation journal: what an interrupted ``secrets rotate``/``change-provider`` run still has to do.

Stored in the backend at ``.pulumi/pulumi-diy/journal/<run-id>.json``, outside the folders Pulumi
reads (``stacks/``, ``history/``, ``backups/``, ``locks/``; format doc 2.1), so every user of the
backend, and ``secrets verify``, sees an unfinished run. It holds no plaintext and no key: for each
stack the *public* identity of the new key (the passphrase ``encryptionsalt`` state string, or the
KMS URL and wrapped data key, exactly what the checkpoint will carry), the lock file the run
holds, the settings file it edits, and whether the stack is done. ``--resume`` asks for the new
passphrase again and checks it against the recorded state string.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pulumi_diy.errors import CorruptInput, ObjectNotFound, PulumiDiyError, UnsupportedVersion
from pulumi_diy.secrets.keys import KeyId, key_of_secrets_providers

if TYPE_CHECKING:
    from pulumi_diy.backend.backend import Backend
    from pulumi_diy.backend.layout import StackRef

JOURNAL_DIR = ".pulumi/pulumi-diy/journal"
VERSION = 1
PENDING, DONE = "pending", "done"


@dataclass
class JournalStack:
    """One stack of a run: its new key, the lock the run holds, its settings file, its status."""

    project: str | None
    name: str
    new: KeyId
    old: KeyId | None = None
    settings_file: str | None = None
    lock_key: str | None = None
    status: str = PENDING

    @property
    def stack(self) -> str:
        return f"{self.project}/{self.name}" if self.project else self.name

    def ref(self) -> StackRef:
        from pulumi_diy.backend.layout import StackRef

        return StackRef(self.project, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "name": self.name,
            "status": self.status,
            "new": self.new.secrets_providers(),
            "old": self.old.secrets_providers()
            if self.old and self.old.type in ("passphrase", "cloud")
            else None,
            "settingsFile": self.settings_file,
            "lockKey": self.lock_key,
        }


@dataclass
class Journal:
    """A rotation run as recorded in the backend."""

    id: str
    operation: str  # "rotate" | "change-provider"
    stacks: list[JournalStack]
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    host: str = field(default_factory=lambda: _host())
    pid: int = field(default_factory=os.getpid)

    @property
    def key(self) -> str:
        return f"{JOURNAL_DIR}/{self.id}.json"

    @property
    def pending(self) -> list[JournalStack]:
        return [s for s in self.stacks if s.status != DONE]

    def find(self, ref: StackRef) -> JournalStack | None:
        return next((s for s in self.stacks if s.project == ref.project and s.name == ref.name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "id": self.id,
            "operation": self.operation,
            "created": self.created,
            "host": self.host,
            "pid": self.pid,
            "stacks": [s.to_dict() for s in self.stacks],
        }

    def encode(self) -> bytes:
        return json.dumps(self.to_dict(), indent=2).encode() + b"\n"


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


def _host() -> str:
    import socket

    return socket.gethostname()


def parse_journal(data: bytes, name: str) -> Journal:
    """A journal from its bytes (raises CorruptInput / UnsupportedVersion naming it)."""
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
        if doc.get("version") != VERSION:
            raise UnsupportedVersion(f"{name}: unsupported rotation journal version {doc.get('version')!r}")
        stacks = []
        for s in doc["stacks"]:
            new = key_of_secrets_providers(s["new"], name)
            if new is None:
                raise ValueError("a stack has no new key")
            stacks.append(
                JournalStack(
                    project=s.get("project"),
                    name=str(s["name"]),
                    new=new,
                    old=key_of_secrets_providers(s.get("old"), name),
                    settings_file=s.get("settingsFile"),
                    lock_key=s.get("lockKey"),
                    status=str(s.get("status") or PENDING),
                )
            )
        return Journal(
            id=str(doc["id"]),
            operation=str(doc.get("operation") or "rotate"),
            stacks=stacks,
            created=str(doc.get("created") or ""),
            host=str(doc.get("host") or ""),
            pid=int(doc.get("pid") or 0),
        )
    except PulumiDiyError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise CorruptInput(f"{name}: not a pulumi-diy rotation journal ({e})") from None


def list_journals(backend: Backend) -> list[Journal]:
    """Every rotation journal in the backend (unreadable ones raise), oldest first."""
    keys = [o.key for o in backend.store.list(JOURNAL_DIR, recursive=False) if o.key.endswith(".json")]
    out = []
    for key, data in backend.iter_read(keys):
        if isinstance(data, ObjectNotFound):
            continue  # finished meanwhile
        if isinstance(data, PulumiDiyError):
            raise data
        out.append(parse_journal(data, backend.store.describe(key)))
    return sorted(out, key=lambda j: j.id)


class JournalWriter:
    """Writes a journal after each change, one writer at a time (stacks finish on several threads)."""

    def __init__(self, backend: Backend, journal: Journal) -> None:
        self.backend = backend
        self.journal = journal
        self._lock = threading.Lock()

    def save(self) -> None:
        with self._lock:
            self.backend.store.write(self.journal.key, self.journal.encode())

    def mark(self, stack: JournalStack, status: str) -> None:
        with self._lock:
            before, stack.status = stack.status, status
            try:
                self.backend.store.write(self.journal.key, self.journal.encode())
            except BaseException:
                stack.status = before  # what the stored journal still says
                raise

    def remove(self) -> None:
        with self._lock:
            self.backend.store.delete(self.journal.key, missing_ok=True)
