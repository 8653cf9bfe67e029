from __future__ import annotations

from pathlib import Path

from pulumi_diy.backend.cache import Cache


def test_records_are_returned_only_for_matching_fingerprints(tmp_path: Path) -> None:
    c = Cache(str(tmp_path / "cache"), "backend-a")
    c.put_many("k", [("s1", "fp1", {"n": 1}), ("s2", "fp2", {"n": 2})])
    assert c.get_many("k", {"s1": "fp1", "s2": "changed", "s3": "fp3"}) == {"s1": {"n": 1}}
    other = Cache(str(tmp_path / "cache"), "backend-b")
    assert other.get_many("k", {"s1": "fp1"}) == {}
    c.prune("k", keep=["s2"])
    assert c.get_many("k", {"s1": "fp1", "s2": "fp2"}) == {"s2": {"n": 2}}
    assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o700


def test_disabled_and_broken_caches_are_harmless(tmp_path: Path) -> None:
    c = Cache(None, "b")
    c.put_many("k", [("s", "fp", 1)])
    assert not c.enabled and c.get_many("k", {"s": "fp"}) == {}
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    broken = Cache(str(blocker), "b")
    assert not broken.enabled
    broken.put_many("k", [("s", "fp", 1)])


def test_object_sizes_are_remembered_by_etag(tmp_path: Path) -> None:
    from pulumi_diy.backend.cache import ObjectSizes

    sizes = ObjectSizes(Cache(str(tmp_path / "cache"), "b"))
    sizes.put_sizes({"a": ("e1", 10), "b": ("e2", 0)})
    assert sizes.get_sizes({"a": "e1", "b": "e2", "c": "e3"}) == {"a": 10, "b": 0}
    assert sizes.get_sizes({"a": "changed"}) == {}
    reopened = ObjectSizes(Cache(str(tmp_path / "cache"), "b"))  # another process, later
    assert reopened.get_sizes({"a": "e1"}) == {"a": 10}
    assert ObjectSizes(Cache(None, "b")).get_sizes({"a": "e1"}) == {}
