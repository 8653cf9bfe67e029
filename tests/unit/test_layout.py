from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from pulumi_diy.backend.layout import (
    Layout,
    StackRef,
    legacy_stack_keys,
    parse_backup_name,
    parse_history_name,
    parse_stack_ref,
    select_current,
)
from pulumi_diy.errors import InvalidStackReference

PROJECT = Layout(project_mode=True)
LEGACY = Layout(project_mode=False)


def test_paths_project_layout() -> None:
    ref = StackRef("infra", "prod")
    assert ref.fqn == "organization/infra/prod"
    assert str(ref) == "infra/prod"
    assert PROJECT.stack_base(ref) == ".pulumi/stacks/infra/prod"
    assert PROJECT.history_dir(ref) == ".pulumi/history/infra/prod"
    assert PROJECT.backups_dir(ref) == ".pulumi/backups/infra/prod"
    assert PROJECT.lock_dir(ref) == ".pulumi/locks/organization/infra/prod"
    assert PROJECT.tags_key(ref) == ".pulumi/stacks/infra/prod.pulumi-tags"


def test_paths_legacy_layout() -> None:
    ref = StackRef(None, "dev")
    assert ref.fqn == "dev"
    assert LEGACY.stack_base(ref) == ".pulumi/stacks/dev"
    assert LEGACY.history_dir(ref) == ".pulumi/history/dev"
    assert LEGACY.lock_dir(ref) == ".pulumi/locks/dev"


@pytest.mark.parametrize("key,expected", [
    (".pulumi/stacks/p/dev.json", (StackRef("p", "dev"), ".json")),
    (".pulumi/stacks/p/dev.json.gz", (StackRef("p", "dev"), ".json.gz")),
    (".pulumi/stacks/p/dev.json.zst", (StackRef("p", "dev"), ".json.zst")),
    (".pulumi/stacks/p/dev.yaml", (StackRef("p", "dev"), ".yaml")),
    (".pulumi/stacks/p/dev.json.bak", None),
    (".pulumi/stacks/p/dev.pulumi-tags", None),
    (".pulumi/stacks/p/dev.json.attrs", None),
    (".pulumi/stacks/p/dev.json.1791121380882535017", None),
    (".pulumi/stacks/p/dev.json.1a2b.tmp", None),
    (".pulumi/stacks/dev.json", None),  # a legacy file is not a project stack
    (".pulumi/stacks/p/sub/dev.json", None),
    (".pulumi/stacks/bad project/dev.json", None),
    (".pulumi/stacks/p/bad name.json", None),
    (".pulumi/history/p/dev/dev-1.history.json", None),
])
def test_parse_stack_key_project(key: str, expected: object) -> None:
    assert PROJECT.parse_stack_key(key) == expected


def test_parse_stack_key_legacy() -> None:
    assert LEGACY.parse_stack_key(".pulumi/stacks/dev.json.gz") == (StackRef(None, "dev"), ".json.gz")
    assert LEGACY.parse_stack_key(".pulumi/stacks/p/dev.json") is None
    assert legacy_stack_keys([".pulumi/stacks/a.json", ".pulumi/stacks/a.json.bak", ".pulumi/stacks/p/b.json"]) \
        == [".pulumi/stacks/a.json"]


def test_parse_lock_key_both_layouts() -> None:
    assert PROJECT.parse_lock_key(".pulumi/locks/organization/p/dev/1234.json") == (StackRef("p", "dev"), "1234")
    assert PROJECT.parse_lock_key(".pulumi/locks/dev/1234.json") == (StackRef(None, "dev"), "1234")
    assert PROJECT.parse_lock_key(".pulumi/locks/organization/p/dev/1234.txt") is None


@pytest.mark.parametrize("text,project_mode,default,expected", [
    ("infra/prod", True, None, StackRef("infra", "prod")),
    ("organization/infra/prod", True, None, StackRef("infra", "prod")),
    ("prod", True, "infra", StackRef("infra", "prod")),
    ("dev", False, None, StackRef(None, "dev")),
    ("organization/p/dev", False, None, StackRef(None, "dev")),
])
def test_parse_stack_ref(text: str, project_mode: bool, default: str | None, expected: StackRef) -> None:
    assert parse_stack_ref(text, project_mode=project_mode, default_project=default) == expected


@pytest.mark.parametrize("text", ["prod", "acme/infra/prod", "a/b/c/d", "infra/bad name", "infra/"])
def test_parse_stack_ref_rejects(text: str) -> None:
    with pytest.raises(InvalidStackReference):
        parse_stack_ref(text, project_mode=True)


@dataclass(frozen=True)
class Obj:
    key: str
    mtime: datetime | None


def _t(s: int) -> datetime:
    return datetime.fromtimestamp(s, tz=timezone.utc)


def test_select_current_newest_mtime_wins() -> None:
    a = Obj("s.json", _t(10))
    b = Obj("s.json.gz", _t(20))
    c = Obj("s.json.zst", _t(5))
    assert select_current([a, b, c]) is b


def test_select_current_tie_goes_to_later_key() -> None:
    a = Obj("s.json", _t(10))
    b = Obj("s.json.gz", _t(10))
    assert select_current([b, a]) is b
    assert select_current([Obj("s.json.bak", _t(99))]) is None
    assert select_current([]) is None


def test_history_and_backup_names() -> None:
    h = parse_history_name("dev-1791121380882535017.history.json.gz")
    assert h is not None and (h.stack, h.nanos, h.kind, h.compression) == ("dev", 1791121380882535017, "history", ".gz")
    c = parse_history_name("my-stack-1791121380882535017.checkpoint.json")
    assert c is not None and c.stack == "my-stack" and c.kind == "checkpoint"
    assert parse_history_name("dev.json") is None
    assert parse_backup_name("dev.1791121380882535017.json.zst") == ("dev", 1791121380882535017, ".zst")
    assert parse_backup_name("dev.json") is None
