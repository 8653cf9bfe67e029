"""`history diff`: compare two versions of a stack (or a version and the current checkpoint)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..backend.layout import StackRef
from .diff import DeploymentDiff, Reveal, diff_deployments, secret_reader
from .restore import Keys, has_ciphertext, reveal_for
from .versions import CURRENT, list_versions, parse_version_spec, read_version_checkpoint, resolve_version

if TYPE_CHECKING:
    from ..backend.backend import Backend
    from ..state import Checkpoint


@dataclass(frozen=True)
class HistoryDiff:
    """A :class:`DeploymentDiff` with what was compared."""

    ref: StackRef
    old_label: str
    new_label: str
    old_key: str
    new_key: str
    diff: DeploymentDiff
    show_secrets: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"stack": str(self.ref), "old": {"label": self.old_label, "key": self.old_key},
                "new": {"label": self.new_label, "key": self.new_key}, **self.diff.to_dict()}


def _side(backend: Backend, ref: StackRef, spec: str | int, listing: Any) -> tuple[str, str, Checkpoint]:
    if parse_version_spec(spec)[0] == "current":
        obj = backend.current_object(ref)
        return CURRENT, obj.key, backend.parse_object(obj.key, backend.store.read(obj.key))
    version = resolve_version(listing, spec)
    cp = read_version_checkpoint(backend, version)
    assert version.checkpoint is not None
    return f"version {version.version}", version.checkpoint.key, cp


def _reveal(keys: Keys | None, cp: Checkpoint, required: bool) -> Reveal | None:
    if not required or keys is None or cp.latest is None or not has_ciphertext(cp.latest):
        return reveal_for(keys, cp.secrets_providers)
    # --show-secrets: a missing or wrong key is an error, not a quiet "not compared".
    manager = keys(cp.secrets_providers)
    resolve = getattr(manager, "resolve", None)
    if callable(resolve):
        resolve()
    return secret_reader(manager)


def diff_versions(backend: Backend, ref: StackRef, old: str | int, new: str | int = CURRENT, *,
                  keys: Keys | None = None, show_secrets: bool = False) -> HistoryDiff:
    """Compare version ``old`` with ``new`` (default: the current checkpoint). Version forms as in
    :func:`~pulumi_diy.history.versions.resolve_version`, plus ``current``.

    ``keys`` unlocks each checkpoint's own secrets provider so secrets compare by plaintext; without it
    (or when a key is unavailable) differing ciphertexts are reported as not compared. With
    ``show_secrets`` the keys are required and changed secret values are shown in plaintext.
    """
    listing = list_versions(backend, ref)
    old_label, old_key, old_cp = _side(backend, ref, old, listing)
    new_label, new_key, new_cp = _side(backend, ref, new, listing)
    diff = diff_deployments(old_cp.latest, new_cp.latest,
                            reveal_old=_reveal(keys, old_cp, show_secrets),
                            reveal_new=_reveal(keys, new_cp, show_secrets), show_secrets=show_secrets)
    return HistoryDiff(ref, old_label, new_label, old_key, new_key, diff, show_secrets)
