"""Value completion (pulumi_diy.cli.completion): what a TAB offers, where it comes from, and that it
agrees with the commands that will receive the value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pytest
import typer

from pulumi_diy.backend.backend import open_backend
from pulumi_diy.backend.cache import Cache
from pulumi_diy.cli import completion, completion_sources
from pulumi_diy.cli.common import LockIdOpt, SecretsProviderOpt, SortOpt, StackArg, VersionArg
from pulumi_diy.config import resolve_settings
from pulumi_diy.stacks import SUMMARY_KIND
from tests.cli.contract_helpers import make_backend
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


def test_history_versions_are_numbered_like_the_history_commands(backend: tuple[str, Path]) -> None:
    from pulumi_diy.history import list_versions

    url, home = backend
    target = _target(url, home)
    offered = dict(completion_sources.history_versions(target, "infra", "prod"))
    with open_backend(settings=resolve_settings(backend=url, environ={"HOME": str(home)}), use_cache=False) as b:
        listing = list_versions(b, b.resolve("infra/prod"))
    assert listing.versions and offered["latest"] == f"version {len(listing.versions)}"
    for v in listing.versions:
        assert str(v.version) in offered and offered[v.id].startswith(f"version {v.version}, ")


def test_history_ids_of_a_remote_backend_come_from_the_cache(tmp_path: Path) -> None:
    from pulumi_diy.history.entries import ENTRY_KIND

    assert completion_sources.HISTORY_ENTRY_KIND == ENTRY_KIND
    target = _target("s3://bucket/x", tmp_path)
    cache = Cache(str(tmp_path / "cache"), target.backend_id)
    cache.put_many(ENTRY_KIND, [(f".pulumi/history/infra/prod/prod-{n}.history.json", "fp", {})
                                for n in (1791108120092285142, 1791371040258409929)])
    cache.close()
    got = completion_sources.history_versions(target, "infra", "prod")
    assert [v for v, _ in got] == ["latest", "1791108120092285142", "1791371040258409929"]
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

    @app.command("move")
    def move(stack: StackArg, to: SecretsProviderOpt) -> None:
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
    assert versions == ["latest", "1", "2", "3"]
    assert len(_complete(f"{base} show infra/prod 17", monkeypatch)) == 3  # ids, once digits outgrow numbers
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
