"""History on every storage kind: histories as Pulumi writes them (compact/indented, gzip/zstd, project
and legacy layouts), restore (then export = the version), secrets-provider consistency, prune rules,
deleted stacks, and fault injection at every write of a restore."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from pulumi_diy.backend.layout import BACKUPS_DIR, HISTORY_DIR, STACKS_DIR, StackRef
from pulumi_diy.errors import CheckpointCorrupt, Conflict, SecretsError, StackNotFound, StorageError, UsageError
from pulumi_diy.history import (
    export_version,
    history_feed,
    list_deleted_stacks,
    list_history,
    list_versions,
    prune_history,
    read_version_checkpoint,
    restore_deleted_stack,
    restore_version,
    show_entry,
)
from pulumi_diy.secrets import PassphraseManager, manager_from_secrets_providers, reveal_deployment
from pulumi_diy.state import Compression, compress, decompress, detect_style, dumps, export_document
from pulumi_diy.synth import SynthSpec, generate, remove_stack
from tests.backends import BackendTarget, put

PASSPHRASE = "demo-passphrase"
VARIANTS = {
    "compact": {},
    "indented-gzip": {"compression": {"app/dev": "gzip"}, "indented": {"app/dev"}},
    "compact-zstd": {"compression": {"app/dev": "zstd"}},
    "legacy-indented": {"legacy": True, "indented": {"app/dev"}},
}


def keys(sp: Any) -> Any:
    return manager_from_secrets_providers(sp, passphrase=lambda: PASSPHRASE)


def make(target: BackendTarget, variant: str = "compact", history: int = 4) -> tuple[Any, StackRef]:
    backend = target.open()
    spec = SynthSpec(projects=["app"], stacks=["dev"], resources=10, history=history, backups=history,
                     **VARIANTS[variant])  # type: ignore[arg-type]
    generate(backend, spec)
    backend = target.open()  # fresh: meta.yaml (or its absence) decides the layout
    return backend, StackRef(None if spec.legacy else "app", "dev")


def keys_under(backend: Any, prefix: str) -> dict[str, bytes]:
    return {o.key: backend.store.read(o.key) for o in backend.store.list(prefix)}


def current_content(backend: Any, ref: StackRef) -> tuple[str, bytes]:
    obj = backend.current_object(ref)
    return obj.key, decompress(backend.store.read(obj.key), obj.key)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_history_as_pulumi_writes_it(target: BackendTarget, variant: str) -> None:
    backend, ref = make(target, variant)
    page = list_history(backend, ref, limit=3)
    assert page.total == 4
    assert [e.version for e in page.entries] == [4, 3, 2, 1][:3]
    assert [e.message for e in page.entries] == ["Deploy app change #4", "Deploy app change #3",
                                                 "Deploy app change #2"]
    assert all(e.error is None and e.result == "succeeded" and e.user for e in page.entries)
    feed = history_feed(backend, limit=2)
    assert [(e.ref, e.version) for e in feed.entries] == [(ref, 4), (ref, 3)] and feed.total == 4
    details = show_entry(backend, ref, 2)
    assert details.checkpoint is not None and details.checkpoint.resource_count == 6
    assert details.masked_config["app:dbPassword"] == "[secret]"
    # The latest history checkpoint is a copy of the current stack file.
    latest = read_version_checkpoint(backend, list_versions(backend, ref).versions[-1])
    assert export_version(backend, ref, "latest") == export_document(latest)
    assert export_version(backend, ref, "current") == export_document(latest)


def test_history_files_written_by_pulumi_byte_for_byte(target: BackendTarget) -> None:
    # The format doc's compact UpdateInfo example, gzip'd as Pulumi stores it with PULUMI_DIY_BACKEND_GZIP.
    entry = (b'{"kind":"update","startTime":1755770400,"message":"","environment":{"exec.kind":"cli",'
             b'"pulumi.arch":"amd64","pulumi.os":"linux","pulumi.version":"v3.259.0","updatePlan":"false"},'
             b'"config":{"proj:db":{"secure":"v1:AAAA"},"proj:name":"x"},"version":0,"result":"succeeded",'
             b'"endTime":1755770432,"resourceChanges":{"create":2}}')
    checkpoint = b'{"version":3,"checkpoint":{"stack":"organization/proj/dev"}}'
    hdir = f"{HISTORY_DIR}/proj/dev"
    gz = Compression.GZIP
    put(target.open(), {".pulumi/meta.yaml": "version: 1\n",
                        f"{STACKS_DIR}/proj/dev.json.gz": compress(checkpoint, gz),
                        f"{hdir}/dev-1755770432123456789.history.json.gz": compress(entry, gz),
                        f"{hdir}/dev-1755770432123456789.checkpoint.json.gz": compress(checkpoint, gz)})
    backend = target.open()
    (e,) = list_history(backend, StackRef("proj", "dev")).entries
    d = e.to_dict()
    assert (d["version"], d["kind"], d["startTime"], d["endTime"], d["resourceChanges"]) == (
        1, "update", "2025-08-21T10:00:00.000Z", "2025-08-21T10:00:32.000Z", {"create": 2})
    assert d["config"] == {"proj:db": {"secret": True}, "proj:name": {"value": "x", "secret": False}}
    stub = b'{\n    "version": 3,\n    "deployment": null\n}\n'
    assert export_version(backend, StackRef("proj", "dev"), 1) == stub


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_restore_then_export_equals_the_version(target: BackendTarget, variant: str) -> None:
    backend, ref = make(target, variant)
    old_key, old_content = current_content(backend, ref)
    history_before = keys_under(backend, HISTORY_DIR)
    backups_before = set(keys_under(backend, BACKUPS_DIR))
    expected = export_version(backend, ref, 2)

    dry = restore_version(backend, ref, 2, dry_run=True)
    assert not dry.written and current_content(backend, ref) == (old_key, old_content)
    assert dry.diff.summary["remove"] == 4  # versions differ by 2 resources per update

    result = restore_version(backend, ref, "-2")
    assert result.written and result.version == 2 and not result.reencrypted
    assert export_version(backend, ref, "current") == expected
    new_key, new_content = current_content(backend, ref)
    assert new_key == old_key  # same compression
    assert detect_style(new_content).indent == ("indented" in variant)
    cp = backend.read_checkpoint(ref)
    assert cp.stack == ref.fqn
    # The previous checkpoint was backed up first; history was not rewritten.
    new_backups = set(keys_under(backend, BACKUPS_DIR)) - backups_before
    assert len(new_backups) == 1
    (backup,) = new_backups
    assert decompress(backend.store.read(backup), backup) == old_content
    assert decompress(backend.store.read(old_key + ".bak"), old_key) == old_content
    assert keys_under(backend, HISTORY_DIR) == history_before
    # Restoring the same version again is a no-op.
    assert restore_version(backend, ref, 2).unchanged


def test_restore_reencrypts_a_version_from_another_secrets_provider(target: BackendTarget) -> None:
    backend, ref = make(target)
    listing = list_versions(backend, ref)
    version = listing.versions[1]
    assert version.checkpoint is not None
    source = read_version_checkpoint(backend, version)
    assert source.latest is not None
    # Re-key version 2 with a new salt (as after `pulumi stack change-secrets-provider passphrase`).
    other = PassphraseManager.new(PASSPHRASE)
    old = keys(source.latest["secrets_providers"])
    from pulumi_diy.secrets import reencrypt_deployment

    rekeyed = reencrypt_deployment(source.latest, old, other)
    doc = {"version": 3, "checkpoint": {"stack": ref.fqn, "latest": rekeyed}}
    put(backend, {version.checkpoint.key: dumps(doc)})
    current_sp = backend.read_checkpoint(ref).secrets_providers
    before = current_content(backend, ref)

    with pytest.raises(SecretsError, match="another secrets provider"):
        restore_version(backend, ref, 2)
    wrong = lambda sp: manager_from_secrets_providers(sp, passphrase=lambda: "wrong")  # noqa: E731
    with pytest.raises(SecretsError, match="needs both keys"):
        restore_version(backend, ref, 2, keys=wrong)
    assert current_content(backend, ref) == before

    result = restore_version(backend, ref, 2, keys=keys, reveal_keys=keys)
    assert result.written and result.reencrypted
    cp = backend.read_checkpoint(ref)
    assert cp.secrets_providers == current_sp
    assert cp.latest is not None
    revealed = reveal_deployment(cp.latest, keys(current_sp))
    assert revealed["resources"] == reveal_deployment(rekeyed, other)["resources"]


def test_restore_refuses_a_version_that_fails_integrity(target: BackendTarget) -> None:
    backend, ref = make(target)
    version = list_versions(backend, ref).versions[0]
    assert version.checkpoint is not None
    cp = read_version_checkpoint(backend, version)
    doc = copy.deepcopy(cp.doc)
    doc["checkpoint"]["latest"]["manifest"]["magic"] = "0" * 64
    put(backend, {version.checkpoint.key: dumps(doc)})
    before = current_content(backend, ref)
    with pytest.raises(CheckpointCorrupt, match="magic cookie"):
        restore_version(backend, ref, 1)
    assert current_content(backend, ref) == before


def test_history_pages_report_exact_sizes(target: BackendTarget) -> None:
    backend, ref = make(target)
    page = list_history(target.open(use_cache=False), ref, limit=2)
    sizes = {o.key: o.size for o in backend.store.list(backend.layout.history_dir(ref), recursive=False)}
    assert [e.checkpoint_size for e in page.entries] == [sizes[e.checkpoint_key] for e in page.entries]
    assert all(s > 0 for s in sizes.values())


def test_restore_refuses_a_version_saved_under_another_stack_name(target: BackendTarget) -> None:
    # As `pulumi stack rename dev dev2` leaves it: history moved to the new name, URNs inside unchanged.
    backend, ref = make(target)
    version = list_versions(backend, ref).versions[0]
    assert version.checkpoint is not None
    cp = read_version_checkpoint(backend, version)
    doc = copy.deepcopy(cp.doc)
    for res in doc["checkpoint"]["latest"]["resources"]:
        res["urn"] = res["urn"].replace("urn:pulumi:dev::", "urn:pulumi:dev-old::", 1)
        if res.get("parent"):
            res["parent"] = res["parent"].replace("urn:pulumi:dev::", "urn:pulumi:dev-old::", 1)
    put(backend, {version.checkpoint.key: dumps(doc)})
    before = current_content(backend, ref)
    with pytest.raises(UsageError, match=r"resources of stack app/dev-old .*pulumi stack rename dev-old"):
        restore_version(backend, ref, 1)
    assert current_content(backend, ref) == before


def test_restore_rolls_back_from_a_corrupt_current_checkpoint(target: BackendTarget) -> None:
    backend, ref = make(target)
    key, _ = current_content(backend, ref)
    broken = b'{"version":3,"checkpoint":{"stack":"org'  # truncated by a crash or a bad hand edit
    put(backend, {key: broken})
    with pytest.raises(CheckpointCorrupt):
        backend.read_checkpoint(ref)
    plan = restore_version(backend, ref, "latest", keys=keys, dry_run=True)
    assert not plan.written and "cannot be read" in plan.warnings[0]
    result = restore_version(backend, ref, "latest", keys=keys)
    assert result.written and result.save is not None and result.save.backup_key is not None
    assert backend.store.read(result.save.backup_key) == broken  # the damaged bytes are kept
    version = list_versions(backend, ref).versions[-1]
    assert version.checkpoint is not None
    restored = backend.read_checkpoint(ref)
    assert restored.latest == read_version_checkpoint(backend, version).latest


@pytest.mark.parametrize(("keep", "days", "left"), [
    (2, None, 2), (None, 6, 2), (3, 6, 3), (1, None, 1), (9, None, 5), (1, 30, 5)])
def test_prune_keeps_exactly_what_the_rule_says(target: BackendTarget, keep: int | None, days: int | None,
                                                left: int) -> None:
    backend, ref = make(target, history=5)
    versions = list_versions(backend, ref).versions
    stacks_before = keys_under(backend, STACKS_DIR)
    backups = sorted(o.key for o in backend.store.list(backend.layout.backups_dir(ref)))
    # "now" = 2 days after the newest entry; synthetic updates are ~3 days apart.
    now = versions[-1].nanos / 1e9 + 2 * 86400
    gone = len(versions) - left
    expected_bytes = sum(v.size for v in versions[:gone]) + sum(
        o.size for o in backend.store.list(backend.layout.backups_dir(ref)) if o.key in backups[:gone])
    result = prune_history(backend, [ref], keep=keep, older_than=days * 86400 if days else None, now=now)
    remaining = list_versions(backend, ref)
    assert [v.nanos for v in remaining.versions] == [v.nanos for v in versions[gone:]]
    assert [v.version for v in remaining.versions] == list(range(1, left + 1))
    assert all(v.checkpoint is not None for v in remaining.versions)
    assert remaining.orphans == ()
    assert sorted(o.key for o in backend.store.list(backend.layout.backups_dir(ref))) == backups[gone:]
    assert keys_under(backend, STACKS_DIR) == stacks_before  # current checkpoint and .bak untouched
    assert (result.entries_removed, result.backups_removed, result.bytes) == (gone, gone, expected_bytes)


def test_deleted_stacks_are_listed_and_restored(target: BackendTarget) -> None:
    backend, ref = make(target)
    other = StackRef("app", "prod")
    last = export_version(backend, ref, "current")
    remove_stack(backend, ref)
    assert ref not in backend.stacks()
    (deleted,) = list_deleted_stacks(backend)
    assert deleted.ref == ref
    assert {c.kind for c in deleted.copies} == {"bak", "backup"} and len(deleted.copies) == 5
    assert deleted.newest.kind == "bak"  # written at `stack rm` time, newer than every backup
    oldest = deleted.copies[-1]

    dry = restore_deleted_stack(backend, ref, dry_run=True)
    assert not dry.written and dry.source.kind == "bak" and ref not in backend.stacks()
    # The default is the newest copy: the `.bak` holding the state at `stack rm` time.
    result = restore_deleted_stack(backend, ref)
    assert result.written and backend.read_checkpoint(ref).stack == ref.fqn
    assert export_version(backend, ref, "current") == last
    assert list_deleted_stacks(backend) == []
    with pytest.raises(Conflict):
        restore_deleted_stack(backend, ref)
    with pytest.raises(StackNotFound, match="no backup"):
        restore_deleted_stack(backend, other)

    remove_stack(backend, ref)
    result = restore_deleted_stack(backend, ref, source=oldest.id)
    assert result.written and result.source == oldest and result.resource_count == 4
    assert export_version(backend, ref, "current") == export_document(
        backend.parse_object(oldest.key, backend.store.read(oldest.key)))


class Crash(StorageError):
    """A simulated kill: this and every later storage mutation fails."""


class CrashingStore:
    """Wraps a Store; the k-th mutation (write/copy/create/delete) and all after it fail."""

    MUTATIONS = ("write", "copy", "create", "delete")

    def __init__(self, inner: Any, crash_at: int | None) -> None:
        self._inner = inner
        self.crash_at = crash_at
        self.mutations: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self.MUTATIONS:
            return attr

        def mutate(*args: Any, **kwargs: Any) -> Any:
            if self.crash_at is not None and len(self.mutations) >= self.crash_at:
                raise Crash(f"simulated crash before {name} {args[0]}")
            self.mutations.append(f"{name} {args[0]}")
            return attr(*args, **kwargs)

        return mutate


def _crash_points(target: BackendTarget, run: Callable[[Any, StackRef], Any]) -> int:
    backend, ref = make(target)
    store = CrashingStore(backend.store, None)
    backend.store = store
    run(backend, ref)
    return len(store.mutations)


@pytest.mark.parametrize(("kind", "variant"), [
    ("file", "compact"), ("file", "indented-gzip"), ("s3", "compact")])
def test_a_crash_at_any_write_of_a_restore_leaves_the_stack_readable(
        target_factory: Callable[[str], BackendTarget], kind: str, variant: str) -> None:
    def run(backend: Any, ref: StackRef) -> Any:
        return restore_version(backend, ref, 1)

    points = _crash_points(target_factory(kind), run)
    assert points >= 5  # lock, backup copy, .bak copy, write, unlock
    for k in range(points):
        target = target_factory(kind)
        backend, ref = make(target, variant)
        _, old_content = current_content(backend, ref)
        backend.store = CrashingStore(backend.store, k)
        with pytest.raises(Crash):
            run(backend, ref)
        fresh = target.open()
        assert fresh.read_checkpoint(ref).latest is not None  # always readable
        copies = [o.key for o in fresh.store.list(STACKS_DIR) if o.key.startswith(f"{STACKS_DIR}/app/dev.")]
        copies += [o.key for o in fresh.store.list(BACKUPS_DIR)]
        contents = [decompress(fresh.store.read(key), key) for key in copies]
        assert old_content in contents, f"old checkpoint lost after a crash at mutation {k}"


def test_a_crash_at_any_write_of_a_stack_restore_leaves_a_consistent_store(
        target_factory: Callable[[str], BackendTarget]) -> None:
    def run(backend: Any, ref: StackRef) -> Any:
        return restore_deleted_stack(backend, ref)

    def prepare() -> tuple[BackendTarget, Any, StackRef]:
        target = target_factory("file")
        backend, ref = make(target)
        remove_stack(backend, ref)
        return target, backend, ref

    _, backend, ref = prepare()
    store = CrashingStore(backend.store, None)
    backend.store = store
    run(backend, ref)
    for k in range(len(store.mutations)):
        target, backend, ref = prepare()
        (before,) = list_deleted_stacks(backend)
        backend.store = CrashingStore(backend.store, k)
        with pytest.raises(Crash):
            run(backend, ref)
        fresh = target.open()
        if ref in fresh.stacks():
            assert fresh.read_checkpoint(ref).latest is not None
        else:  # still deleted, with every copy intact
            assert list_deleted_stacks(fresh) == [before]
