"""Value completion (pulumi_diy.cli.completion): what a TAB offers, where it comes from, and that it
agrees with the commands that will receive the value."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer

from pulumi_diy.backend.backend import open_backend
from pulumi_diy.backend.cache import Cache
from pulumi_diy.cli import completion, completion_sources
from pulumi_diy.cli.common import (
    LockIdOpt,
    SecretsProviderOpt,
    SortOpt,
    StackArg,
    StackSelectionArg,
    VersionArg,
)
from pulumi_diy.config import resolve_settings
from pulumi_diy.stacks import SUMMARY_KIND
from tests.backends import BackendTarget
from tests.cli.contract_helpers import cli_env, complete, make_backend
from tests.cli.helpers import run_json


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    home = tmp_path_factory.mktemp("completion")
    return make_backend(home / "backend", cache_dir=home / "cache"), home


def _target(url: str, home: Path) -> completion_sources.Target:
    target = completion_sources.target_for(url, str(home / "cache"), environ={"HOME": str(home)})
    assert target is not None
    return target


def test_cache_id_is_the_one_the_backend_files_records_under(backend: tuple[str, Path]) -> None:
    url, home = backend
    settings = resolve_settings(backend=url, environ={"HOME": str(home), "PULUMI_DIY_CACHE_DIR": str(home / "cache")})
    with open_backend(settings=settings) as opened:
        assert _target(url, home).backend_id == opened.cache.backend_id


def test_file_backend_is_listed_and_described_from_the_cache(backend: tuple[str, Path]) -> None:
    url, home = backend
    env = {"HOME": str(home), "PULUMI_DIY_CACHE_DIR": str(home / "cache")}
    target = _target(url, home)
    assert completion_sources.stack_names(target) == dict.fromkeys(["infra/dev", "infra/prod", "web/dev", "web/prod"],
                                                          "stack")
    run_json(["--backend", url, "stack", "ls"], env)  # fills the cache
    names = completion_sources.stack_names(target)
    assert sorted(names) == ["infra/dev", "infra/prod", "web/dev", "web/prod"]
    assert all(h.startswith("4 resources, updated 20") for h in names.values())


def test_a_slow_listing_falls_back_to_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "backend"
    (root / ".pulumi/stacks/app").mkdir(parents=True)
    (root / ".pulumi/stacks/app/new.json").write_text("{}")
    target = _target(f"file://{root}", tmp_path)
    cache = Cache(str(tmp_path / "cache"), target.backend_id)
    cache.put_many(SUMMARY_KIND, [(".pulumi/stacks/app/old.json", "fp", {"resource_count": 3})])
    cache.close()
    assert completion_sources.stack_names(target) == {"app/new": "stack"}
    monkeypatch.setattr(completion_sources, "LISTING_BUDGET", -1.0)
    assert completion_sources.stack_names(target) == {"app/old": "3 resources"}


def test_a_remote_backend_is_served_only_from_the_cache(tmp_path: Path) -> None:
    target = _target("gs://bucket/state", tmp_path)
    assert completion_sources.stack_names(target) == {}
    cache = Cache(str(tmp_path / "cache"), target.backend_id)
    cache.put_many(SUMMARY_KIND, [(".pulumi/stacks/infra/prod.json.zst", "fp", {"last_update": "2026-10-01T09:00Z"})])
    cache.close()
    assert completion_sources.stack_names(target) == {"infra/prod": "updated 2026-10-01"}
    other = _target("gs://other-bucket/state", tmp_path)
    assert completion_sources.stack_names(other) == {}


def test_a_broken_cache_is_no_suggestion_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache/cache-v1.sqlite3").write_bytes(b"not a database at all" * 100)
    target = _target("s3://bucket", tmp_path)
    assert completion_sources.cached_records(target, SUMMARY_KIND) == {}
    assert completion_sources.stack_names(target) == {}


def _agrees_with_the_history_commands(listing: Any, offered: list[tuple[str, str]]) -> None:
    """Every offered VERSION resolves, as the history commands resolve it, to the update its help dates."""
    from pulumi_diy.history.versions import resolve_version

    assert offered
    for value, help_text in offered:
        if value == "current":
            continue
        assert completion_sources._utc(resolve_version(listing, value).nanos) in help_text, (value, help_text)


def test_history_versions_are_numbered_like_the_history_commands(backend: tuple[str, Path]) -> None:
    from pulumi_diy.history import list_versions

    url, home = backend
    target = _target(url, home)
    with open_backend(settings=resolve_settings(backend=url, environ={"HOME": str(home)}), use_cache=False) as b:
        listing = list_versions(b, b.resolve("infra/prod"))
    assert completion_sources.history_ids(target, "infra", "prod") == ([v.nanos for v in listing.versions], True)
    offered = completion_sources.history_versions(target, "infra", "prod")
    assert [v for v, _ in offered] == ["latest", "3", "2", "1", "-1", "-2"]
    assert offered[0][1].startswith("version 3, ")
    _agrees_with_the_history_commands(listing, offered)
    ids = completion_sources.history_versions(target, "infra", "prod", "17")
    assert [v for v, _ in ids if len(v) > 2 and v.isdigit()] == [v.id for v in reversed(listing.versions)]
    _agrees_with_the_history_commands(listing, ids)


def test_history_versions_offer_the_newest_numbers_first(tmp_path: Path) -> None:
    from pulumi_diy.history import list_versions

    root = tmp_path / "backend"
    history = root / ".pulumi/history/app/prod"
    history.mkdir(parents=True)
    first = 1_790_000_000_000_000_000
    for n in range(45):
        (history / f"prod-{first + n * 3_600_000_000_000}.history.json").write_text("{}")
    target = _target(f"file://{root}", tmp_path)
    empty = [v for v, _ in completion_sources.history_versions(target, "app", "prod")]
    assert empty == ["latest", *map(str, range(45, 25, -1)), "-1", "-2", "-3", "-4", "-5"]
    # Once digits are typed, every number that starts with them (an old version is not out of reach).
    typed = [v for v, h in completion_sources.history_versions(target, "app", "prod", "2") if v.startswith("2")]
    assert typed == ["29", "28", "27", "26", "25", "24", "23", "22", "21", "20", "2"]
    with open_backend(settings=resolve_settings(backend=f"file://{root}", environ={"HOME": str(tmp_path)}),
                      use_cache=False) as b:
        listing = list_versions(b, b.resolve("app/prod"))
    _agrees_with_the_history_commands(listing, completion_sources.history_versions(target, "app", "prod"))
    _agrees_with_the_history_commands(listing, completion_sources.history_versions(target, "app", "prod", "2"))


def test_history_ids_of_a_remote_backend_come_from_the_cache(tmp_path: Path) -> None:
    from pulumi_diy.history.entries import ENTRY_KIND

    assert completion_sources.HISTORY_ENTRY_KIND == ENTRY_KIND
    target = _target("s3://bucket/x", tmp_path)
    cache = Cache(str(tmp_path / "cache"), target.backend_id)
    cache.put_many(ENTRY_KIND, [(f".pulumi/history/infra/prod/prod-{n}.history.json", "fp", {})
                                for n in (1791108120092285142, 1791371040258409929)])
    cache.close()
    got = completion_sources.history_versions(target, "infra", "prod")
    # Not numbered (only a full listing numbers versions): the ids, newest first, before a digit is typed.
    assert [v for v, _ in got] == ["latest", "1791371040258409929", "1791108120092285142"]
    assert got[1][1] == completion_sources._utc(1791371040258409929)
    assert completion_sources.history_versions(target, "infra", "dev") == []


def test_lock_ids_are_the_ones_lock_ls_shows(backend: tuple[str, Path]) -> None:
    url, home = backend
    env = {"HOME": str(home), "PULUMI_DIY_CACHE_DIR": str(home / "cache")}
    shown = {row["lockId"] for row in run_json(["--backend", url, "lock", "ls"], env)}
    target = _target(url, home)
    assert {i for i, _ in completion_sources.lock_ids(target, None)} == shown
    assert {i for i, _ in completion_sources.lock_ids(target, ("web", "prod"))} == shown
    assert completion_sources.lock_ids(target, ("infra", "prod")) == []
    assert all("@" in h for _, h in completion_sources.lock_ids(target, None))


def test_deleted_stacks_and_their_copies_are_what_stack_restore_sees(tmp_path: Path) -> None:
    from pulumi_diy.history import list_deleted_stacks

    url = make_backend(tmp_path / "backend", cache_dir=tmp_path / "cache")
    src, dest = tmp_path / "backend/.pulumi/backups/infra/dev", tmp_path / "backend/.pulumi/backups/infra/gone"
    dest.mkdir()
    for f in src.iterdir():
        (dest / f.name.replace("dev.", "gone.", 1)).write_bytes(f.read_bytes())
    target = _target(url, tmp_path)
    assert completion_sources.deleted_stacks(target) == [("infra/gone", "deleted stack")]
    with open_backend(settings=resolve_settings(backend=url, environ={"HOME": str(tmp_path)}), use_cache=False) as b:
        [gone] = list_deleted_stacks(b)
    offered = [v for v, _ in completion_sources.backup_ids(target, ("infra", "gone"))]
    assert offered[0] == "bak" and offered[1:] == [c.id for c in gone.copies if c.kind == "backup"]


# --- through Typer, as a shell would ask -----------------------------------------------------------------------


def _probe_app() -> typer.Typer:
    app = typer.Typer(add_completion=False)

    @app.callback()
    def root(backend: Annotated[str | None, typer.Option("--backend", "-b")] = None,
             cache_dir: Annotated[str | None, typer.Option("--cache-dir")] = None) -> None:
        """Probe."""

    @app.command("show")
    def show(stack: StackArg, version: VersionArg, lock_id: LockIdOpt = None, sort: SortOpt = "name") -> None:
        """Probe."""

    @app.command("export")
    def export(stack: StackArg, version: VersionArg) -> None:
        """Probe."""

    @app.command("move")
    def move(stack: StackArg, to: SecretsProviderOpt) -> None:
        """Probe."""

    @app.command("change-provider")
    def change_provider(to: SecretsProviderOpt, stack: StackSelectionArg = None) -> None:
        """Probe."""

    @app.command("verify")
    def verify(stack: StackSelectionArg = None) -> None:
        """Probe."""

    return app


def _complete(line: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("_TYPER_COMPLETE_ARGS", line)
    comp = completion.LinesComplete(typer.main.get_command(_probe_app()), {}, "pulumi-diy", "_PULUMI_DIY_COMPLETE")
    return comp.complete().splitlines()


def test_values_through_the_lines_protocol(backend: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    url, home = backend
    monkeypatch.setenv("HOME", str(home))
    base = f"pulumi-diy --backend {url} --cache-dir {home}/cache"
    assert [v.split("\t")[0] for v in _complete(f"{base} show web/", monkeypatch)] == ["web/dev", "web/prod"]
    assert _complete(f"{base} show organization/web/p", monkeypatch)[0].startswith("organization/web/prod")
    versions = [v.split("\t")[0] for v in _complete(f"{base} show infra/prod ", monkeypatch)]
    assert versions == ["latest", "3", "2", "1", "-1", "-2"]
    assert all(re.search(r"\t(version \d+, )?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", v)
               for v in _complete(f"{base} show infra/prod ", monkeypatch))  # each with its date
    assert len(_complete(f"{base} show infra/prod 17", monkeypatch)) == 3  # ids, once digits outgrow numbers
    exported = [v.split("\t")[0] for v in _complete(f"{base} export infra/prod ", monkeypatch)]
    assert exported[:3] == ["latest", "current", "3"]
    [lock] = _complete(f"{base} show web/prod 1 --lock-id ", monkeypatch)
    assert "\tci@" in lock
    assert _complete(f"{base} show web/prod 1 --sort=la", monkeypatch) == ["last-update"]
    assert [v.split("\t")[0] for v in _complete(f"{base} move infra/prod --to a", monkeypatch)] == [
        "awskms://", "azurekeyvault://"]


def test_a_bad_backend_completes_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _complete("pulumi-diy --backend http://cloud.example show ", monkeypatch) == []
    assert _complete("pulumi-diy --backend s3://b?bogus=1 show ", monkeypatch) == []


def test_fixed_vocabularies() -> None:
    ctx = typer.Context(typer.main.get_command(_probe_app()))
    assert [v for v, _ in completion.complete_duration(ctx, "3")] == ["3s", "3m", "3h", "3d", "3w"]
    assert "7d" in [v for v, _ in completion.complete_duration(ctx, "")]
    assert [v for v, _ in completion.complete_secrets_provider(ctx, "")] == [
        "passphrase", "awskms://", "azurekeyvault://", "gcpkms://", "hashivault://"]
    assert [v for v, _ in completion.complete_backend_url(ctx, "s")] == ["s3://"]
    assert json.dumps(completion.complete_sort(ctx, "")) == json.dumps(
        [["name", ""], ["last-update", ""], ["resources", ""], ["size", ""]])


# --- secrets: the shared types the secrets commands take ----------------------------------------------------


def _declared(param: Any) -> tuple[Any, ...]:
    return (param.name, tuple(param.opts), param.metavar, param.help, param.required, param.default, param.nargs)


def test_the_secrets_types_declare_what_the_secrets_commands_do(backend: tuple[str, Path],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # Switching `secrets verify/rotate/change-provider` to these types changes no help text, only adds completion.
    from pulumi_diy.cli import secrets

    real = typer.main.get_command(secrets.app).commands  # type: ignore[attr-defined]
    probe = typer.main.get_command(_probe_app()).commands  # type: ignore[attr-defined]
    for name in ("verify", "change-provider"):
        mine = {p.name: _declared(p) for p in probe[name].params}
        assert {p.name: _declared(p) for p in real[name].params if p.name in mine} == mine
    assert {p.name: _declared(p) for p in real["rotate"].params}["stack"] == _declared(probe["verify"].params[0])
    ls_stack = next(p for p in real["ls"].params if p.name == "stack")
    assert _declared(ls_stack) == _declared(probe["move"].params[0])  # StackArg
    url, home = backend
    monkeypatch.setenv("HOME", str(home))
    base = f"pulumi-diy --backend {url} --cache-dir {home}/cache"
    assert [v.split("\t")[0] for v in _complete(f"{base} verify web/", monkeypatch)] == ["web/dev", "web/prod"]
    assert [v.split("\t")[0] for v in _complete(f"{base} change-provider --to g", monkeypatch)] == ["gcpkms://"]
    assert [v.split("\t")[0] for v in _complete(f"{base} change-provider --to passphrase i", monkeypatch)] == [
        "infra/dev", "infra/prod"]


def test_secrets_commands_complete_stacks_and_providers(backend: tuple[str, Path]) -> None:
    url, home = backend
    env = cli_env(home)
    for command in ("ls", "verify", "rotate", "change-provider --to passphrase"):
        got = complete(f"pulumi-diy -b {url} secrets {command} web/", env)
        assert [line.split("\t")[0] for line in got.stdout.splitlines()] == ["web/dev", "web/prod"], command
    got = complete(f"pulumi-diy -b {url} secrets change-provider --to a", env)
    assert [line.split("\t")[0] for line in got.stdout.splitlines()] == ["awskms://", "azurekeyvault://"]


# --- remote backends (S3 on moto): served from what commands recorded in the local cache ---------------------
# The records the library writes when it lists lock and history directories (locking.list_locks,
# history.versions.list_versions), as completion_sources.cached_locks and history_ids read them.


def _record_lock_listing(b: Any, prefix: str, locks: list[Any]) -> None:
    b.cache.put_many(completion_sources.LOCK_LISTING_KIND,
                     [(prefix, "", {"listed": time.time(), "locks": [lock.to_dict() for lock in locks]})])


def _record_history_listing(b: Any, listing: Any) -> None:
    b.cache.put_many(completion_sources.HISTORY_LISTING_KIND, [(
        b.layout.history_dir(listing.ref), "", {"listed": time.time(), "ids": [v.nanos for v in listing.versions]})])


@pytest.fixture
def s3(target_factory: Callable[[str], BackendTarget]) -> tuple[BackendTarget, Path, dict[str, str]]:
    from pulumi_diy.synth import SynthSpec, generate

    t = target_factory("s3")
    spec = SynthSpec(projects=["infra", "web"], stacks=["prod"], resources=4, history=25, backups=0,
                     passphrase="remote", stale_locks={"web/prod", "infra/prod"})
    generate(t.open(use_cache=False), spec)
    home = Path(t._tmp)
    return t, home, {**t.env, "HOME": str(home), "PULUMI_DIY_CACHE_DIR": str(home / "cache")}


def test_lock_ids_of_a_remote_backend_come_from_the_recorded_listings(
        s3: tuple[BackendTarget, Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    from pulumi_diy.backend.layout import LOCKS_DIR
    from pulumi_diy.locking import list_locks

    t, home, env = s3
    target = _target(t.url, home)
    assert completion_sources.lock_ids(target, None) == []  # never listed: nothing, and no waiting on S3
    with t.open() as b:
        assert b.cache.backend_id == target.backend_id
        listed = list_locks(b)  # what `lock ls` shows
        _record_lock_listing(b, LOCKS_DIR, [s.lock for s in listed])
    assert len(listed) == 2
    offered = completion_sources.lock_ids(target, None)
    assert sorted(offered) == sorted((s.lock.lock_id, f"ci@ci-runner-7 since {s.lock.timestamp_text}")
                                     for s in listed)
    [web] = [s.lock.lock_id for s in listed if str(s.ref) == "web/prod"]
    monkeypatch.setenv("HOME", str(home))
    base = f"pulumi-diy --backend {t.url} --cache-dir {home}/cache"
    assert [v.split("\t")[0] for v in _complete(f"{base} show web/prod 1 --lock-id ", monkeypatch)] == [web]

    # `lock break` removes it; the next listing of that stack's directory replaces what the tree listing said.
    run_json(["--backend", t.url, "lock", "break", "web/prod", "--force", "--yes"], env)
    with t.open() as b:
        ref = b.resolve("web/prod")
        _record_lock_listing(b, b.layout.lock_dir(ref), [s.lock for s in list_locks(b, ref)])
    assert completion_sources.lock_ids(target, ("web", "prod")) == []
    assert [i for i, _ in completion_sources.lock_ids(target, None)] == [
        s.lock.lock_id for s in listed if str(s.ref) == "infra/prod"]
    # A listing of the keys alone still gives the ids (a reader of the records may skip the lock files).
    with t.open() as b:
        b.cache.put_many(completion_sources.LOCK_LISTING_KIND, [(LOCKS_DIR, "", {
            "listed": time.time(), "locks": [{"key": o.key} for o in b.store.list(LOCKS_DIR)]})])
    [(lock_id, holder)] = completion_sources.lock_ids(target, ("infra", "prod"))
    assert lock_id in {s.lock.lock_id for s in listed} and "not read" in holder


def test_history_versions_of_a_remote_backend_come_from_the_cache(
        s3: tuple[BackendTarget, Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    from pulumi_diy.history import list_versions

    t, home, env = s3
    target = _target(t.url, home)
    assert completion_sources.history_versions(target, "infra", "prod") == []
    run_json(["--backend", t.url, "history", "ls", "infra/prod"], env)  # reads (and caches) the newest 20
    with t.open() as b:  # as before any command recorded a listing of the history directory
        b.cache.prune(completion_sources.HISTORY_LISTING_KIND, keep=())
    with t.open(use_cache=False) as b:
        listing = list_versions(b, b.resolve("infra/prod"))
    assert len(listing.versions) == 25
    newest_ids = [v.id for v in reversed(listing.versions)]
    offered = completion_sources.history_versions(target, "infra", "prod")
    assert [v for v, _ in offered] == ["latest", *newest_ids[:20]]  # not only `latest` until digits are typed
    _agrees_with_the_history_commands(listing, offered)

    # Once a command recorded the whole listing, versions are numbered like the history commands do.
    with t.open() as b:
        _record_history_listing(b, listing)
    offered = completion_sources.history_versions(target, "infra", "prod")
    assert [v for v, _ in offered] == ["latest", *map(str, range(25, 5, -1)), "-1", "-2", "-3", "-4", "-5"]
    _agrees_with_the_history_commands(listing, offered)
    for typed in ("1", "179"):
        _agrees_with_the_history_commands(
            listing, [(v, h) for v, h in completion_sources.history_versions(target, "infra", "prod", typed)
                      if v.startswith(typed)])
    monkeypatch.setenv("HOME", str(home))
    lines = _complete(f"pulumi-diy --backend {t.url} --cache-dir {home}/cache show infra/prod 2", monkeypatch)
    assert [v.split("\t")[0] for v in lines] == ["25", "24", "23", "22", "21", "20", "2"]


def test_lock_ls_on_s3_fills_what_lock_ids_complete_from(s3: tuple[BackendTarget, Path, dict[str, str]]) -> None:
    t, home, env = s3
    from pulumi_diy.locking.manage import LOCK_LISTING_KIND

    assert LOCK_LISTING_KIND == completion_sources.LOCK_LISTING_KIND
    target = _target(t.url, home)
    shown = {row["lockId"] for row in run_json(["--backend", t.url, "lock", "ls"], env)}
    assert len(shown) == 2 and {i for i, _ in completion_sources.lock_ids(target, None)} == shown
    run_json(["--backend", t.url, "lock", "break", "web/prod", "--force", "--yes"], env)
    run_json(["--backend", t.url, "lock", "show", "web/prod"], env)  # one stack's directory, listed again
    assert completion_sources.lock_ids(target, ("web", "prod")) == []
    assert len(completion_sources.lock_ids(target, None)) == 1


def test_history_ls_on_s3_fills_what_versions_complete_from(s3: tuple[BackendTarget, Path, dict[str, str]]) -> None:
    t, home, env = s3
    from pulumi_diy.history.versions import HISTORY_LISTING_KIND

    assert HISTORY_LISTING_KIND == completion_sources.HISTORY_LISTING_KIND
    target = _target(t.url, home)
    run_json(["--backend", t.url, "history", "ls", "infra/prod", "--limit", "1"], env)
    assert completion_sources.history_ids(target, "infra", "prod")[1] is True
    assert [v for v, _ in completion_sources.history_versions(target, "infra", "prod")][:3] == ["latest", "25", "24"]


def test_a_file_listing_over_budget_falls_back_to_the_cached_locks(backend: tuple[str, Path],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from pulumi_diy.backend.layout import LOCKS_DIR
    from pulumi_diy.locking import list_locks

    url, home = backend
    target = _target(url, home)
    with open_backend(settings=resolve_settings(backend=url, environ={
            "HOME": str(home), "PULUMI_DIY_CACHE_DIR": str(home / "cache")})) as b:
        listed = list_locks(b)
        _record_lock_listing(b, LOCKS_DIR, [s.lock for s in listed])
    fresh = completion_sources.lock_ids(target, None)
    monkeypatch.setattr(completion_sources, "LISTING_BUDGET", -1.0)
    assert completion_sources.lock_ids(target, None) == fresh and len(fresh) == 1
