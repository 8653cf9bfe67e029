"""Local-file specifics of the Store: what other processes can see while we write."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.backends import BackendTarget, make_target


@pytest.fixture
def local(request: pytest.FixtureRequest, tmp_path: Path) -> BackendTarget:
    return make_target("file", request, tmp_path)


def test_exclusive_create_never_puts_a_temporary_file_in_the_target_directory(
        local: BackendTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pulumi counts every file in a stack's lock directory as a lock: not even for an instant.
    store = local.open().store
    lock_dir = Path(store.path(".pulumi/locks/organization/p/s"))
    seen: list[list[str]] = []
    real_link = os.link

    def spy(src: str, dst: str) -> None:
        seen.append(sorted(os.listdir(lock_dir)))
        real_link(src, dst)

    monkeypatch.setattr(os, "link", spy)
    store.create(".pulumi/locks/organization/p/s/abc.json", b"{}")
    assert seen == [[]]
    assert os.listdir(lock_dir) == ["abc.json"]
    assert not [n for n in os.listdir(lock_dir.parent) if n.endswith(".tmp")]


def test_listing_skips_files_removed_while_listing(local: BackendTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    store = local.open().store
    for name in ("a.json", "b.json", "c.json"):
        store.write(f".pulumi/locks/x/{name}", b"{}")
    real_scandir = os.scandir

    class Racing:
        """The directory is read, then b.json is deleted before anyone stats it."""

        def __init__(self, path: str) -> None:
            with real_scandir(path) as it:
                self.entries = list(it)
            if path.endswith("/x"):
                os.remove(os.path.join(path, "b.json"))

        def __enter__(self) -> list[os.DirEntry[str]]:
            return self.entries

        def __exit__(self, *exc: object) -> None:
            return None

        def __iter__(self):  # type: ignore[no-untyped-def]
            return iter(self.entries)

    monkeypatch.setattr(os, "scandir", Racing)
    assert [o.name for o in store.list(".pulumi/locks/x")] == ["a.json", "c.json"]
