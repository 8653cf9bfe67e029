"""Stores written by Pulumi CLIs of different ages, built from the upstream fixtures."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from tests.cli.helpers import run, run_json

FIXTURES = ["checkpoint-v0.json", "checkpoint-v1.json", "checkpoint-v3.json", "checkpoint-v4.json",
            "checkpoint-secrets.json"]


def _name(fixture: str) -> str:
    return fixture.removeprefix("checkpoint-").removesuffix(".json")


@pytest.fixture
def legacy_store(upstream: Path, tmp_path: Path) -> str:
    """A legacy-layout store (no meta.yaml) holding every upstream checkpoint fixture as a stack."""
    stacks = tmp_path / ".pulumi" / "stacks"
    stacks.mkdir(parents=True)
    for f in [*FIXTURES, "checkpoint-v4-unsupported-feature.json"]:
        shutil.copy(upstream / "pulumi" / "checkpoints" / f, stacks / f"{_name(f)}.json")
    return f"file://{tmp_path}"


def test_legacy_store_lists_every_version(legacy_store: str) -> None:
    rows = run_json(["-b", legacy_store, "--no-cache", "stack", "ls"])
    by = {r["name"]: r for r in rows}
    assert set(by) == {"v0", "v1", "v3", "v4", "secrets", "v4-unsupported-feature"}
    for name in ("v0", "v1", "v3", "v4", "secrets"):
        assert by[name]["resourceCount"] == 30 and by[name]["error"] is None, by[name]
        assert by[name]["project"] is None
    assert "refreshBeforeUpdate" not in (by["v4-unsupported-feature"]["error"] or "")
    assert "feature" in by["v4-unsupported-feature"]["error"]
    info = run_json(["-b", legacy_store, "--no-cache", "backend", "info"])
    assert info["layout"] == "legacy" and info["meta"]["present"] is False


@pytest.mark.parametrize("fixture", FIXTURES)
def test_show_resources_export_each_version(legacy_store: str, fixture: str) -> None:
    name = _name(fixture)
    show = run_json(["-b", legacy_store, "stack", "show", name])
    assert show["resourceCount"] == 30
    tree = run_json(["-b", legacy_store, "stack", "resources", name])
    assert tree["count"] == 30
    exported = run(["-b", legacy_store, "stack", "export", name])
    assert exported.exit_code == 0, exported.stderr
    doc = json.loads(exported.stdout)
    assert doc["version"] in (3, 4) and len(doc["deployment"]["resources"]) == 30
    assert "manifest" in doc["deployment"]  # v0/v1 are migrated to the V3 shape, as Pulumi exports them


def test_unsupported_feature_is_refused(legacy_store: str) -> None:
    result = run(["-b", legacy_store, "stack", "export", "v4-unsupported-feature"])
    assert result.exit_code == 6 and "feature" in result.stderr and result.stdout == ""


def test_v3_export_is_the_stored_deployment(legacy_store: str, upstream: Path) -> None:
    stored = json.loads((upstream / "pulumi" / "checkpoints" / "checkpoint-v3.json").read_text())
    exported = json.loads(run(["-b", legacy_store, "stack", "export", "v3"]).stdout)
    assert exported["deployment"]["resources"] == stored["checkpoint"]["latest"]["resources"]


def test_b64_secrets_show_without_passphrase(legacy_store: str) -> None:
    # The b64 "manager" needs no key, so --show-secrets works without a passphrase.
    shown = run(["-b", legacy_store, "stack", "export", "secrets", "--show-secrets"])
    assert shown.exit_code == 0, shown.stderr
    assert '"plaintext"' in shown.stdout and '"ciphertext"' not in shown.stdout


def test_project_store_with_mixed_ages_and_compression(upstream: Path, tmp_path: Path) -> None:
    src = upstream / "pulumi" / "checkpoints"
    stacks = tmp_path / ".pulumi" / "stacks"
    (stacks / "old").mkdir(parents=True)
    (stacks / "new").mkdir(parents=True)
    (tmp_path / ".pulumi" / "meta.yaml").write_text("version: 1\n")
    shutil.copy(src / "checkpoint-v3.json", stacks / "old" / "indented.json")  # pre-3.238 indented style
    compact = json.dumps(json.loads((src / "checkpoint-v3.json").read_text()), separators=(",", ":"))
    (stacks / "new" / "compact.json.gz").write_bytes(gzip.compress(compact.encode()))
    (stacks / "new" / "compact.json.gz.bak").write_bytes(b"{broken")  # never read: not a stack
    (stacks / "new" / "compact.pulumi-tags").write_text('{"version":1,"tags":{"a":"b"}}')
    (tmp_path / ".pulumi" / "stacks" / "legacy.json").write_text(compact)  # legacy file in a project store
    (tmp_path / ".pulumi" / "plugins").mkdir()  # `file://~` stores share .pulumi with the CLI's own files
    url = f"file://{tmp_path}"
    rows = run_json(["-b", url, "--no-cache", "stack", "ls"])
    assert [(r["name"], r["resourceCount"], r["compression"]) for r in rows] == [
        ("new/compact", 30, "gzip"), ("old/indented", 30, "none")]
    assert run_json(["-b", url, "stack", "ls", "--tag", "a=b"])[0]["name"] == "new/compact"
    info = run_json(["-b", url, "--no-cache", "backend", "info"])
    assert info["legacyFiles"] == [".pulumi/stacks/legacy.json"]
    assert run_json(["-b", url, "stack", "show", "old/indented"])["style"] == "indented"
    assert run_json(["-b", url, "stack", "show", "new/compact"])["style"] == "compact"


def test_newest_variant_wins(tmp_path: Path) -> None:
    import os

    stacks = tmp_path / ".pulumi" / "stacks" / "p"
    stacks.mkdir(parents=True)
    (tmp_path / ".pulumi" / "meta.yaml").write_text("version: 1\n")
    old = b'{"version":3,"checkpoint":{"stack":"organization/p/s","latest":{"manifest":{"time":"2020-01-01T00:00:00Z","magic":"","version":""},"resources":[],"metadata":{}}}}'  # noqa: E501
    new = old.replace(b"2020", b"2026")
    (stacks / "s.json").write_bytes(old)
    (stacks / "s.json.gz").write_bytes(gzip.compress(new))
    os.utime(stacks / "s.json", (1_000, 1_000))
    show = run_json(["-b", f"file://{tmp_path}", "stack", "show", "p/s"])
    assert show["key"].endswith("s.json.gz") and show["lastUpdate"].startswith("2026")
    os.utime(stacks / "s.json.gz", (500, 500))
    show = run_json(["-b", f"file://{tmp_path}", "stack", "show", "p/s"])
    assert show["key"].endswith("s.json") and show["lastUpdate"].startswith("2020")


def test_capitalised_keys_of_very_old_clis(tmp_path: Path) -> None:
    # Go's decoder matches struct fields case-insensitively; the oldest CLIs wrote "Latest", "URN"...
    stacks = tmp_path / ".pulumi" / "stacks"
    stacks.mkdir(parents=True)
    (stacks / "old.json").write_text(json.dumps({"version": 1, "Checkpoint": {"Target": "old", "Latest": {
        "Resources": [{"URN": "urn:pulumi:old::p::pulumi:pulumi:Stack::p-old", "Custom": False,
                       "Type": "pulumi:pulumi:Stack", "Outputs": {"x": 1}}]}}}))
    url = f"file://{tmp_path}"
    assert run_json(["-b", url, "--no-cache", "stack", "ls"])[0]["resourceCount"] == 1
    tree = run_json(["-b", url, "stack", "resources", "old"])
    assert tree["resources"][0]["urn"] == "urn:pulumi:old::p::pulumi:pulumi:Stack::p-old"


def test_integrity_problems_are_warnings(tmp_path: Path) -> None:
    stacks = tmp_path / ".pulumi" / "stacks" / "p"
    stacks.mkdir(parents=True)
    (tmp_path / ".pulumi" / "meta.yaml").write_text("version: 1\n")
    stack_urn = "urn:pulumi:s::p::pulumi:pulumi:Stack::p-s"
    child = {"urn": "urn:pulumi:s::p::aws:s3/bucket:Bucket::b", "custom": True, "id": "b",
             "type": "aws:s3/bucket:Bucket", "parent": "urn:pulumi:s::p::pulumi:pulumi:Stack::gone"}
    doc = {"version": 3, "checkpoint": {"stack": "organization/p/s", "latest": {
        "manifest": {"time": "2026-01-01T00:00:00Z", "magic": "bad", "version": "v3.259.0"},
        "resources": [{"urn": stack_urn, "custom": False, "type": "pulumi:pulumi:Stack"}, child], "metadata": {}}}}
    (stacks / "s.json").write_text(json.dumps(doc))
    url = f"file://{tmp_path}"
    show = run_json(["-b", url, "stack", "show", "p/s"])
    assert show["magicOk"] is False and any("gone" in p["message"] or p["urn"].endswith("::b")
                                           for p in show["integrity"])
    exported = run(["-b", url, "stack", "export", "p/s"])
    assert exported.exit_code == 0 and "warning: integrity" in exported.stderr
    assert json.loads(exported.stdout)["deployment"]["manifest"]["magic"] == "bad"
