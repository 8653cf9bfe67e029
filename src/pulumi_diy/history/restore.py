"""`history restore`: make a past version the stack's current checkpoint.

Under the stack lock, after reading the current checkpoint: the version's deployment is given the
current secrets provider (re-encrypting its secrets when it used another key and both keys are
available, refusing otherwise), checked with Pulumi's integrity rules, and written with
:func:`pulumi_diy.writer.save_checkpoint`, which first copies the current checkpoint into
`backups/` and `.bak`. History is never rewritten: the restore appears in `backups/`, not as a new
history entry (Pulumi's `stack import` behaves the same).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..backend.layout import StackRef
from ..errors import CheckpointCorrupt, PulumiDiyError, SecretsError, UsageError
from .diff import DeploymentDiff, Reveal, diff_deployments, json_equal, secret_reader
from .versions import list_versions, read_version_checkpoint, resolve_version

if TYPE_CHECKING:
    from ..backend.backend import Backend
    from ..secrets import SecretsManager
    from ..state import Checkpoint, JsonStyle
    from ..writer import SaveResult

Keys = Callable[[Any], "SecretsManager"]
"""secrets_providers object (or None) -> an unlocked secrets manager for it."""


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did, or would do (``dry_run``, or before confirmation)."""

    ref: StackRef
    version: int
    version_id: str
    source_key: str
    current_key: str | None
    diff: DeploymentDiff
    reencrypted: bool = False
    dry_run: bool = False
    written: bool = False
    unchanged: bool = False
    cancelled: bool = False
    save: SaveResult | None = None
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": str(self.ref), "version": self.version, "id": self.version_id, "source": self.source_key,
            "current": self.current_key, "dryRun": self.dry_run, "written": self.written,
            "unchanged": self.unchanged, "cancelled": self.cancelled, "reencrypted": self.reencrypted,
            "save": self.save.to_dict() if self.save else None, "warnings": list(self.warnings),
            "diff": self.diff.to_dict(),
        }


def _provider_label(sp: Any) -> str:
    if not isinstance(sp, dict) or not sp.get("type"):
        return "no secrets provider"
    raw = sp.get("state")
    state: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if sp["type"] == "cloud" and state.get("url"):
        from ..backend.urls import redact_url

        return f"cloud {redact_url(str(state['url']))}"
    if sp["type"] == "passphrase" and isinstance(state.get("salt"), str):
        return f"passphrase with salt {state['salt'].split(':v1:')[0]}"
    return str(sp["type"])


def same_secrets_provider(a: Any, b: Any) -> bool:
    """Same type and same state (Pulumi's ``AreCompatible`` compares the raw state bytes)."""
    a = a if isinstance(a, dict) else {}
    b = b if isinstance(b, dict) else {}
    same_type = json_equal(a.get("type") or None, b.get("type") or None)
    return same_type and json_equal(a.get("state"), b.get("state"))


def with_secrets_providers(deployment: Mapping[str, Any], sp: Any) -> dict[str, Any]:
    """A copy of ``deployment`` with ``secrets_providers`` = ``sp``, in Go's field order (after manifest)."""
    out: dict[str, Any] = {}
    for k, v in deployment.items():
        if k == "secrets_providers":
            continue
        out[k] = v
        if k == "manifest" and sp is not None:
            out["secrets_providers"] = copy.deepcopy(sp)
    if sp is not None and "secrets_providers" not in out:
        out = {"secrets_providers": copy.deepcopy(sp), **out}
    return out


def has_ciphertext(deployment: Mapping[str, Any]) -> bool:
    """True when the deployment holds at least one encrypted (ciphertext) secret."""
    from ..secrets import iter_secrets

    return any(isinstance(s.get("ciphertext"), str) for _, s in iter_secrets(deployment))


def align_secrets(deployment: dict[str, Any], current_sp: Any, keys: Keys | None, what: str
                  ) -> tuple[dict[str, Any], bool]:
    """``deployment`` made consistent with the current secrets provider: (deployment, re-encrypted?).

    Same provider, or no current provider: unchanged. Different provider: re-encrypted from the old
    key to the current one, which needs both keys; without them a :class:`SecretsError` explains why.
    """
    from ..secrets import reencrypt_deployment

    version_sp = deployment.get("secrets_providers")
    if not current_sp or same_secrets_provider(version_sp, current_sp):
        return deployment, False
    if not has_ciphertext(deployment):
        return with_secrets_providers(deployment, current_sp), False
    explain = (f"{what} was encrypted by another secrets provider ({_provider_label(version_sp)}) than the "
               f"current checkpoint ({_provider_label(current_sp)}); restoring it re-encrypts its secrets "
               f"with the current key, which needs both keys")
    if keys is None:
        raise SecretsError(f"{explain}: no keys were given")
    try:
        old, new = keys(version_sp), keys(current_sp)
        out = reencrypt_deployment(deployment, old, new)
    except PulumiDiyError as e:
        from ..errors import IncorrectPassphrase
        from ..secrets.passphrase import OLD_PASSPHRASE_HINT

        hint = f" ({OLD_PASSPHRASE_HINT})" if isinstance(e, IncorrectPassphrase) else ""
        raise SecretsError(f"{explain}: {e.message}{hint}") from e
    return with_secrets_providers(out, current_sp), True


def as_current_checkpoint(src: Checkpoint, fqn: str, deployment: dict[str, Any] | None, style: JsonStyle
                          ) -> Checkpoint:
    """A checkpoint to write as the current stack file: ``deployment`` under the stack's FQN, the source's
    version and features (versions 0-2 become 3, as any Pulumi save does), in ``style``."""
    from ..state import new_checkpoint_doc

    doc = new_checkpoint_doc(fqn, deployment, src.features)
    if src.version == 4:
        doc["version"] = 4
    return dataclasses.replace(src, version=doc["version"], features=list(doc.get("features", [])), stack=fqn,
                               latest=deployment, doc=doc, style=style, raw=b"")


def check_restorable(deployment: dict[str, Any] | None, what: str) -> None:
    """Refuse a deployment that Pulumi's integrity checks would reject."""
    from ..state import check_integrity

    if deployment is None:
        return
    problems = check_integrity(deployment)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CheckpointCorrupt(f"{what} fails Pulumi's integrity checks, refusing to restore it: "
                                f"{problems[0].message}{more}")


def check_urns_belong(deployment: dict[str, Any] | None, ref: StackRef, what: str) -> None:
    """Refuse a deployment whose resources belong to another stack name or project (a version saved
    before `pulumi stack rename`): Pulumi would create every resource anew and delete the old ones."""
    for res in (deployment or {}).get("resources") or []:
        urn = res.get("urn") if isinstance(res, dict) else None
        if not isinstance(urn, str) or not urn.startswith("urn:pulumi:") or urn.count("::") < 3:
            continue
        stack, project = urn[len("urn:pulumi:"):].split("::", 2)[:2]
        if stack != ref.name or (ref.project is not None and project != ref.project):
            raise UsageError(
                f"{what} holds resources of stack {project}/{stack} ({urn}): it was saved before the stack was "
                f"renamed or moved, and restoring it would make Pulumi replace every resource. Rename the stack "
                f"back (`pulumi stack rename {stack}`), restore there, and rename it again")


def reveal_for(keys: Keys | None, sp: Any) -> Reveal | None:
    """A diff ``reveal`` over ``keys``, or None when no manager can be had for ``sp``."""
    if keys is None:
        return None
    try:
        return secret_reader(keys(sp))
    except PulumiDiyError:
        return None


def _warnings(diff: DeploymentDiff | None, deployment: dict[str, Any] | None, what: str) -> tuple[str, ...]:
    out = []
    pending = len((deployment or {}).get("pending_operations") or [])
    if pending:
        out.append(f"{what} has {pending} pending operation(s): the update that wrote it was interrupted")
    if diff is None:  # nothing readable to compare with
        return tuple(out)
    # The diff runs current -> restored: "remove" = resources the restore drops, "add" = ones it brings back.
    dropped, back = diff.count("remove"), diff.count("add")
    if dropped:
        out.append(f"{dropped} resource(s) of the current state are not in {what}: Pulumi will stop managing "
                   f"them (they keep existing in the cloud; `pulumi refresh` or `pulumi import` them)")
    if back:
        out.append(f"{back} resource(s) in {what} are no longer in the current state: if they were deleted, "
                   f"run `pulumi refresh` after restoring")
    return tuple(out)


def restore_version(backend: Backend, ref: StackRef, spec: str | int, *, keys: Keys | None = None,
                    reveal_keys: Keys | None = None, dry_run: bool = False,
                    confirm: Callable[[RestoreResult], bool] | None = None) -> RestoreResult:
    """Write history version ``spec`` of ``ref`` as its current checkpoint.

    ``keys`` unlocks secrets providers for re-encryption (needed only when the version used another
    provider); ``reveal_keys`` is used to compare secrets in the summary (None: ciphertexts only).
    With ``dry_run`` nothing is locked or written. ``confirm`` is called under the lock with the
    exact plan; returning False cancels.
    """
    listing = list_versions(backend, ref)
    version = resolve_version(listing, spec)
    source = read_version_checkpoint(backend, version)
    assert version.checkpoint is not None  # read_version_checkpoint raised otherwise
    source_key = version.checkpoint.key
    what = f"version {version.version} of {ref}"
    if source.latest is None:
        raise UsageError(f"{what} is an empty checkpoint (no deployment): nothing to restore")

    def plan(current_key: str) -> tuple[RestoreResult, Checkpoint]:
        assert source.latest is not None
        current, unreadable = _read_current(backend, current_key)
        current_sp = current.secrets_providers if current is not None else None
        deployment, reencrypted = align_secrets(copy.deepcopy(source.latest), current_sp, keys, what)
        check_restorable(deployment, what)
        check_urns_belong(deployment, ref, what)
        cp = as_current_checkpoint(source, ref.fqn, deployment, current.style if current else source.style)
        diff = diff_deployments(current.latest if current else None, deployment,
                                reveal_old=reveal_for(reveal_keys, current_sp) if current else None,
                                reveal_new=reveal_for(reveal_keys, deployment.get("secrets_providers")))
        unchanged = (current is not None and json_equal(current.latest, deployment)
                     and current.features == cp.features)
        warnings = _warnings(diff if current is not None else None, deployment, what)
        if unreadable is not None:
            warnings = (f"the current checkpoint cannot be read ({unreadable}); restoring replaces it (its bytes "
                        f"are kept in backups/ and .bak), and the restored version keeps its own secrets provider "
                        f"({_provider_label(deployment.get('secrets_providers'))})", *warnings)
        result = RestoreResult(ref, version.version, version.id, source_key, current_key, diff,
                               reencrypted=reencrypted, dry_run=dry_run, unchanged=unchanged, warnings=warnings)
        return result, cp

    if dry_run:
        return plan(backend.current_object(ref).key)[0]

    from ..writer import save_checkpoint

    with backend.lock(ref, reason="history restore"):
        result, cp = plan(backend.current_object(ref).key)
        if result.unchanged:
            return result
        if confirm is not None and not confirm(result):
            return dataclasses.replace(result, cancelled=True)
        saved = save_checkpoint(backend, ref, cp, backup=True)
        backend.read_checkpoint(ref)  # what we wrote must read back
    return dataclasses.replace(result, written=True, save=saved)


def _read_current(backend: Backend, key: str) -> tuple[Checkpoint | None, str | None]:
    """The current checkpoint, or (None, why) when it is corrupt: rolling back from a damaged file is
    what a restore is for. A file from a newer Pulumi (unsupported version) is not overwritten."""
    from ..errors import CorruptInput

    data = backend.store.read(key)
    try:
        return backend.parse_object(key, data), None
    except (CorruptInput, CheckpointCorrupt) as e:
        return None, e.message
