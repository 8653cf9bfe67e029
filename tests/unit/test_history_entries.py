"""History versions, entries, feed selection, prune rules and deleted-stack discovery (pure code),
plus list/show against a local backend (reads only what is shown, cache)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pulumi_diy.backend.backend import open_backend
from pulumi_diy.backend.layout import Layout, StackRef
from pulumi_diy.backend.store import ObjectInfo, Store
from pulumi_diy.config import resolve_settings
from pulumi_diy.errors import CorruptInput, PulumiDiyError, UsageError, VersionNotFound
from pulumi_diy.history.deleted import backup_copies, choose_copy, stack_file_copies
from pulumi_diy.history.entries import (
    config_json,
    list_history,
    mask_config,
    parse_update_info,
    pulumi_time,
    show_entry,
)
from pulumi_diy.history.feed import select_feed, split_history_objects
from pulumi_diy.history.prune import plan_stack, select_prunable
from pulumi_diy.history.versions import number_versions, parse_version_spec, resolve_version
from pulumi_diy.secrets import iter_config_secrets
from pulumi_diy.state import Compression, compress, dumps

REF = StackRef("proj", "dev")
T0 = 1_790_000_000_000_000_000


def obj(key: str, size: int = 10) -> ObjectInfo:
    return ObjectInfo(key, size, None, None)


def pair(n: int, stack: str = "dev", ext: str = "", hdir: str = ".pulumi/history/proj/dev"
         ) -> list[ObjectInfo]:
    t = T0 + n
    return [obj(f"{hdir}/{stack}-{t}.history.json{ext}", 100),
            obj(f"{hdir}/{stack}-{t}.checkpoint.json{ext}", 1000)]


# --- versions ---------------------------------------------------------------------------------


def test_versions_are_numbered_oldest_first_by_timestamp_and_stay_stable() -> None:
    objects = pair(30) + pair(10, ext=".gz") + pair(20, ext=".zst")
    objects.append(obj(".pulumi/history/proj/dev/notes.txt"))
    listing = number_versions(REF, objects)
    assert [(v.version, v.nanos - T0) for v in listing.versions] == [(1, 10), (2, 20), (3, 30)]
    assert listing.versions[0].checkpoint is not None
    assert listing.versions[0].checkpoint.key.endswith(".checkpoint.json.gz")
    grown = number_versions(REF, objects + pair(40))
    before = [(v.version, v.nanos) for v in listing.versions]
    assert [(v.version, v.nanos) for v in grown.versions][:3] == before
    assert grown.latest is not None and grown.latest.version == 4


def test_orphans_and_missing_checkpoints() -> None:
    objects = pair(10)[1:] + pair(20)[:1] + pair(30)
    listing = number_versions(REF, objects)
    assert [v.nanos - T0 for v in listing.versions] == [20, 30]
    assert listing.versions[0].checkpoint is None
    assert [g.nanos - T0 for g in listing.orphans] == [10]


@pytest.mark.parametrize(("spec", "expected"), [
    ("1", 1), ("3", 3), ("latest", 3), ("LATEST", 3), ("-1", 2), ("-2", 1), (2, 2), (-1, 2),
    (str(T0 + 10), 1),
])
def test_resolve_version_forms(spec: Any, expected: int) -> None:
    listing = number_versions(REF, pair(10) + pair(20) + pair(30))
    assert resolve_version(listing, spec).version == expected


@pytest.mark.parametrize(("spec", "error"), [
    ("0", UsageError), ("x", UsageError), ("1.5", UsageError), ("", UsageError), ("-0", UsageError),
    ("4", VersionNotFound), ("-3", VersionNotFound), (str(T0 + 11), VersionNotFound), ("current", UsageError),
])
def test_resolve_version_errors(spec: str, error: type[Exception]) -> None:
    listing = number_versions(REF, pair(10) + pair(20) + pair(30))
    with pytest.raises(error):
        resolve_version(listing, spec)


def test_empty_history_has_no_versions() -> None:
    with pytest.raises(VersionNotFound, match="no history"):
        resolve_version(number_versions(REF, []), "latest")
    assert parse_version_spec("current") == ("current", 0)


# --- entries --------------------------------------------------------------------------------


ENTRY = {"kind": "update", "startTime": 1755770400, "message": "deploy", "environment": {
    "git.author": "Alice", "git.head": "abc123", "ci.system": "GitHub", "ci.build.number": "7",
    "pulumi.version": "v3.259.0"}, "config": {"proj:db": {"secure": "v1:abc"}, "proj:name": "x"},
    "version": 0, "result": "succeeded", "endTime": 1755770432, "resourceChanges": {"create": 2}}


@pytest.mark.parametrize("compression", list(Compression))
def test_parse_update_info_any_compression(compression: Compression) -> None:
    assert parse_update_info(compress(dumps(ENTRY), compression), "h") == ENTRY


@pytest.mark.parametrize("data", [b"[]", b"{", b'{"startTime":"x"}', b'{"kind":1}', b'{"endTime":true}',
                                  b"\x1f\x8b\x08\x00trunc"])
def test_parse_update_info_rejects_bad_input(data: bytes) -> None:
    with pytest.raises(CorruptInput):
        parse_update_info(data, "h")


def test_pulumi_json_time_format() -> None:
    # `pulumi stack history --json` prints RFC 5424 with milliseconds in UTC.
    assert pulumi_time(1755770400) == "2025-08-21T10:00:00.000Z"
    assert pulumi_time(None) is None


def test_config_json_matches_pulumi_shape() -> None:
    config = {"p:a": "x", "p:s": {"secure": "v1:..."}, "p:o": {"b": [1, "<"]},
              "p:os": {"k": {"secure": "v1:"}}}
    assert config_json(config) == {
        "p:a": {"value": "x", "secret": False},
        "p:o": {"value": '{"b":[1,"\\u003c"]}', "objectValue": {"b": [1, "<"]}, "secret": False},
        "p:os": {"secret": True},
        "p:s": {"secret": True},
    }
    assert mask_config(config) == {"p:a": "x", "p:o": {"b": [1, "<"]}, "p:os": {"k": "[secret]"},
                                   "p:s": "[secret]"}


def test_config_json_on_upstream_config_representations(upstream: Path) -> None:
    # Every upstream `json.Marshal(config.Map)` shape (what history files hold) maps without error.
    for path in sorted((upstream / "pulumi" / "config-repr").glob("*.json")):
        config = json.loads(path.read_text())
        out = config_json(config)
        assert set(out) == set(config)
        for key, value in out.items():
            secure = any(True for _ in iter_config_secrets({key: config[key]}))  # {secure: str} leaves only
            assert value["secret"] == secure, path.name
            assert value["secret"] or "value" in value


# --- feed, prune and deleted stacks (pure selection) --------------------------------------------


def test_feed_selects_newest_across_stacks_with_version_numbers() -> None:
    objects = (pair(10) + pair(40) + pair(20, stack="prod", hdir=".pulumi/history/proj/prod")
               + pair(30, stack="web", hdir=".pulumi/history/other/web")
               + [obj(".pulumi/history/stray.json")])
    by_stack = split_history_objects(objects, project_mode=True)
    assert set(by_stack) == {REF, StackRef("proj", "prod"), StackRef("other", "web")}
    shown, total, stacks = select_feed(by_stack, since_nanos=None, project=None, limit=3)
    assert [(str(v.ref), v.version, v.nanos - T0) for v in shown] == [
        ("proj/dev", 2, 40), ("other/web", 1, 30), ("proj/prod", 1, 20)]
    assert (total, stacks) == (4, 3)
    shown, total, stacks = select_feed(by_stack, since_nanos=T0 + 25, project="proj", limit=None)
    assert [v.nanos - T0 for v in shown] == [40] and (total, stacks) == (1, 1)
    legacy = split_history_objects(pair(1, hdir=".pulumi/history/dev"), project_mode=False)
    assert set(legacy) == {StackRef(None, "dev")}


@pytest.mark.parametrize(("keep", "cutoff", "removed"), [
    (1, None, {0, 1, 2, 3}), (2, None, {0, 1, 2}), (5, None, set()), (9, None, set()),
    (None, 25, {0, 1}), (None, 10**9, {0, 1, 2, 3}),  # never the newest
    (3, 25, {0, 1}), (4, 25, {0}),  # both rules must agree
])
def test_select_prunable(keep: int | None, cutoff: int | None, removed: set[int]) -> None:
    assert select_prunable([10, 20, 30, 40, 50], keep=keep, cutoff=cutoff) == removed


def test_select_prunable_needs_a_valid_rule() -> None:
    with pytest.raises(UsageError):
        select_prunable([1], keep=None, cutoff=None)
    with pytest.raises(UsageError):
        select_prunable([1], keep=0, cutoff=None)


def test_plan_stack_removes_pairs_orphans_and_backups_never_stack_files() -> None:
    history = pair(5)[1:] + pair(10) + pair(20) + pair(30)  # 5 is an orphan checkpoint copy
    backups = [obj(f".pulumi/backups/proj/dev/dev.{T0 + n}.json", 500) for n in (10, 20, 30)]
    backups.append(obj(".pulumi/backups/proj/dev/README"))
    plan = plan_stack(REF, history, backups, keep=2, cutoff=None)
    kinds = sorted((i.kind, i.nanos - T0) for i in plan.items)
    assert kinds == [("backup", 10), ("checkpoint", 10), ("history", 10), ("orphan", 5)]
    assert plan.entries == 3 and plan.backups == 3
    assert plan.entries_removed == 1 and plan.backups_removed == 1
    assert plan.bytes == 100 + 1000 + 1000 + 500
    assert next(i.version for i in plan.items if i.kind == "history") == 1


def test_deleted_stack_copies_from_listings() -> None:
    layout = Layout(project_mode=True)
    stacks = [obj(".pulumi/stacks/proj/gone.json.bak"), obj(".pulumi/stacks/proj/live.json"),
              obj(".pulumi/stacks/proj/live.json.bak"), obj(f".pulumi/stacks/proj/gone.json.gz.{T0}"),
              obj(".pulumi/stacks/proj/gone.pulumi-tags"), obj(".pulumi/stacks/gone.json.bak")]
    found = stack_file_copies(layout, stacks)
    assert {(str(r), c.kind) for r, cs in found.items() for c in cs} == {
        ("proj/gone", "bak"), ("proj/live", "bak"), ("proj/gone", "retained")}
    backups = [obj(f".pulumi/backups/proj/gone/gone.{T0}.json.zst"), obj(".pulumi/backups/proj/gone/junk"),
               obj(f".pulumi/backups/gone/gone.{T0}.json")]
    found_b = backup_copies(layout, backups)
    assert {str(r): [c.id for c in cs] for r, cs in found_b.items()} == {"proj/gone": [str(T0)]}
    copies = tuple(found[StackRef("proj", "gone")])
    assert choose_copy(REF, copies, "bak").kind == "bak"
    with pytest.raises(VersionNotFound, match="available"):
        choose_copy(REF, copies, "123")


# --- against a local backend ----------------------------------------------------------------------


class CountingStore(Store):
    """Records every key read (single or batched) below `.pulumi/history/`."""

    reads: list[str]

    def read(self, key: str) -> bytes:
        self._note([key])
        return super().read(key)

    def read_many(self, keys: Any) -> Any:
        self._note(keys)
        return super().read_many(keys)

    def _note(self, keys: Any) -> None:
        self.reads.extend(k for k in keys if k.startswith(".pulumi/history/") and k not in self.reads)


def _backend(tmp_path: Path, n: int) -> Any:
    root = tmp_path / "state"
    files = {".pulumi/meta.yaml": b"version: 1\n"}
    for i in range(n):
        entry = dict(ENTRY, message=f"update {i + 1}", startTime=1755770400 + i * 60)
        files[f".pulumi/history/proj/dev/dev-{T0 + i}.history.json"] = dumps(entry)
        stub = b'{"version":3,"checkpoint":{"stack":"x"}}'
        files[f".pulumi/history/proj/dev/dev-{T0 + i}.checkpoint.json"] = stub
    for key, data in files.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(data)
    environ = {"PULUMI_DIY_CACHE_DIR": str(tmp_path / "c")}
    settings = resolve_settings(backend=f"file://{root}", environ=environ)
    backend = open_backend(settings=settings)
    store = CountingStore(backend.store.fs, backend.store.url, parallelism=8)
    store.reads = []
    backend.store = store
    return backend, store


def test_list_history_reads_only_the_entries_shown_and_caches_them(tmp_path: Path) -> None:
    backend, store = _backend(tmp_path, 30)
    page = list_history(backend, REF, limit=5)
    assert page.total == 30
    assert [e.version for e in page.entries] == [30, 29, 28, 27, 26]
    assert [e.message for e in page.entries][:2] == ["update 30", "update 29"]
    assert sorted(store.reads) == sorted(e.key for e in page.entries)  # one listing + the 5 shown
    store.reads.clear()
    again = list_history(backend, REF, limit=5, offset=2)
    assert [e.version for e in again.entries] == [28, 27, 26, 25, 24]
    assert len(store.reads) == 2  # 28..26 came from the cache
    assert len(list_history(backend, REF, limit=0).entries) == 30


def test_entry_json_keys_follow_pulumi_then_ours(tmp_path: Path) -> None:
    backend, _ = _backend(tmp_path, 1)
    (entry,) = list_history(backend, REF).entries
    d = entry.to_dict()
    assert list(d)[:9] == ["version", "kind", "startTime", "message", "environment", "config", "result",
                           "endTime", "resourceChanges"]
    assert d["startTime"] == "2025-08-21T10:00:00.000Z" and d["endTime"] == "2025-08-21T10:00:32.000Z"
    assert (d["duration"], d["user"], d["gitHead"]) == (32, "Alice", "abc123")
    assert (d["ciSystem"], d["ciBuildNumber"]) == ("GitHub", "7")
    assert d["config"]["proj:db"] == {"secret": True} and d["pulumiVersion"] == "v3.259.0"


def test_unreadable_entry_is_listed_with_its_error(tmp_path: Path) -> None:
    backend, _ = _backend(tmp_path, 2)
    (tmp_path / "state" / f".pulumi/history/proj/dev/dev-{T0 + 1}.history.json").write_bytes(b"{broken")
    entries = list_history(backend, REF).entries
    assert entries[0].error is not None and f"dev-{T0 + 1}.history.json" in entries[0].error
    assert entries[0].kind == "" and entries[0].to_dict()["error"] == entries[0].error
    assert entries[1].error is None and entries[1].kind == "update"


def test_show_entry_masks_config_and_summarises_checkpoint(tmp_path: Path) -> None:
    backend, _ = _backend(tmp_path, 3)
    details = show_entry(backend, REF, "-1")
    assert details.entry.version == 2 and details.total == 3
    assert details.masked_config == {"proj:db": "[secret]", "proj:name": "x"}
    assert details.checkpoint is not None and details.checkpoint.resource_count is None  # a stub
    assert "v1:abc" not in json.dumps(details.to_dict()["configMasked"])
    with pytest.raises(PulumiDiyError):
        show_entry(backend, REF, "9")


def test_history_of_a_missing_stack_is_an_error_and_of_a_new_stack_empty(tmp_path: Path) -> None:
    from pulumi_diy.errors import StackNotFound

    backend, _ = _backend(tmp_path, 0)
    with pytest.raises(StackNotFound):
        list_history(backend, StackRef("proj", "nope"))
    (tmp_path / "state" / ".pulumi/stacks/proj").mkdir(parents=True)
    (tmp_path / "state" / ".pulumi/stacks/proj/new.json").write_bytes(b'{"version":0,"checkpoint":{}}')
    page = list_history(backend, StackRef("proj", "new"))
    assert (page.total, page.entries) == (0, ())
