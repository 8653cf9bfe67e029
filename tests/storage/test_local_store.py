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


def _leave(path: Path, data: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_temporary_files_of_killed_writes_are_not_objects(local: BackendTarget) -> None:
    # A kill -9 between creating a write's temporary file and renaming it leaves the file behind
    # (empty or partial). Pulumi skips it (no state extension); listings must not show it either.
    backend = local.open(use_cache=False)
    store = backend.store
    store.write(".pulumi/stacks/p/dev.json", b"{}")
    root = Path(store.path(""))
    _leave(root / ".pulumi/stacks/p/dev.json.18eac0984e15d025.tmp")
    _leave(root / ".pulumi/history/p/dev/dev-1.history.json.18eac0984e15d026.tmp", b'{"ver')
    _leave(root / ".pulumi/locks/organization/p/.abc.json.18eac0984e15d027.tmp")
    assert [o.key for o in store.list(".pulumi", recursive=True)] == [".pulumi/stacks/p/dev.json"]
    # Names that merely look alike are objects like any other.
    store.write(".pulumi/stacks/p/notes.tmp", b"x")
    store.write(".pulumi/stacks/p/x.123.tmp", b"x")
    assert [o.name for o in store.list(".pulumi/stacks/p")] == ["dev.json", "notes.tmp", "x.123.tmp"]


def test_taking_a_stack_lock_sweeps_only_that_stacks_leftovers(local: BackendTarget) -> None:
    from pulumi_diy.backend.layout import StackRef

    backend = local.open(use_cache=False)
    store = backend.store
    store.write(".pulumi/meta.yaml", b"version: 1\n")
    backend = local.open(use_cache=False)
    root = Path(backend.store.path(""))
    mine = [
        _leave(root / ".pulumi/stacks/p/dev.json.18eac0984e15d025.tmp"),
        _leave(root / ".pulumi/stacks/p/dev.json.gz.bak.18eac0984e15d026.tmp"),
        _leave(root / ".pulumi/stacks/p/dev.json.attrs.18eac0984e15d027.tmp"),
        _leave(root / ".pulumi/history/p/dev/dev-1.history.json.18eac0984e15d028.tmp"),
        _leave(root / ".pulumi/backups/p/dev/dev.1.json.18eac0984e15d029.tmp"),
    ]
    others = [  # another stack's (whose holder may be writing right now) and files that are not ours
        _leave(root / ".pulumi/stacks/p/dev.x.json.18eac0984e15d02a.tmp"),
        _leave(root / ".pulumi/stacks/p/dev2.json.18eac0984e15d02b.tmp"),
        _leave(root / ".pulumi/history/p/dev.x/dev.x-1.history.json.18eac0984e15d02c.tmp"),
        _leave(root / ".pulumi/stacks/p/dev.json.tmp"),
    ]
    with backend.lock(StackRef("p", "dev"), reason="test"):
        assert not [p for p in mine if p.exists()]
    assert all(p.exists() for p in others)


def test_a_malformed_local_backend_is_corrupt_input_not_a_bug(tmp_path: Path) -> None:
    from pulumi_diy.backend.backend import open_backend
    from pulumi_diy.errors import CorruptInput
    from pulumi_diy.stacks import list_stacks

    shapes = {"dir-meta": lambda r: (r / ".pulumi/meta.yaml").mkdir(parents=True),
              "file-pulumi": lambda r: (r / ".pulumi").write_text(""),
              "symlink-loop": lambda r: ((r / ".pulumi/stacks/p").mkdir(parents=True),
                                         (r / ".pulumi/stacks/p/a").symlink_to("b"),
                                         (r / ".pulumi/stacks/p/b").symlink_to("a"))}
    for name, make in shapes.items():
        root = tmp_path / name
        root.mkdir()
        make(root)
        with pytest.raises(CorruptInput, match="malformed backend"):
            list_stacks(open_backend(f"file://{root}", use_cache=False))
